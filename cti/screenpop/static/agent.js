// The agent console: screen pops, call and state controls, disposition, callbacks, e-mail tasks. Text only (textContent).
"use strict";
(() => {
  const { el, duration } = cti;
  const pops = new Map(); // "server linkedid" -> {card, msg, stateLine, ...}: a Linkedid is unique per server only
  let me = null;
  let catalogue = []; // fulfilment documents ({id, name}) the agent may send from a disposition (branch mail)
  const callKey = (server, lid) => `${server || ""} ${lid}`;
  // caller_left: the customer hung up during a warm transfer; the agent and the colleague still talk
  const LIVE = new Set(["ringing", "answered", "held", "resumed", "caller_left"]);
  const stateWords = (event, msg) => ({
    ringing: cti.t("call.ringing"),
    answered: msg && msg.agent && me && msg.agent !== me.agent ? cti.t("call.answered_by", { agent: msg.agent }) : cti.t("call.answered"),
    held: cti.t("call.held"), resumed: cti.t("call.talking"), transferred: cti.t("call.transferred_to", { target: (msg && msg.target) || cti.t("call.another_line") }),
    ended: cti.t("call.ended"), missed: cti.t("call.missed"),
    parked: cti.t("agent.call.parked", { space: (msg && msg.space) || "?" }),
    left: cti.t("agent.left_call"), caller_left: cti.t("agent.caller_left"),
  })[event] || event;
  const TALKING = new Set(["answered", "resumed", "held"]); // hold, resume and park need the agent's leg

  const session = new cti.Session("agent", onMessage, cti.status);

  function logEvent(text) {
    const list = document.getElementById("events");
    list.prepend(el("li", {}, el("time", {}, new Date().toLocaleTimeString(i18n.lang)), " ", text));
    while (list.children.length > 30) list.lastChild.remove();
  }

  async function act(command, label) {
    const out = document.getElementById("action-result");
    out.textContent = cti.t("common.working", { label });
    const reply = await session.send(command);
    out.textContent = reply.type === "error" ? cti.t("common.failed", { label, error: cti.error(reply) }) : cti.t("common.done", { label });
    out.className = reply.type === "error" ? "error" : "muted";
    return reply;
  }

  function setState(figures) {
    const badge = document.getElementById("state");
    badge.textContent = figures.reason ? cti.t("agent.state_reason", { state: cti.word("state", figures.state), reason: cti.word("reason", figures.reason) })
      : cti.word("state", figures.state);
    badge.dataset.state = figures.state;
  }

  function customerCard(c) {
    const complaints = c.open_complaints || c.complaints || [];
    const history = c.interactions || [];
    const dnc = c.do_not_call === true || c.dnc === true;
    return el("article", { class: "customer" },
      el("h4", {}, c.name || c.full_name || cti.t("agent.customer"), " ",
        c.tier ? el("span", { class: `tier tier-${String(c.tier).toLowerCase()}` }, cti.t("agent.tier", { tier: c.tier })) : null,
        c.at_risk ? el("span", { class: "at-risk" }, cti.t("agent.at_risk")) : null,
        dnc ? el("span", { class: "dnc" }, cti.t("agent.dnc")) : null),
      el("dl", {},
        c.company ? [el("dt", {}, cti.t("agent.company")), el("dd", { class: "company" }, c.company)] : null,
        c.owner ? [el("dt", {}, cti.t("agent.owner")), el("dd", {}, c.owner)] : null,
        c.notes ? [el("dt", {}, cti.t("agent.notes")), el("dd", { class: "customer-notes" }, c.notes)] : null,
        c.id !== undefined ? [el("dt", {}, cti.t("agent.customer")), el("dd", {}, String(c.id))] : null,
        c.email ? [el("dt", {}, cti.t("agent.email")), el("dd", {}, c.email)] : null),
      complaints.length ? el("div", { class: "complaints" },
        el("h5", {}, cti.t("agent.open_complaints", { count: complaints.length })),
        el("ul", {}, complaints.map((t) => el("li", {},
          t.priority ? el("span", { class: "priority" }, `${t.priority} · `) : null,
          t.subject || t.title || t.summary || JSON.stringify(t))))) : null,
      history.length ? el("div", { class: "history" },
        el("h5", {}, cti.t("agent.last_interactions")),
        el("ul", {}, history.map((h) => el("li", {},
          h.at || h.started_at ? el("time", {}, new Date((h.at || h.started_at) * 1000).toLocaleString(i18n.lang)) : null, " ",
          [h.kind || h.direction, h.outcome, h.agent, h.disposition, h.notes].filter(Boolean).join(" · "))))) : null,
      contactHistory(c.contacts || []));
  }

  // e-mails, replies and documents sent, as the store keeps them (branch mail): text only
  function contactHistory(contacts) {
    if (!contacts.length) return null;
    return el("div", { class: "contacts" },
      el("h5", {}, cti.t("agent.contacts")),
      el("ul", {}, contacts.map((h) => el("li", { dataset: { kind: h.kind } },
        h.at ? el("time", {}, new Date(h.at * 1000).toLocaleString(i18n.lang)) : null, " ",
        [h.kind, h.subject, h.status, h.agent, h.detail].filter(Boolean).join(" · ")))));
  }

  function documentPicker(customers) {
    const withEmail = customers.filter((c) => c.email && c.id !== undefined);
    if (!catalogue.length || !withEmail.length) return null;
    const docs = el("select", { name: "documents", multiple: true, size: Math.min(4, catalogue.length), "aria-label": cti.t("agent.documents_label") },
      catalogue.map((d) => el("option", { value: String(d.id) }, d.name)));
    const to = el("select", { name: "documents_to", "aria-label": cti.t("agent.documents_to_label") },
      withEmail.map((c) => el("option", { value: String(c.id) }, cti.t("agent.documents_to", { name: c.name || cti.t("agent.a_customer"), email: c.email }))));
    const box = el("label", { class: "inline documents" }, cti.t("agent.send_documents"), " ", docs, to);
    box.picked = () => ({ customer: Number(to.value), documents: [...docs.selectedOptions].map((o) => Number(o.value)) });
    return box;
  }

  async function loadDocuments() {
    const reply = await session.send({ type: "documents" });
    catalogue = reply.type === "result" ? (reply.result?.documents || reply.documents || []) : [];
  }

  function popCard(msg) {
    const call = msg.call, caller = msg.caller;
    const lid = call.linkedid;
    const state = msg.state || "ringing"; // a snapshot says where the call is now
    const stateLine = el("p", { class: "call-state", role: "status" },
      stateWords(state, { agent: msg.answered_by }));
    const waitClock = el("span", { class: "wait" }, duration(call.waited_seconds));
    const talkClock = el("span", { class: "talk-timer", "aria-label": cti.t("agent.talk_time") }, "");
    const target = el("input", { name: "target", placeholder: cti.t("agent.transfer_placeholder"), "aria-label": cti.t("agent.transfer_target"),
      list: "transfer-targets", autocomplete: "off" });
    const kind = el("select", { name: "to", "aria-label": cti.t("agent.transfer_to") },
      el("option", { value: "agent" }, cti.t("agent.to.agent")), el("option", { value: "queue" }, cti.t("agent.to.queue")),
      el("option", { value: "number" }, cti.t("agent.to.number")));
    // a campaign call offers its campaign's codes (the dialer's lead event); others the store's list
    let codes = [];
    try { codes = msg.lead && msg.lead.dispositions ? JSON.parse(msg.lead.dispositions) : []; } catch (e) { codes = []; }
    const disposition = el("select", { name: "disposition", "aria-label": cti.t("agent.disposition") },
      codes.map((d) => el("option", { value: String(d.code) }, String(d.code))));
    const notes = el("textarea", { name: "notes", rows: 3, maxlength: 4000, placeholder: cti.t("agent.notes_placeholder"), "aria-label": cti.t("agent.notes_placeholder") });
    const callbackAt = el("input", { type: "datetime-local", name: "callback_at", "aria-label": cti.t("agent.callback_at_label") });
    const callbackFor = el("select", { name: "callback_for", "aria-label": cti.t("agent.callback_for") },
      el("option", { value: "me" }, cti.t("agent.for_me")), el("option", { value: "" }, cti.t("agent.for_anyone")));
    const callbackNeeded = el("span", { class: "callback-required", hidden: true }, cti.t("agent.callback_required"));
    const inbound = codes.length ? null : inboundCodes(disposition, call.queue, callbackAt, callbackNeeded);
    const customers = msg.customers || [];
    const picker = documentPicker(customers);
    // the header names whom the card below names: the caller ID's name, else the one customer's
    const named = caller.name || (customers.length === 1 ? customers[0].name : "") || cti.t("common.no_name");
    const consultBox = consultPanel(lid); // warm transfer and conference (cti.screenpop.consult)
    const warm = el("button", { type: "button", class: "warm-transfer", dataset: { shortcut: "Alt+W" }, "aria-keyshortcuts": "Alt+W",
      onclick: () => startConsult(consultBox, { type: "warm_transfer", linkedid: lid, to: kind.value, target: target.value.trim() }, cti.t("agent.warm_transfer")) },
      cti.t("agent.warm_transfer"));
    // a conference with the target of the same box, no consultation first (hidden while one is under way)
    const conf = el("button", { type: "button", class: "conference-start", dataset: { shortcut: "Alt+3" },
      onclick: () => {
        if (!target.value.trim()) { target.focus(); return; }
        startConsult(consultBox, { type: "conference", linkedid: lid, op: "start", to: kind.value, target: target.value.trim() }, cti.t("agent.conference_start"));
      } }, cti.t("agent.conference_start"));
    const key = callKey(call.server, lid);
    const hangup = el("button", { type: "button", class: "danger", dataset: { shortcut: "Alt+X" }, onclick: () => act({ type: "hangup", linkedid: lid }, cti.t("agent.act.hangup")) }, cti.t("agent.hangup"));
    const transfer = el("button", { type: "button", dataset: { shortcut: "Alt+T" }, onclick: () => {
      if (!target.value.trim()) { target.focus(); return; } // by keyboard: the shortcut first asks whom to
      act({ type: "transfer", linkedid: lid, to: kind.value, target: target.value.trim() }, cti.t("agent.act.transfer"));
    } }, cti.t("agent.transfer"));
    target.addEventListener("keydown", (ev) => { if (ev.key === "Enter" && target.value.trim()) { ev.preventDefault(); transfer.click(); } });
    // CTI hold (the caller hears music, the agent silence) and park (docs/design/hold-and-park.md)
    const holdClock = el("span", { class: "hold-timer", role: "timer", "aria-label": cti.t("agent.hold.timer") }, "");
    const hold = el("button", { type: "button", class: "hold", dataset: { shortcut: "Alt+H" }, onclick: () => {
      const p = pops.get(key);
      const on = !(p && p.state === "held");
      act({ type: on ? "hold" : "unhold", linkedid: lid }, on ? cti.t("agent.act.hold") : cti.t("agent.act.resume"));
    } }, cti.t("agent.hold"));
    const park = el("button", { type: "button", class: "park secondary", dataset: { shortcut: "Alt+K" },
      onclick: () => act({ type: "park", linkedid: lid }, cti.t("agent.act.park")) }, cti.t("agent.park"));
    const close = el("button", { type: "button", class: "secondary", dataset: { shortcut: "Alt+C" }, onclick: () => dismiss(key) }, cti.t("agent.close"));
    const card = el("article", { class: "card pop", dataset: { linkedid: lid, server: call.server || "", state } },
      el("header", {},
        el("h3", { class: "caller-name" }, named),
        el("span", { class: "caller-number" }, caller.number || cti.t("agent.no_number")),
        caller.normalized && caller.normalized !== caller.number ? el("span", { class: "muted" }, ` ${caller.normalized}`) : null),
      el("p", { class: "call-meta" },
        cti.t("agent.call_meta", { direction: cti.word("direction", call.direction), queue: call.queue || "–", did: call.did || "–" }), " ", waitClock, " ", talkClock, " ", holdClock),
      stateLine,
      msg.lookup === "unavailable" ? el("p", { class: "warn" }, cti.t("agent.lookup_unavailable")) : null,
      customers.length ? customers.map(customerCard) : el("p", { class: "muted" }, msg.lookup === "found" ? "" : cti.t("agent.unknown_caller")),
      msg.lead ? el("div", { class: "lead" }, el("h4", {}, cti.t("agent.lead")), el("pre", {}, JSON.stringify(msg.lead, null, 2))) : null,
      msg.script ? el("div", { class: "script" }, el("h4", {}, cti.t("agent.script")), el("p", {}, String(msg.script))) : null,
      el("div", { class: "call-controls" }, hangup, hold, park, kind, target, transfer, warm, conf),
      consultBox.box,
      el("form", { class: "disposition", onsubmit: async (ev) => {
          ev.preventDefault();
          const dm = { type: "disposition", linkedid: lid, disposition: disposition.value, notes: notes.value };
          if (callbackAt.value) dm.callback_at = new Date(callbackAt.value).getTime() / 1000;
          const r = await act(dm, cti.t("agent.act.disposition"));
          if (r.type === "result") { card.dataset.saved = "yes"; stateLine.textContent += cti.t("agent.disposition_saved"); }
          const pick = r.type === "result" && picker ? picker.picked() : null;
          if (pick && pick.documents.length) {
            const f = await act({ type: "fulfil", linkedid: lid, ...pick }, cti.t("agent.act.documents"));
            if (f.type === "result") stateLine.textContent += cti.t("agent.documents_queued");
          }
          if (r.type === "result" && r.lead_callback) {  // the lead's callback, to me
            stateLine.textContent += cti.t("agent.callback_scheduled"); refreshCallbacks();
          } else if (r.type === "result" && callbackAt.value && !codes.length) {
            const when = new Date(callbackAt.value).getTime() / 1000; // the browser's local time
            // a campaign call: the lead's number (the channel's caller ID is the campaign's own)
            const cb = { type: "schedule_callback", number: (msg.lead && msg.lead.leadnumber) || caller.number || "", at: when, note: notes.value };
            if (callbackFor.value === "") cb.for = "";
            const s = await act(cb, cti.t("agent.act.callback"));
            if (s.type === "result") { stateLine.textContent += cti.t("agent.callback_scheduled"); refreshCallbacks(); }
          }
        } },
        disposition, notes, picker,
        el("label", { class: "inline" }, cti.t("agent.callback_at"), " ", callbackAt, " ", callbackNeeded), callbackFor,
        el("button", { type: "submit", dataset: { shortcut: "Alt+S" } }, cti.t("agent.save_disposition")), close));
    const p = { card, stateLine, hangup, transfer, warm, conf, consultBox, kind, target, close, waitClock, talkClock, hold, park, holdClock,
      state, rangAt: msg.at, waited: call.waited_seconds || 0, answeredAt: msg.answered_at || null, endedAt: null,
      heldSince: state === "held" ? msg.held_since || null : null, inbound };
    controls(p);
    return p;
  }

  // ---- inbound disposition codes (issue #12): the store's list, those offered on the call's queue; a
  // code that requires a callback says so (the server refuses it without a time). Refilled in place when
  // a supervisor changes the list (the agent's choice is kept while it is still offered). ----
  let dispositionList = []; // [{code, label, outcome, queues, callback}], from the snapshot and pushes
  const codeLabel = (d) => d.label || cti.word("disposition", d.code);

  function inboundCodes(select, queue, callbackAt, needed) {
    const offered = () => dispositionList.filter((d) => !d.queues.length || d.queues.includes(queue || ""));
    const mark = () => {
      const d = dispositionList.find((x) => x.code === select.value);
      const must = Boolean(d && d.callback);
      needed.hidden = !must;
      callbackAt.setAttribute("aria-required", must ? "true" : "false");
    };
    const fill = () => {
      const chosen = select.value;
      select.replaceChildren(...offered().map((d) => el("option", { value: d.code, dataset: { callback: d.callback ? "yes" : "no" } }, codeLabel(d))));
      if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
      mark();
    };
    select.addEventListener("change", mark);
    fill();
    return { fill };
  }

  function dispositionsChanged(list) {
    dispositionList = list || [];
    for (const p of pops.values()) if (p.inbound) p.inbound.fill();
  }
  // ---- end inbound disposition codes ----

  // Hang up and Transfer only while the call is up; Close only once it is over (a live call is never lost)
  function controls(p) {
    const live = LIVE.has(p.state);
    const consulting = Boolean(p.consultBox && p.consultBox.state);
    for (const b of [p.hangup, p.transfer, p.kind, p.target]) b.disabled = !live || consulting;
    if (p.warm) p.warm.disabled = !live || consulting;
    if (p.conf) { p.conf.hidden = consulting; p.conf.disabled = !live; } // Alt+3: the panel's Conference meanwhile
    if (p.consultBox && !live) showConsult(p.consultBox, null);
    p.close.disabled = live;
    p.close.title = live ? cti.t("agent.close_title") : "";
    const talking = TALKING.has(p.state);
    p.hold.disabled = p.park.disabled = !talking;
    p.hold.textContent = p.state === "held" ? cti.t("agent.resume") : cti.t("agent.hold");
    p.hold.setAttribute("aria-pressed", p.state === "held" ? "true" : "false");
    if (p.state !== "held") p.holdClock.textContent = "";
  }

  // ---- warm transfer and conference (cti.screenpop.consult): "consulting <target>", then Complete,
  // Cancel or Conference; a conference lists its parties, with Leave and End. Text only. ----
  function consultPanel(lid) {
    const line = el("p", { class: "consult-state", role: "status" }, "");
    const parties = el("ul", { class: "conference-parties", "aria-label": cti.t("agent.conference_parties") });
    const button = (key, shortcut, command, cls) => el("button", {
      type: "button", class: cls || "", dataset: shortcut ? { shortcut } : {}, ...(shortcut ? { "aria-keyshortcuts": shortcut } : {}),
      onclick: () => consultStep(c, command, cti.t(key)) }, cti.t(key));
    const c = { lid, state: null, line, parties };
    const complete = button("agent.consult_complete", "Alt+Y", { type: "consult", linkedid: lid, op: "complete" });
    const cancel = button("agent.consult_cancel", "Alt+Q", { type: "consult", linkedid: lid, op: "cancel" }, "secondary");
    const conference = button("agent.consult_conference", "Alt+3", { type: "consult", linkedid: lid, op: "conference" });
    const leave = button("agent.conference_leave", "", { type: "conference", linkedid: lid, op: "leave" }, "secondary");
    const end = button("agent.conference_end", "", { type: "conference", linkedid: lid, op: "end" }, "danger");
    c.consultButtons = el("div", { class: "consult-controls" }, complete, cancel, conference);
    c.conferenceButtons = el("div", { class: "conference-controls" }, leave, end);
    c.box = el("section", { class: "consult", hidden: true, "aria-label": cti.t("agent.warm_transfer") },
      line, parties, c.consultButtons, c.conferenceButtons);
    return c;
  }

  function showConsult(c, view) {
    c.state = view ? view.state : null;
    c.box.hidden = !view;
    if (!view) return;
    c.target = view.target || c.target;
    const conference = view.state === "conference";
    c.consultButtons.hidden = conference;
    c.conferenceButtons.hidden = !conference;
    c.line.textContent = conference ? cti.t("agent.conference")
      : cti.t(view.answered ? "agent.consult_answered" : "agent.consulting", { target: c.target });
    c.parties.replaceChildren(...(conference ? (view.parties || []).map((n) => el("li", {}, String(n))) : []));
  }

  function refreshControls(lid) {
    for (const p of pops.values()) if (p.consultBox && p.consultBox.lid === lid) controls(p);
  }

  async function startConsult(c, command, label) {
    const reply = await act(command, label);
    if (reply.type === "result") { showConsult(c, reply.result || reply); refreshControls(c.lid); }
  }

  async function consultStep(c, command, label) {
    const reply = await act(command, label);
    if (reply.type !== "result") return;
    const view = reply.result || reply;
    if (view.state === "conference") showConsult(c, view);
    else if (view.state === "cancelling") c.line.textContent = cti.t("agent.consult_cancelling");
    else if (view.state === "completing") c.line.textContent = cti.t("agent.consult_completing");
    else if (view.state === "ending" || view.state === "left") c.line.textContent = cti.t("agent.conference_over");
  }

  function consultUpdate(msg) {
    for (const p of pops.values()) {
      const c = p.consultBox;
      if (!c || c.lid !== msg.linkedid) continue;
      if (msg.state === "answered") showConsult(c, msg);
      else {
        showConsult(c, null);
        logEvent(msg.state === "completed" ? cti.t("agent.consult_completed", { target: msg.target })
          : msg.state === "stranded" ? cti.t("agent.consult_stranded", { target: msg.target })
          : cti.t("agent.consult_over"));
      }
      controls(p);
    }
  }
  // ---- end warm transfer and conference ----

  function tick() {
    const now = session.now();
    for (const p of pops.values()) {
      if (p.state === "ringing" && p.rangAt) p.waitClock.textContent = duration(p.waited + now - p.rangAt);
      if (p.answeredAt) p.talkClock.textContent = cti.t("agent.talk", { time: duration((p.endedAt || now) - p.answeredAt) });
      if (p.state === "held" && p.heldSince) p.holdClock.textContent = cti.t("agent.hold.for", { time: duration(now - p.heldSince) });
    }
    for (const item of parked.values()) item.clock.textContent = duration(now - item.row.since);
  }

  function dismiss(key) {
    const p = pops.get(key);
    if (p) p.card.remove();
    pops.delete(key);
    document.getElementById("no-call").hidden = pops.size > 0;
  }

  function showPop(msg) {
    const key = callKey(msg.call.server, msg.call.linkedid);
    if (pops.has(key)) pops.get(key).card.remove();
    const p = popCard(msg);
    pops.set(key, { ...p, msg });
    if (msg.consult) { showConsult(p.consultBox, msg.consult); controls(p); } // a reload mid-consultation
    document.getElementById("pops").prepend(p.card);
    document.getElementById("no-call").hidden = true;
    tick();
    logEvent(cti.t("agent.event_ringing", { caller: callerText(msg.caller) }));
  }

  // who the call is with, in words: "Jane Roe (+14155550101)", the number alone, or "unknown caller"
  function callerText(caller) {
    const name = (caller && caller.name) || "", number = (caller && caller.number) || "";
    if (name && number) return `${name} (${number})`;
    return name || number || cti.t("agent.unknown_caller");
  }

  function callUpdate(msg) {
    const p = pops.get(callKey(msg.server, msg.linkedid));
    const text = stateWords(msg.event, msg);
    if (p) {
      p.stateLine.textContent = text;
      p.card.dataset.state = msg.event;
      if (msg.event !== "missed" || !p.answeredAt) p.state = msg.event;
      if (msg.event === "held") p.heldSince = typeof msg.at === "number" ? msg.at : session.now();
      if (msg.event !== "held") p.heldSince = null;
      if (msg.event === "answered") {
        p.answeredAt = typeof msg.at === "number" ? msg.at : session.now();
        if (typeof msg.waited_seconds === "number") p.waitClock.textContent = duration(msg.waited_seconds);
      }
      if (!LIVE.has(p.state)) p.endedAt = session.now();
      controls(p);
      tick();
    }
    logEvent(cti.t("agent.event_call", { caller: p ? callerText(p.msg.caller) : cti.t("agent.unknown_caller"), what: text }));
  }

  // ---- e-mail task card (issue #13, branch email2): text only, the sender's words never as HTML ----
  function showEmailTask(msg) {
    const box = document.getElementById("email-tasks");
    const old = box.querySelector(`article[data-task="${CSS.escape(String(msg.task))}"]`);
    if (old) old.remove();
    const status = el("p", { class: "muted", role: "status" });
    const reply = el("textarea", { name: "reply", rows: 6, maxlength: 100000, placeholder: cti.t("agent.reply_placeholder"), "aria-label": cti.t("agent.reply") });
    const disposition = el("select", { name: "email_disposition", "aria-label": cti.t("agent.email_disposition") },
      ["answered", "resolved", "follow-up", "spam", "duplicate", "answered by phone"].map((d) => el("option", { value: d }, cti.word("email_disposition", d))));
    const c = msg.customer;
    const history = (msg.history || []).map((h) => el("li", {},
      el("time", {}, new Date(h.received * 1000).toLocaleString(i18n.lang)), " ", `${h.subject} · ${cti.word("email_state", h.state)}`,
      h.reply ? el("pre", { class: "email-reply" }, h.reply) : null));
    const card = el("article", { class: "card email-task", dataset: { task: String(msg.task) } },
      el("header", {}, el("h3", { class: "email-subject" }, msg.subject || cti.t("agent.no_subject")),
        el("span", { class: "email-from" }, msg.from)),
      el("p", { class: "muted" }, cti.t("agent.email_times", { received: new Date(msg.received * 1000).toLocaleString(i18n.lang), due: new Date(msg.deadline * 1000).toLocaleString(i18n.lang) })),
      c ? el("div", { class: "customer" }, el("h4", {}, c.name), [c.company, cti.t("agent.tier", { tier: c.tier }), c.email].filter(Boolean).join(" · "))
        : el("p", { class: "muted" }, cti.t("agent.unknown_sender")),
      el("pre", { class: "email-body" }, msg.body),
      history.length ? el("div", {}, el("h4", {}, cti.t("agent.earlier_emails")), el("ol", {}, history)) : null,
      el("form", { class: "email-answer", onsubmit: async (ev) => {
          ev.preventDefault();
          const text = reply.value.trim();
          const cmd = text
            ? { type: "email_reply", task: msg.task, body: reply.value, disposition: disposition.value }
            : { type: "email_close", task: msg.task, disposition: disposition.value };
          const r = await act(cmd, text ? cti.t("agent.act.email_reply") : cti.t("agent.act.email_close"));
          if (r.type === "result") { card.remove(); document.getElementById("no-email").hidden = box.querySelector("article") !== null; }
          else status.textContent = cti.error(r);
        } },
        reply, disposition,
        el("button", { type: "submit" }, cti.t("agent.send_reply"))),
      status);
    box.prepend(card);
    document.getElementById("no-email").hidden = true;
    logEvent(cti.t("agent.event.email_from", { from: msg.from }));
  }
  // ---- /e-mail task card ----

  async function refreshCallbacks() {
    const reply = await session.send({ type: "callbacks" });
    const list = document.getElementById("callbacks");
    if (reply.type !== "result") return;
    list.replaceChildren(...reply.callbacks.map((c) => el("li", { dataset: { callback: String(c.id), status: c.status } },
      el("time", {}, new Date(c.due_at * 1000).toLocaleString(i18n.lang)), " ",
      [c.number, c.agent ? cti.t("agent.callback_for_agent", { agent: c.agent }) : cti.t("agent.for_anyone"), cti.word("callback_status", c.status), cti.word("outcome", c.outcome), c.note].filter(Boolean).join(" · "))));
    document.getElementById("no-callbacks").hidden = reply.callbacks.length > 0;
  }

  // ---- preview dialling (cti.delivery.dialer): a lead card with the script, Dial / Skip ----
  const previews = new Map(); // preview id -> card

  function showPreview(msg) {
    const id = msg.preview, lead = msg.lead;
    if (previews.has(id)) previews.get(id).remove();
    const out = el("p", { class: "preview-state", role: "status" }, "");
    const answer = async (type, label) => {
      for (const b of card.querySelectorAll("button")) b.disabled = true;
      const reply = await act({ type, preview: id }, label);
      if (reply.type === "error") {
        out.textContent = cti.error(reply);
        for (const b of card.querySelectorAll("button")) b.disabled = false;
      }
    };
    const card = el("article", { class: "card preview", dataset: { preview: id } },
      el("h3", {}, cti.t("agent.preview"), " ", el("span", { class: "lead-name" }, lead.name || cti.t("agent.a_lead"))),
      el("dl", {},
        el("dt", {}, cti.t("common.number")), el("dd", { class: "lead-number" }, lead.number),
        el("dt", {}, cti.t("agent.campaign")), el("dd", {}, msg.campaign)),
      el("p", { class: "script" }, msg.script || ""),
      el("div", { class: "actions" },
        el("button", { type: "button", "aria-label": cti.t("agent.dial_lead_label"), onclick: () => answer("preview_dial", cti.t("agent.act.dial_lead")) }, cti.t("agent.dial")),
        el("button", { type: "button", class: "secondary", "aria-label": cti.t("agent.skip_lead_label"), onclick: () => answer("preview_skip", cti.t("agent.act.skip_lead")) }, cti.t("agent.skip"))),
      out);
    previews.set(id, card);
    document.getElementById("previews").prepend(card);
    logEvent(cti.t("agent.event.preview", { lead: lead.name || lead.number }));
  }

  function previewOver(msg) {
    const card = previews.get(msg.preview);
    if (card) card.remove();
    previews.delete(msg.preview);
    logEvent(cti.t("agent.event.preview_over", { outcome: cti.word("outcome", msg.outcome) }));
  }
  // ---- end preview dialling ----

  // ---- parked calls (docs/design/hold-and-park.md): every agent sees them and may pick one up ----
  const parked = new Map(); // "server linkedid" -> {row, item, clock}

  function showParked(row) {
    const key = callKey(row.server, row.linkedid);
    if (parked.has(key)) parked.get(key).item.remove();
    const clock = el("span", { class: "parked-since" }, "");
    const who = [row.name, row.number].filter(Boolean).join(" ") || cti.t("agent.parked.unknown");
    const pickup = el("button", { type: "button", dataset: { shortcut: "Alt+U" },
      "aria-label": cti.t("agent.parked.pickup_label", { space: row.space }),
      onclick: () => act({ type: "pickup", linkedid: row.linkedid, server: row.server }, cti.t("agent.act.pickup")) },
      cti.t("agent.parked.pickup"));
    const item = el("li", { dataset: { linkedid: row.linkedid, space: String(row.space) } },
      el("strong", { class: "space" }, String(row.space)), " ", el("span", { class: "parked-caller" }, who), " ", clock, " ", pickup);
    parked.set(key, { row, item, clock });
    document.getElementById("parked").append(item);
    document.getElementById("no-parked").hidden = true;
    tick();
  }

  function parkedUpdate(msg) {
    if (msg.event === "parked") { showParked(msg); logEvent(cti.t("agent.parked.log", { space: msg.space })); return; }
    const key = callKey(msg.server, msg.linkedid);
    const known = parked.get(key);
    if (known) known.item.remove();
    parked.delete(key);
    document.getElementById("no-parked").hidden = parked.size > 0;
  }
  // ---- end parked calls ----

  function onMessage(msg) {
    switch (msg.type) {
      case "welcome":
        me = msg;
        document.getElementById("who").textContent = `${msg.username} (${msg.agent || cti.word("role", msg.role)})`;
        break;
      case "snapshot": // the present state replaces whatever this page showed
        // live calls come back from the snapshot; an ended call stays until closed (its disposition)
        for (const [key, p] of [...pops]) if (LIVE.has(p.state)) dismiss(key);
        for (const a of msg.agents) if (me && a.agent === me.agent) setState(a);
        if (msg.targets) { // transfer targets to pick from, not to type by heart
          const names = [...msg.targets.agents.filter((a) => !me || a !== me.agent), ...msg.targets.queues];
          document.getElementById("transfer-targets").replaceChildren(...names.map((n) => el("option", { value: n })));
        }
        dispositionsChanged(msg.dispositions); // before the cards: they offer its codes
        for (const c of msg.calls) showPop(c);
        for (const item of parked.values()) item.item.remove(); // parked calls (hold-and-park)
        parked.clear();
        for (const row of msg.parked || []) showParked(row);
        document.getElementById("no-parked").hidden = parked.size > 0;
        for (const t of document.querySelectorAll("#email-tasks article")) t.remove(); // e-mail (email2)
        for (const t of msg.email_tasks || []) showEmailTask(t);
        document.getElementById("no-email").hidden = (msg.email_tasks || []).length > 0;
        refreshCallbacks();
        loadDocuments();
        break;
      case "callbacks_changed": refreshCallbacks(); break;
      case "dispositions": dispositionsChanged(msg.dispositions); break; // a supervisor changed the list
      case "email_task": showEmailTask(msg); break; // e-mail channel (branch email2)
      case "screenpop": showPop(msg); break;
      case "call": callUpdate(msg); break;
      case "parked": parkedUpdate(msg); break; // parked calls (hold-and-park)
      case "consult": consultUpdate(msg); break; // warm transfer: answered, over, completed
      case "preview": showPreview(msg); break; // preview dialling
      case "preview_over": previewOver(msg); break; // preview dialling
      case "dial_result": logEvent(cti.t("agent.event.dial_result", { outcome: cti.word("outcome", msg.outcome) })); break;
      case "agent_state": if (!me || msg.agent === me.agent) setState(msg); break;
      case "error": if (msg.ref === undefined) logEvent(cti.t("agent.event.error", { error: cti.error(msg) })); break;
      case "logged_out":
        document.getElementById("app").hidden = true;
        document.getElementById("login").hidden = false;
        document.getElementById("login-main").hidden = false;
        break;
      default: break;
    }
  }

  function wire() {
    document.getElementById("ready").addEventListener("click", () => act({ type: "ready" }, cti.t("agent.act.ready")));
    document.getElementById("pause").addEventListener("click", () =>
      act({ type: "pause", reason: document.getElementById("pause-reason").value }, cti.t("agent.act.pause")));
    document.getElementById("logout").addEventListener("click", async () => {
      const r = await act({ type: "logout" }, cti.t("agent.act.logout"));
      if (r.type === "result" && r.static) { // queues.conf members cannot leave: paused instead
        document.getElementById("action-result").textContent = cti.t("agent.logout_static", { queues: r.static.join(", ") });
      }
    });
    document.getElementById("signout").addEventListener("click", () => { session.logoutLocal(); location.reload(); });
    const warning = document.getElementById("dnc-warning");
    document.getElementById("dial").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const number = ev.target.number.value.trim();
      warning.hidden = true;
      const reply = await act({ type: "dial", number }, cti.t("agent.act.call"));
      if (reply.type === "error" && reply.code === "do_not_call") {
        // the agent sees whom they are about to call against their wish, and decides
        document.getElementById("dnc-text").textContent = cti.error(reply);
        warning.dataset.number = number;
        warning.hidden = false;
        document.getElementById("dnc-cancel").focus();
      }
    });
    document.getElementById("dnc-dial").addEventListener("click", () => {
      warning.hidden = true;
      act({ type: "dial", number: warning.dataset.number, confirm: true }, cti.t("agent.act.call"));
    });
    document.getElementById("dnc-cancel").addEventListener("click", () => {
      warning.hidden = true;
      document.getElementById("action-result").textContent = cti.t("agent.dnc_cancelled");
    });
  }

  // ---- keyboard shortcuts: any element with data-shortcut="Alt+H" (several: "Alt+H Alt+J") is pressed by
  // that key while it is visible and enabled; the current call card's first (the newest live call), then
  // the rest of the page in its order. An input, select or textarea is focused instead. "?" lists them.
  const shortcuts = (() => {
    const FIELDS = new Set(["INPUT", "SELECT", "TEXTAREA"]);
    function keyOf(ev) {
      let k = ev.key;
      if (/^Key[A-Z]$/.test(ev.code)) k = ev.code.slice(3); // Alt+H on a Mac types "˙": the key is H
      else if (/^Digit[0-9]$/.test(ev.code)) k = ev.code.slice(5);
      else if (k.length === 1) k = k.toUpperCase();
      const mods = [ev.ctrlKey && "Ctrl", ev.altKey && "Alt", ev.metaKey && "Meta", ev.shiftKey && k.length > 1 && "Shift"];
      return [...mods.filter(Boolean), k].join("+");
    }
    const usable = (node) => !node.disabled && !node.closest("[hidden]") && node.getClientRects().length > 0;
    function current() {
      return [...pops.values()].find((p) => LIVE.has(p.state))?.card || null;
    }
    function candidates(combo) {
      const all = [...document.querySelectorAll("[data-shortcut]")]
        .filter((n) => n.dataset.shortcut.split(/\s+/).includes(combo) && usable(n));
      const card = current();
      return card ? [...all.filter((n) => card.contains(n)), ...all.filter((n) => !card.contains(n))] : all;
    }
    function mark(root) {
      for (const node of (root || document).querySelectorAll("[data-shortcut]")) {
        const keys = node.dataset.shortcut;
        if (node.getAttribute("aria-keyshortcuts") === keys) continue;
        node.setAttribute("aria-keyshortcuts", keys);
        node.title = node.title ? `${node.title} (${keys})` : keys;
      }
    }
    function help() {
      const box = document.getElementById("shortcut-help");
      if (!box.hidden) { box.hidden = true; return; }
      const seen = new Map();
      for (const node of document.querySelectorAll("[data-shortcut]")) {
        if (!usable(node) && !node.closest(".pop")) continue;
        const label = node.getAttribute("aria-label") || node.textContent.trim() || node.getAttribute("placeholder") || "";
        for (const combo of node.dataset.shortcut.split(/\s+/)) if (!seen.has(combo)) seen.set(combo, label);
      }
      seen.set("?", cti.t("agent.shortcuts.help"));
      document.getElementById("shortcut-list").replaceChildren(...[...seen].map(([combo, label]) =>
        [el("dt", {}, el("kbd", {}, combo)), el("dd", {}, label)]).flat());
      box.hidden = false;
      document.getElementById("shortcut-close").focus();
    }
    function onKey(ev) {
      if (ev.defaultPrevented || ev.repeat) return;
      const inField = FIELDS.has(document.activeElement?.tagName);
      if (ev.key === "?" && !inField && !ev.altKey && !ev.ctrlKey && !ev.metaKey) { ev.preventDefault(); help(); return; }
      if (ev.key === "Escape") { const box = document.getElementById("shortcut-help"); if (!box.hidden) { box.hidden = true; return; } }
      if (!(ev.altKey || ev.ctrlKey || ev.metaKey)) return; // a plain key types in a field
      const combo = keyOf(ev);
      const target = candidates(combo)[0];
      if (!target) return;
      ev.preventDefault();
      if (FIELDS.has(target.tagName)) target.focus();
      else { target.focus(); target.click(); }
    }
    function start() {
      mark();
      new MutationObserver(() => mark()).observe(document.body, { childList: true, subtree: true });
      document.addEventListener("keydown", onKey);
      document.getElementById("shortcuts").addEventListener("click", help);
      document.getElementById("shortcut-close").addEventListener("click", () => {
        document.getElementById("shortcut-help").hidden = true;
      });
    }
    return { start, keyOf, candidates };
  })();
  // ---- end keyboard shortcuts ----

  wire();
  shortcuts.start();
  setInterval(tick, 1000); // the wait and talk clocks
  cti.loginFlow(session, () => {});
})();
