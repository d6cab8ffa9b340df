// The supervisor console: queues and agents, live, from pushed deltas (no polling). Text only.
"use strict";
(() => {
  const { el, duration } = cti;
  const queues = new Map(); // name -> figures
  const agents = new Map(); // agent -> figures
  const calls = new Map(); // "server linkedid" -> {caller, number, queue, agent, state}
  const waitingCallers = new Map(); // "server uniqueid" -> {queue, number, name, since}
  const callKey = (server, lid) => `${server || ""} ${lid}`;
  let routing = null; // the router's board: {agents: [...], waiting: [...]}
  const spies = new Map(); // supervisor -> their listening session {agent, mode, state, since}
  let me = null; // this supervisor's user name
  const SPY_MODES = ["listen", "whisper", "barge"];
  const session = new cti.Session("supervisor", onMessage, cti.status);

  const pct = (x) => cti.pct(x, 1);

  // Rows are kept and updated in place (by key), never rebuilt: focus, selection and screen readers'
  // place survive every update. ``cells(item)`` gives each cell's text; ``make(item)`` builds a new row.
  function upsert(body, items, key, make, cells) {
    const seen = new Set();
    let before = body.firstElementChild;
    for (const item of items) {
      const k = key(item);
      seen.add(k);
      let row = body.querySelector(`tr[data-key="${CSS.escape(k)}"]`);
      if (!row) { row = make(item); row.dataset.key = k; }
      const texts = cells(item);
      texts.forEach((text, i) => {
        const cell = row.children[i];
        if (cell && cell.textContent !== text) cell.textContent = text;
      });
      if (row !== before) body.insertBefore(row, before);
      else before = before.nextElementSibling;
    }
    for (const row of [...body.children]) if (!seen.has(row.dataset.key)) row.remove();
  }

  function renderQueues() {
    cti.wallboard.update(queues, agents, session.now());
    const body = document.querySelector("#queues tbody");
    const rows = [...queues.values()].sort((a, b) => a.queue.localeCompare(b.queue));
    upsert(body, rows, (q) => q.queue,
      (q) => el("tr", { dataset: { queue: q.queue } },
        el("th", { scope: "row" }), el("td", { class: "waiting" }), el("td", { class: "longest" }),
        el("td", { class: "offered" }), el("td", { class: "answered" }), el("td", { class: "abandoned" }),
        el("td", { class: "sl" }), el("td", {}), el("td", {}), el("td", {})),
      (q) => {
        const longest = q.oldest_waiting_since ? session.now() - q.oldest_waiting_since : null;
        const states = Object.entries(q.agents || {}).map(([s, n]) => cti.t("supervisor.agents_in_state", { count: n, state: cti.word("state", s) })).join(", ");
        return [q.queue, String(q.waiting), longest === null ? "–" : duration(longest), String(q.offered),
          String(q.answered), String(q.abandoned), cti.t("supervisor.sl_within", { pct: pct(q.service_level), threshold: q.threshold }),
          q.avg_wait_answered === null ? "–" : duration(q.avg_wait_answered),
          q.avg_talk === null ? "–" : duration(q.avg_talk), states || "–"];
      });
  }

  function renderAgents() {
    const body = document.querySelector("#agents tbody");
    const rows = [...agents.values()].sort((x, y) => x.agent.localeCompare(y.agent));
    upsert(body, rows, (a) => a.agent,
      (a) => el("tr", { dataset: { agent: a.agent } },
        el("th", { scope: "row" }), el("td", { class: "state" }), el("td", { class: "in-state" }), el("td", { class: "reason" }),
        el("td", {}), el("td", {}), el("td", { class: "call-time" }),
        el("td", { class: "row-actions" },
          el("button", { type: "button", class: "small", "aria-label": cti.t("supervisor.ready_label", { agent: a.agent }),
            onclick: () => command({ type: "ready", agent: a.agent }, cti.t("supervisor.act.ready", { agent: a.agent })) }, cti.t("supervisor.ready")),
          el("button", { type: "button", class: "small secondary", "aria-label": cti.t("supervisor.pause_label", { agent: a.agent }),
            onclick: () => command({ type: "pause", agent: a.agent, reason: document.getElementById("pause-reason").value }, cti.t("supervisor.act.pause", { agent: a.agent })) }, cti.t("supervisor.pause")),
          el("button", { type: "button", class: "small secondary", "aria-label": cti.t("supervisor.logout_agent", { agent: a.agent }),
            onclick: () => command({ type: "logout", agent: a.agent }, cti.t("supervisor.logout_agent", { agent: a.agent })) }, cti.t("supervisor.logout")),
          ...SPY_MODES.map((mode) => el("button", { type: "button", class: "small secondary spy", dataset: { mode },
            "aria-pressed": "false", "aria-label": cti.t(`supervisor.${mode}_to`, { agent: a.agent }),
            onclick: () => command({ type: "spy", agent: a.agent, mode }, cti.t(`supervisor.${mode}_to`, { agent: a.agent })) },
          cti.t(`supervisor.${mode}`))),
          el("button", { type: "button", class: "small danger spy-stop", hidden: true,
            "aria-label": cti.t("supervisor.stop_to", { agent: a.agent }),
            onclick: () => command({ type: "spy", mode: "stop" }, cti.t("supervisor.stop_to", { agent: a.agent })) },
          cti.t("supervisor.stop")))),
      (a) => [a.agent, cti.word("state", a.state), duration(session.now() - a.since), cti.word("reason", a.reason),
        (a.queues || []).join(", "), String(a.answered), callTime(a.agent)]);
    const mine = me ? spies.get(me) : null;
    for (const row of body.children) {
      const a = agents.get(row.dataset.agent);
      if (a && row.dataset.state !== a.state) row.dataset.state = a.state;
      // my listening session on this agent: its mode's button pressed, and a Stop
      const on = mine && mine.agent === row.dataset.agent ? mine : null;
      for (const b of row.querySelectorAll("button.spy")) {
        const pressed = on && on.mode === b.dataset.mode ? "true" : "false";
        if (b.getAttribute("aria-pressed") !== pressed) b.setAttribute("aria-pressed", pressed);
      }
      const stop = row.querySelector("button.spy-stop");
      if (stop.hidden !== !on) stop.hidden = !on;
    }
  }

  // the agent's live call: how long it has been up (answered) and where it is (on hold, parked at a
  // space, in a consultation, in a conference), "" when not on one
  function callTime(agent) {
    for (const c of calls.values()) {
      if (c.agent !== agent) continue;
      if (c.state === "parked") return callState(c);
      if (c.answeredAt && LIVE_TALK.has(c.state)) {
        const where = c.consult || c.state === "held" ? ` · ${callState(c)}` : "";
        return duration(session.now() - c.answeredAt) + where;
      }
    }
    return "";
  }
  const LIVE_TALK = new Set(["answered", "resumed", "held"]);

  function renderSpies() {
    const list = document.getElementById("spies");
    const rows = [...spies.values()].sort((x, y) => x.supervisor.localeCompare(y.supervisor));
    const have = new Map([...list.children].map((li) => [li.dataset.supervisor, li]));
    for (const s of rows) {
      let li = have.get(s.supervisor);
      if (!li) { li = el("li", { dataset: { supervisor: s.supervisor } }); list.append(li); }
      have.delete(s.supervisor);
      const text = cti.t(s.state === "calling" ? "supervisor.spy_calling" : "supervisor.spy_row",
        { supervisor: s.supervisor, agent: s.agent, mode: cti.t(`supervisor.mode_${s.mode}`), since: duration(session.now() - s.since) });
      if (li.textContent !== text) li.textContent = text;
      li.dataset.mode = s.mode; li.dataset.agent = s.agent; li.dataset.state = s.state;
    }
    for (const li of have.values()) li.remove();
    document.getElementById("no-spies").hidden = spies.size > 0;
  }

  function spyUpdate(msg) {
    if (msg.state === "ended") spies.delete(msg.supervisor); else spies.set(msg.supervisor, msg);
    renderSpies(); renderAgents();
  }

  async function command(cmd, label) {
    const out = document.getElementById("action-result");
    out.textContent = cti.t("common.working", { label });
    const reply = await session.send(cmd);
    out.textContent = reply.type === "error" ? cti.t("common.failed", { label, error: cti.error(reply) }) : cti.t("common.done", { label });
    out.className = reply.type === "error" ? "error" : "muted";
  }

  const callWords = { ringing: cti.t("call.ringing"), answered: cti.t("call.talking"), resumed: cti.t("call.talking"), held: cti.t("call.held"), transferred: cti.t("call.transferred") };
  // a call's state in words: a consultation or a conference first (the customer is on hold meanwhile)
  function callState(c) {
    if (c.consult === "consulting") return cti.t("supervisor.call.consulting", { target: c.consultTarget || "?" });
    if (c.consult === "conference") return cti.t("supervisor.call.conference");
    if (c.state === "parked") return cti.t("supervisor.call.parked", { space: c.space || "?" });
    if (c.state === "held") return c.heldSince ? cti.t("supervisor.call.held_for", { time: duration(session.now() - c.heldSince) }) : cti.t("call.held");
    return callWords[c.state] || c.state;
  }

  // ---- parked calls (docs/design/hold-and-park.md): the space, the caller, since when ----
  const parkedCalls = new Map(); // "server linkedid" -> {space, name, number, since}

  function renderParked() {
    const body = document.querySelector("#parked tbody");
    const rows = [...parkedCalls.values()].sort((a, b) => a.since - b.since);
    upsert(body, rows, (r) => callKey(r.server, r.linkedid),
      (r) => el("tr", { dataset: { linkedid: r.linkedid, space: String(r.space) } }, el("th", { scope: "row" }), el("td", {}), el("td", { class: "since" })),
      (r) => [String(r.space), [r.name, r.number].filter(Boolean).join(" ") || cti.t("agent.parked.unknown"), duration(session.now() - r.since)]);
    document.getElementById("no-parked").hidden = parkedCalls.size > 0;
    document.getElementById("parked-wrap").hidden = parkedCalls.size === 0;
  }

  function parkedUpdate(msg) {
    const k = callKey(msg.server, msg.linkedid);
    if (msg.event === "parked") parkedCalls.set(k, msg); else parkedCalls.delete(k);
    renderParked();
  }

  function consultUpdate(msg) {
    const c = calls.get(callKey(msg.server, msg.linkedid));
    if (!c) return;
    const on = msg.state === "consulting" || msg.state === "answered" ? "consulting" : msg.state === "conference" ? "conference" : null;
    c.consult = on; c.consultTarget = msg.target || "";
    renderCalls(); renderAgents();
  }
  // ---- end parked calls ----

  // ---- the inbound disposition codes (issue #12): listed, added or replaced, removed; every agent's
  // open card follows (the server pushes the list) ----
  let codes = [];
  function renderCodes() {
    const body = document.querySelector("#codes tbody");
    upsert(body, codes, (d) => d.code,
      (d) => el("tr", { dataset: { code: d.code } }, el("th", { scope: "row" }), el("td", {}), el("td", {}), el("td", {}), el("td", {}),
        el("td", {}, el("button", { type: "button", class: "small danger", "aria-label": cti.t("supervisor.codes.remove_label", { code: d.code }),
          onclick: () => codeCommand({ type: "dispositions", op: "remove", code: d.code }, cti.t("supervisor.codes.remove_label", { code: d.code })) },
        cti.t("supervisor.codes.remove")))),
      (d) => [d.code, d.label || "–", cti.t(`supervisor.codes.outcome_${d.outcome}`), d.queues.join(", ") || cti.t("supervisor.codes.all_queues"),
        d.callback ? cti.t("supervisor.codes.callback_yes") : "–"]);
    document.getElementById("no-codes").hidden = codes.length > 0;
  }
  async function codeCommand(cmd, label) {
    const out = document.getElementById("codes-result");
    const reply = await session.send(cmd);
    out.textContent = reply.type === "error" ? cti.t("common.failed", { label, error: cti.error(reply) }) : cti.t("common.done", { label });
    out.className = reply.type === "error" ? "error" : "muted";
    return reply;
  }
  document.getElementById("code-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = e.target;
    const queues = f.queues.value.split(",").map((q) => q.trim()).filter(Boolean);
    const cmd = { type: "dispositions", op: "add", code: f.code.value.trim(), label: f.label.value.trim(), outcome: f.outcome.value, queues, callback: f.callback.checked };
    const r = await codeCommand(cmd, cti.t("supervisor.codes.save_label", { code: cmd.code }));
    if (r.type === "result") f.reset();
  });
  // ---- end disposition codes ----

  function renderCalls() {
    const body = document.querySelector("#calls tbody");
    upsert(body, [...calls.entries()], ([k]) => k,
      ([, c]) => el("tr", { dataset: { linkedid: c.linkedid } }, el("td", {}), el("td", {}), el("td", {}), el("td", {}), el("td", { class: "state" })),
      ([, c]) => [c.caller || cti.t("common.no_name"), c.number || "", c.queue || "–", c.agent || "–", callState(c)]);
    for (const row of body.children) { // the state for styles and tests: held, parked, consulting, conference
      const c = calls.get(row.dataset.key);
      const state = c ? c.consult || c.state : "";
      if (row.dataset.state !== state) row.dataset.state = state;
    }
    document.getElementById("no-calls").hidden = calls.size > 0;
    document.getElementById("calls-wrap").hidden = calls.size === 0;
  }

  function renderWaitingCallers() {
    const body = document.querySelector("#callers tbody");
    const rows = [...waitingCallers.values()].sort((a, b) => a.since - b.since);
    upsert(body, rows, (w) => `${w.server} ${w.uniqueid}`,
      (w) => el("tr", { dataset: { linkedid: w.linkedid } }, el("td", {}), el("td", {}), el("td", {}), el("td", { class: "wait" })),
      (w) => [w.queue, w.name || cti.t("common.no_name"), w.number || "", duration(session.now() - w.since)]);
    document.getElementById("no-callers").hidden = waitingCallers.size > 0;
    document.getElementById("callers-wrap").hidden = waitingCallers.size === 0;
  }

  const skillText = (skills) => Object.entries(skills || {}).map(([k, v]) => `${k}:${v}`).join(", ");

  function renderRouting() {
    if (!routing) return;
    document.getElementById("routing").hidden = false;
    upsert(document.querySelector("#waiting tbody"), routing.waiting, (w) => String(w.call),
      (w) => el("tr", { dataset: { call: w.call } }, ...Array.from({ length: 8 }, (_, i) => el("td", i === 3 ? { class: "wait" } : {}))),
      (w) => [String(w.position), w.queue, w.number || "–", duration(session.now() - w.entered), String(w.priority),
        w.needs.join(", ") || "–", w.step ? cti.t("supervisor.step", { step: w.step }) : "–", w.agent ? cti.t("supervisor.routing_status_agent", { status: cti.word("routing", w.status), agent: w.agent }) : cti.word("routing", w.status)]);
    upsert(document.querySelector("#skills tbody"), routing.agents, (a) => a.agent,
      (a) => el("tr", { dataset: { agent: a.agent } }, el("th", { scope: "row" }), el("td", {}), el("td", { class: "skills" }), el("td", {}), el("td", {})),
      (a) => [a.agent, a.reason ? cti.t("agent.state_reason", { state: cti.word("state", a.state), reason: cti.word("reason", a.reason) }) : cti.word("state", a.state), skillText(a.skills) || "–",
        a.reserved_for || "–", String(a.misses)]);
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
    out.textContent = reply.type === "error" ? cti.error(reply) : cti.t("supervisor.skills_saved", { agent, skills: skillText(reply.skills) });
    out.className = reply.type === "error" ? "error" : "muted";
  });

  function note(text) {
    const list = document.getElementById("events");
    list.prepend(el("li", {}, el("time", {}, new Date().toLocaleTimeString(i18n.lang)), " ", text));
    while (list.children.length > 50) list.lastChild.remove();
  }

  function onMessage(msg) {
    switch (msg.type) {
      case "welcome":
        document.getElementById("who").textContent = `${msg.username} (${cti.word("role", msg.role)})`;
        me = msg.username;
        // an agent's token: this page has nothing to show them, and says why
        document.getElementById("not-supervisor").hidden = msg.role === "supervisor";
        document.getElementById("board").hidden = msg.role !== "supervisor";
        break;
      case "snapshot": // the present state replaces whatever this page showed
        queues.clear(); agents.clear(); calls.clear(); waitingCallers.clear();
        for (const q of msg.queues) queues.set(q.queue, q);
        for (const a of msg.agents) agents.set(a.agent, a);
        for (const c of msg.calls) {
          // one row per call (a ringall offers it to several agents): the answering agent's, if any
          const k = callKey(c.call.server, c.call.linkedid);
          const agent = c.answered_by || (calls.has(k) ? calls.get(k).agent : c.agent);
          calls.set(k, { linkedid: c.call.linkedid, caller: c.caller.name, number: c.caller.number, queue: c.call.queue, agent,
            state: c.state || "ringing", answeredAt: c.answered_at || null, heldSince: c.held_since || null });
        }
        parkedCalls.clear();
        for (const r of msg.parked || []) {
          parkedCalls.set(callKey(r.server, r.linkedid), r);
          const c = calls.get(callKey(r.server, r.linkedid));
          if (c) { c.state = "parked"; c.space = r.space; }
        }
        codes = msg.dispositions || [];
        renderParked(); renderCodes();
        for (const w of msg.waiting || []) waitingCallers.set(`${w.server} ${w.uniqueid}`, w);
        routing = msg.routing || null;
        spies.clear();
        for (const sp of msg.spies || []) spies.set(sp.supervisor, sp);
        renderQueues(); renderAgents(); renderCalls(); renderRouting(); renderWaitingCallers(); renderSpies();
        cti.kpi.reset(msg.kpi || []);
        break;
      case "kpi_alert": cti.kpi.alert(msg); break;
      case "routing": routing = msg; renderRouting(); break;
      case "queue": queues.set(msg.queue, msg); renderQueues(); break;
      case "agent_state": agents.set(msg.agent, msg); renderAgents(); cti.wallboard.update(queues, agents, session.now()); break;
      case "spy": spyUpdate(msg); break;
      case "parked": parkedUpdate(msg); break;
      case "consult": consultUpdate(msg); break;
      case "dispositions": codes = msg.dispositions || []; renderCodes(); break;
      case "screenpop": {
        const k = callKey(msg.call.server, msg.call.linkedid);
        const known = calls.get(k);
        if (known && known.state !== "ringing") break; // a late pop never turns a call back to ringing
        calls.set(k, { linkedid: msg.call.linkedid, caller: msg.caller.name, number: msg.caller.number, queue: msg.call.queue,
          agent: known ? `${known.agent}, ${msg.agent}` : msg.agent, state: "ringing" });
        renderCalls();
        break;
      }
      case "call": {
        const k = callKey(msg.server, msg.linkedid);
        const c = calls.get(k);
        if (msg.event === "ended") calls.delete(k);
        else if (c && msg.event !== "missed") {
          c.state = msg.event;
          if (msg.event === "held") c.heldSince = typeof msg.at === "number" ? msg.at : session.now();
          if (msg.event === "parked") c.space = msg.space;
          if (msg.event === "resumed" || msg.event === "answered") { c.consult = null; c.heldSince = null; }
          if (msg.event === "answered") { if (msg.agent) c.agent = msg.agent; c.answeredAt = typeof msg.at === "number" ? msg.at : session.now(); }
        }
        renderCalls(); renderAgents();
        break;
      }
      case "waiting":
        if (msg.event === "joined") waitingCallers.set(`${msg.server} ${msg.uniqueid}`, msg);
        else waitingCallers.delete(`${msg.server} ${msg.uniqueid}`);
        renderWaitingCallers();
        break;
      case "notice": note(`${msg.server}: ${msg.detail}`); break;
      case "logged_out":
        document.getElementById("app").hidden = true;
        document.getElementById("login").hidden = false;
        document.getElementById("login-main").hidden = false;
        break;
      default: break;
    }
  }

  setInterval(() => { renderQueues(); renderAgents(); renderRouting(); renderWaitingCallers(); renderSpies(); renderCalls(); renderParked(); }, 1000); // ticks the clocks; the figures are pushed
  cti.loginFlow(session, () => {});
})();
