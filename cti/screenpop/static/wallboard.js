// The wallboard (docs/metrics.md "Wallboard tiles"): one tile per queue and one for all queues, from the
// pushed queue and agent rows. Tiles and figures are built once and their text changed in place, so an
// update never flickers nor moves keyboard focus. "Full screen" (Fullscreen API) and the ?wallboard URL
// show the tiles alone, large, with no controls. Text only (textContent).
"use strict";
cti.wallboard = (() => {
  const { el, duration, t } = cti;
  const FIGURES = ["waiting", "longest", "available", "on_call", "paused", "sl", "abandon_rate", "answered", "abandoned"];
  const pct = (x) => (x === null || x === undefined ? "–" : `${(x * 100).toFixed(1)}%`);
  const ratio = (num, den) => (den > 0 ? num / den : null);
  const box = () => document.getElementById("wallboard-tiles");

  function tile(key, title) {
    const found = box().querySelector(`[data-queue="${CSS.escape(key)}"]`);
    if (found) return found;
    const figures = FIGURES.map((f) => el("div", { class: "wb-fig", dataset: { fig: f } },
      el("span", { class: "wb-value" }, "–"), el("span", { class: "wb-label" }, t(`wallboard.${f}`))));
    const made = el("section", { class: "wb-tile", dataset: { queue: key }, "aria-label": title },
      el("h3", { class: "wb-name" }, title), el("div", { class: "wb-figs" }, ...figures));
    return made;
  }

  function set(node, fig, text) {
    const v = node.querySelector(`[data-fig="${fig}"] .wb-value`);
    if (v.textContent !== text) v.textContent = text;
  }

  // a queue's row, or the totals: {waiting, oldest, agents: {state: n}, answered, abandoned, offered, within, short, threshold}
  function fill(node, f, now) {
    set(node, "waiting", String(f.waiting));
    set(node, "longest", f.oldest ? duration(now - f.oldest) : "–");
    set(node, "available", String(f.agents.available || 0));
    set(node, "on_call", String(f.agents.on_call || 0));
    set(node, "paused", String(f.agents.paused || 0));
    set(node, "sl", pct(ratio(f.within, f.offered - f.short)));
    set(node, "abandon_rate", pct(ratio(f.abandoned, f.offered)));
    set(node, "answered", String(f.answered));
    set(node, "abandoned", String(f.abandoned));
    node.dataset.waiting = String(f.waiting);
  }

  function figuresOf(q) {
    return { waiting: q.waiting, oldest: q.oldest_waiting_since, agents: q.agents || {}, answered: q.answered,
      abandoned: q.abandoned, offered: q.offered, within: q.answered_within, short: q.short_abandoned || 0 };
  }

  function update(queues, agents, now) {
    const rows = [...queues.values()].sort((a, b) => a.queue.localeCompare(b.queue));
    const total = { waiting: 0, oldest: null, agents: {}, answered: 0, abandoned: 0, offered: 0, within: 0, short: 0 };
    let before = box().firstElementChild;
    const keep = new Set();
    for (const q of rows) {
      const f = figuresOf(q);
      for (const k of ["waiting", "answered", "abandoned", "offered", "within", "short"]) total[k] += f[k] || 0;
      if (f.oldest && (total.oldest === null || f.oldest < total.oldest)) total.oldest = f.oldest;
      const node = tile(q.queue, q.queue);
      fill(node, f, now);
      keep.add(q.queue);
      if (node !== before) box().insertBefore(node, before); else before = before.nextElementSibling;
    }
    // the totals: each agent once, whatever the number of queues they serve
    for (const a of agents.values()) total.agents[a.state] = (total.agents[a.state] || 0) + 1;
    const all = tile("", t("wallboard.totals"));
    all.classList.add("wb-total");
    fill(all, total, now);
    keep.add("");
    if (all !== before) box().insertBefore(all, before);
    for (const node of [...box().children]) if (!keep.has(node.dataset.queue)) node.remove();
  }

  // ?wallboard, or full screen: the tiles alone, large
  const asked = new URLSearchParams(location.search).has("wallboard");
  function layout() {
    document.body.classList.toggle("wallboard-mode", asked || !!document.fullscreenElement);
  }
  document.getElementById("wallboard-fullscreen").addEventListener("click", async () => {
    document.body.classList.add("wallboard-mode");
    try { await document.documentElement.requestFullscreen(); } catch (e) { /* refused: the large layout still shows */ }
  });
  document.addEventListener("fullscreenchange", layout);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !asked) document.body.classList.remove("wallboard-mode"); });
  layout();

  return { update };
})();
