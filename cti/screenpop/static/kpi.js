// KPI targets on the supervisor's wallboard (docs/websocket-protocol.md `kpi_alert`): one tile per target
// and subject, coloured by its level (ok, warn, breach), and the latest alerts. A breach beeps (WebAudio)
// only if the supervisor ticked "allow sound". Every string goes through textContent, never innerHTML.
"use strict";
cti.kpi = (() => {
  const { el, clear } = cti;
  const tiles = new Map(); // target and subject -> its last alert
  let audio = null;
  const section = () => document.getElementById("kpi");
  const key = (a) => JSON.stringify([a.scope, a.name, a.metric, a.direction, a.threshold, a.subject]);
  const RATIOS = new Set(["service_level", "abandon_rate", "answer_rate"]);
  const fmt = (v, metric) => {
    if (v === null || v === undefined) return "–";
    return RATIOS.has(metric) ? cti.pct(v, 1) : cti.num(Math.round(v * 10) / 10);
  };

  function render() {
    const board = clear(document.getElementById("kpi-tiles"));
    for (const a of [...tiles.values()].sort((x, y) => key(x).localeCompare(key(y)))) {
      const sign = a.direction === "min" ? "≥" : "≤";
      board.append(el("div", { class: `tile ${a.level}`, dataset: { level: a.level, scope: a.scope, subject: a.subject, metric: a.metric } },
        el("div", { class: "tile-label" }, a.scope === "center" ? cti.t("kpi.center") : a.subject, " · ", cti.word("metric", a.metric)),
        el("div", { class: "tile-value" }, fmt(a.value, a.metric)),
        el("div", { class: "tile-target" }, cti.t("kpi.target", { sign, threshold: fmt(a.threshold, a.metric), warn: fmt(a.warn, a.metric) }))));
    }
    section().hidden = tiles.size === 0;
  }

  function beep() {
    if (!document.getElementById("kpi-sound").checked) return;
    try {
      audio = audio || new AudioContext();
      const osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.value = 0.1;
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.25);
      section().dataset.beeps = String(Number(section().dataset.beeps || 0) + 1);
    } catch (e) { /* no audio output: the colour still shows */ }
  }

  // ticking the box is the user gesture browsers want before they play sound
  document.getElementById("kpi-sound").addEventListener("change", (e) => {
    if (e.target.checked && !audio) { try { audio = new AudioContext(); } catch (err) { audio = null; } }
  });

  function alert(a) {
    tiles.set(key(a), a);
    render();
    const list = document.getElementById("kpi-alerts");
    list.prepend(el("li", { dataset: { level: a.level } }, el("time", {}, new Date(a.at * 1000).toLocaleTimeString(i18n.lang)), " ",
      cti.t("kpi.alert", { subject: a.scope === "center" ? cti.t("kpi.center") : a.subject, metric: cti.word("metric", a.metric),
        previous: cti.word("level", a.previous), level: cti.word("level", a.level), value: fmt(a.value, a.metric) })));
    while (list.children.length > 20) list.lastChild.remove();
    if (a.level === "breach") beep();
  }

  function reset(active) { // the snapshot: the targets not at ok
    tiles.clear();
    for (const a of active) tiles.set(key(a), a);
    render();
  }

  return { alert, reset };
})();
