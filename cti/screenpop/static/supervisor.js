// The supervisor console: queues and agents, live, from pushed deltas (no polling). Text only.
"use strict";
(() => {
  const { el, clear, duration } = cti;
  const queues = new Map(); // name -> figures
  const agents = new Map(); // agent -> figures
  const calls = new Map(); // linkedid -> {caller, number, queue, agent, state}
  let routing = null; // the router's board: {agents: [...], waiting: [...]}
  const session = new cti.Session("supervisor", onMessage, cti.status);

  const pct = (x) => (x === null || x === undefined ? "–" : `${(x * 100).toFixed(1)}%`);

  function renderQueues() {
    const body = clear(document.querySelector("#queues tbody"));
    for (const q of [...queues.values()].sort((a, b) => a.queue.localeCompare(b.queue))) {
      const longest = q.oldest_waiting_since ? session.now() - q.oldest_waiting_since : null;
      const states = Object.entries(q.agents || {}).map(([s, n]) => `${n} ${s.replace("_", " ")}`).join(", ");
      body.append(el("tr", { dataset: { queue: q.queue } },
        el("th", {}, q.queue), el("td", { class: "waiting" }, String(q.waiting)),
        el("td", { class: "longest" }, longest === null ? "–" : duration(longest)),
        el("td", { class: "offered" }, String(q.offered)), el("td", { class: "answered" }, String(q.answered)),
        el("td", { class: "abandoned" }, String(q.abandoned)),
        el("td", { class: "sl" }, `${pct(q.service_level)} in ${q.threshold}s`),
        el("td", {}, q.avg_wait_answered === null ? "–" : duration(q.avg_wait_answered)), el("td", {}, q.avg_talk === null ? "–" : duration(q.avg_talk)),
        el("td", {}, states || "–")));
    }
  }

  function renderAgents() {
    const body = clear(document.querySelector("#agents tbody"));
    for (const a of [...agents.values()].sort((x, y) => x.agent.localeCompare(y.agent))) {
      body.append(el("tr", { dataset: { agent: a.agent, state: a.state } },
        el("th", {}, a.agent), el("td", { class: "state" }, a.state.replace("_", " ")),
        el("td", {}, duration(session.now() - a.since)), el("td", {}, a.reason || ""),
        el("td", {}, (a.queues || []).join(", ")), el("td", {}, String(a.answered)),
        el("td", {},
          el("button", { type: "button", class: "small", onclick: () => session.send({ type: "ready", agent: a.agent }) }, "ready"),
          el("button", { type: "button", class: "small secondary", onclick: () => session.send({ type: "pause", agent: a.agent, reason: "supervisor" }) }, "pause"))));
    }
  }

  function renderCalls() {
    const body = clear(document.querySelector("#calls tbody"));
    for (const [lid, c] of calls) {
      body.append(el("tr", { dataset: { linkedid: lid } },
        el("td", {}, c.caller || "(no name)"), el("td", {}, c.number || ""), el("td", {}, c.queue || "–"),
        el("td", {}, c.agent || "–"), el("td", {}, c.state)));
    }
  }

  const skillText = (skills) => Object.entries(skills || {}).map(([k, v]) => `${k}:${v}`).join(", ");

  function renderRouting() {
    if (!routing) return;
    document.getElementById("routing").hidden = false;
    const waiting = clear(document.querySelector("#waiting tbody"));
    for (const w of routing.waiting) {
      waiting.append(el("tr", { dataset: { call: w.call, status: w.status } },
        el("td", {}, String(w.position)), el("td", {}, w.queue), el("td", {}, w.number || "–"),
        el("td", { class: "wait" }, duration(session.now() - w.entered)), el("td", {}, String(w.priority)),
        el("td", {}, w.needs.join(", ") || "–"), el("td", {}, w.step ? `step ${w.step}` : "–"),
        el("td", {}, w.agent ? `${w.status} ${w.agent}` : w.status)));
    }
    const body = clear(document.querySelector("#skills tbody"));
    for (const a of routing.agents) {
      body.append(el("tr", { dataset: { agent: a.agent, state: a.state } },
        el("th", {}, a.agent), el("td", {}, a.state.replace("_", " ") + (a.reason ? ` (${a.reason})` : "")),
        el("td", { class: "skills" }, skillText(a.skills) || "–"), el("td", {}, a.reserved_for || "–"),
        el("td", {}, String(a.misses))));
    }
    // the agent picker keeps its selection and focus: options are only added, never rebuilt
    const select = document.getElementById("skill-agent");
    const have = new Set([...select.options].map((o) => o.value));
    for (const a of routing.agents) if (!have.has(a.agent)) select.append(el("option", { value: a.agent }, a.agent));
  }

  function parseSkills(text) {
    const out = {};
    for (const part of text.split(",").map((x) => x.trim()).filter(Boolean)) {
      const [name, level] = part.split(":").map((x) => x.trim());
      out[name] = level === undefined ? 1 : Number(level);
    }
    return out;
  }

  document.getElementById("skill-agent").addEventListener("change", (e) => {
    const a = routing && routing.agents.find((x) => x.agent === e.target.value);
    document.getElementById("skill-text").value = a ? skillText(a.skills) : "";
  });
  document.getElementById("skill-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const agent = document.getElementById("skill-agent").value;
    const out = document.getElementById("skill-result");
    const reply = await session.send({ type: "set_skills", agent, skills: parseSkills(document.getElementById("skill-text").value) });
    out.textContent = reply.type === "error" ? reply.message : `saved: ${agent} ${skillText(reply.skills)}`;
    out.className = reply.type === "error" ? "error" : "muted";
  });

  function note(text) {
    const list = document.getElementById("events");
    list.prepend(el("li", {}, el("time", {}, new Date().toLocaleTimeString()), " ", text));
    while (list.children.length > 50) list.lastChild.remove();
  }

  function onMessage(msg) {
    switch (msg.type) {
      case "welcome":
        document.getElementById("who").textContent = `${msg.username} (${msg.role})`;
        break;
      case "snapshot": // the present state replaces whatever this page showed
        queues.clear(); agents.clear(); calls.clear();
        for (const q of msg.queues) queues.set(q.queue, q);
        for (const a of msg.agents) agents.set(a.agent, a);
        for (const c of msg.calls) calls.set(c.call.linkedid, { caller: c.caller.name, number: c.caller.number, queue: c.call.queue, agent: c.agent, state: "ringing" });
        routing = msg.routing || null;
        renderQueues(); renderAgents(); renderCalls(); renderRouting();
        cti.kpi.reset(msg.kpi || []);
        break;
      case "kpi_alert": cti.kpi.alert(msg); break;
      case "routing": routing = msg; renderRouting(); break;
      case "queue": queues.set(msg.queue, msg); renderQueues(); break;
      case "agent_state": agents.set(msg.agent, msg); renderAgents(); break;
      case "screenpop":
        calls.set(msg.call.linkedid, { caller: msg.caller.name, number: msg.caller.number, queue: msg.call.queue, agent: msg.agent, state: "ringing" });
        renderCalls();
        break;
      case "call": {
        const c = calls.get(msg.linkedid);
        if (msg.event === "ended") calls.delete(msg.linkedid);
        else if (c) { c.state = msg.event; if (msg.event === "answered" && msg.agent) c.agent = msg.agent; }
        renderCalls();
        break;
      }
      case "notice": note(`${msg.server}: ${msg.detail}`); break;
      case "logged_out":
        document.getElementById("app").hidden = true;
        document.getElementById("login").hidden = false;
        break;
      default: break;
    }
  }

  setInterval(() => { renderQueues(); renderAgents(); renderRouting(); }, 1000); // ticks the clocks; the figures are pushed
  cti.loginFlow(session, () => {});
})();
