// The agent console: screen pops, call and state controls, disposition, callbacks, e-mail tasks. Text only (textContent).
"use strict";
(() => {
  const { el, duration } = cti;
  const pops = new Map(); // "server linkedid" -> {card, msg, stateLine, ...}: a Linkedid is unique per server only
  let me = null;
  let catalogue = []; // fulfilment documents ({id, name}) the agent may send from a disposition (branch mail)
  const callKey = (server, lid) => `${server || ""} ${lid}`;
  const LIVE = new Set(["ringing", "answered", "held", "resumed"]);
  const stateWords = (event, msg) => ({
    ringing: "ringing",
    answered: msg && msg.agent && me && msg.agent !== me.agent ? `answered by ${msg.agent}` : "answered",
    held: "on hold", resumed: "talking", transferred: `transferred to ${(msg && msg.target) || "another line"}`,
    ended: "ended", missed: "missed (not answered)", left: cti.t("agent.left_call"),
  })[event] || event;

  const session = new cti.Session("agent", onMessage, cti.status);

  function logEvent(text) {
    const list = document.getElementById("events");
    list.prepend(el("li", {}, el("time", {}, new Date().toLocaleTimeString()), " ", text));
    while (list.children.length > 30) list.lastChild.remove();
  }

  async function act(command, label) {
    const out = document.getElementById("action-result");
    out.textContent = `${label}…`;
    const reply = await session.send(command);
    out.textContent = reply.type === "error" ? `${label}: ${reply.message}` : `${label}: done`;
    out.className = reply.type === "error" ? "error" : "muted";
    return reply;
  }

  function setState(figures) {
    const badge = document.getElementById("state");
    const reason = figures.reason ? ` (${figures.reason})` : "";
    badge.textContent = `${figures.state.replace("_", " ")}${reason}`;
    badge.dataset.state = figures.state;
  }

  function customerCard(c) {
    const complaints = c.open_complaints || c.complaints || [];
    const history = c.interactions || [];
    const dnc = c.do_not_call === true || c.dnc === true;
    return el("article", { class: "customer" },
      el("h4", {}, c.name || c.full_name || "Customer", " ",
        c.tier ? el("span", { class: `tier tier-${String(c.tier).toLowerCase()}` }, `tier ${c.tier}`) : null,
        c.at_risk ? el("span", { class: "at-risk" }, "at risk") : null,
        dnc ? el("span", { class: "dnc" }, "do not call") : null),
      el("dl", {},
        c.company ? [el("dt", {}, "Company"), el("dd", { class: "company" }, c.company)] : null,
        c.owner ? [el("dt", {}, "Owner"), el("dd", {}, c.owner)] : null,
        c.notes ? [el("dt", {}, "Notes"), el("dd", { class: "customer-notes" }, c.notes)] : null,
        c.id !== undefined ? [el("dt", {}, "Customer"), el("dd", {}, String(c.id))] : null,
        c.email ? [el("dt", {}, "Email"), el("dd", {}, c.email)] : null),
      complaints.length ? el("div", { class: "complaints" },
        el("h5", {}, `Open complaints (${complaints.length})`),
        el("ul", {}, complaints.map((t) => el("li", {},
          t.priority ? el("span", { class: "priority" }, `${t.priority} · `) : null,
          t.subject || t.title || t.summary || JSON.stringify(t))))) : null,
      history.length ? el("div", { class: "history" },
        el("h5", {}, "Last interactions"),
        el("ul", {}, history.map((h) => el("li", {},
          h.at || h.started_at ? el("time", {}, new Date((h.at || h.started_at) * 1000).toLocaleString()) : null, " ",
          [h.kind || h.direction, h.outcome, h.agent, h.disposition, h.notes].filter(Boolean).join(" · "))))) : null,
      contactHistory(c.contacts || []));
  }

  // e-mails, replies and documents sent, as the store keeps them (branch mail): text only
  function contactHistory(contacts) {
    if (!contacts.length) return null;
    return el("div", { class: "contacts" },
      el("h5", {}, "E-mails and documents"),
      el("ul", {}, contacts.map((h) => el("li", { dataset: { kind: h.kind } },
        h.at ? el("time", {}, new Date(h.at * 1000).toLocaleString()) : null, " ",
        [h.kind, h.subject, h.status, h.agent, h.detail].filter(Boolean).join(" · ")))));
  }

  function documentPicker(customers) {
    const withEmail = customers.filter((c) => c.email && c.id !== undefined);
    if (!catalogue.length || !withEmail.length) return null;
    const docs = el("select", { name: "documents", multiple: true, size: Math.min(4, catalogue.length), "aria-label": "documents to send" },
      catalogue.map((d) => el("option", { value: String(d.id) }, d.name)));
    const to = el("select", { name: "documents_to", "aria-label": "send documents to" },
      withEmail.map((c) => el("option", { value: String(c.id) }, `${c.name || "customer"} <${c.email}>`)));
    const box = el("label", { class: "inline documents" }, "Send documents ", docs, to);
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
    const talkClock = el("span", { class: "talk-timer", "aria-label": "talk time" }, "");
    const target = el("input", { name: "target", placeholder: "agent, queue or number", "aria-label": "transfer target",
      list: "transfer-targets", autocomplete: "off" });
    const kind = el("select", { name: "to", "aria-label": "transfer to" },
      el("option", { value: "agent" }, "agent"), el("option", { value: "queue" }, "queue"),
      el("option", { value: "number" }, "number"));
    // a campaign call offers its campaign's codes (the dialer's lead event); others the general ones
    let codes = [];
    try { codes = msg.lead && msg.lead.dispositions ? JSON.parse(msg.lead.dispositions) : []; } catch (e) { codes = []; }
    const disposition = el("select", { name: "disposition", "aria-label": "disposition" },
      (codes.length ? codes.map((d) => String(d.code)) : ["resolved", "follow-up", "sale", "complaint", "wrong number", "no answer"])
        .map((d) => el("option", { value: d }, d)));
    const notes = el("textarea", { name: "notes", rows: 3, maxlength: 4000, placeholder: "notes", "aria-label": "notes" });
    const callbackAt = el("input", { type: "datetime-local", name: "callback_at", "aria-label": "call back at" });
    const callbackFor = el("select", { name: "callback_for", "aria-label": "callback for" },
      el("option", { value: "me" }, "for me"), el("option", { value: "" }, "for anyone"));
    const customers = msg.customers || [];
    const picker = documentPicker(customers);
    // the header names whom the card below names: the caller ID's name, else the one customer's
    const named = caller.name || (customers.length === 1 ? customers[0].name : "") || "(no name)";
    const hangup = el("button", { type: "button", class: "danger", onclick: () => act({ type: "hangup", linkedid: lid }, "hang up") }, "Hang up");
    const transfer = el("button", { type: "button", onclick: () => act({ type: "transfer", linkedid: lid, to: kind.value, target: target.value.trim() }, "transfer") }, "Transfer");
    const consultBox = consultPanel(lid); // warm transfer and conference (cti.screenpop.consult)
    const warm = el("button", { type: "button", class: "warm-transfer", dataset: { shortcut: "Alt+W" }, "aria-keyshortcuts": "Alt+W",
      onclick: () => startConsult(consultBox, { type: "warm_transfer", linkedid: lid, to: kind.value, target: target.value.trim() }, cti.t("agent.warm_transfer")) },
      cti.t("agent.warm_transfer"));
    const key = callKey(call.server, lid);
    const close = el("button", { type: "button", class: "secondary", onclick: () => dismiss(key) }, "Close");
    const card = el("article", { class: "card pop", dataset: { linkedid: lid, server: call.server || "", state } },
      el("header", {},
        el("h3", { class: "caller-name" }, named),
        el("span", { class: "caller-number" }, caller.number || "(no number)"),
        caller.normalized && caller.normalized !== caller.number ? el("span", { class: "muted" }, ` ${caller.normalized}`) : null),
      el("p", { class: "call-meta" },
        `${call.direction} · queue ${call.queue || "–"} · DID ${call.did || "–"} · waited `, waitClock, " ", talkClock),
      stateLine,
      msg.lookup === "unavailable" ? el("p", { class: "warn" }, "customer lookup unavailable") : null,
      customers.length ? customers.map(customerCard) : el("p", { class: "muted" }, msg.lookup === "found" ? "" : "unknown caller"),
      msg.lead ? el("div", { class: "lead" }, el("h4", {}, "Lead"), el("pre", {}, JSON.stringify(msg.lead, null, 2))) : null,
      msg.script ? el("div", { class: "script" }, el("h4", {}, "Script"), el("p", {}, String(msg.script))) : null,
      el("div", { class: "call-controls" }, hangup, kind, target, transfer, warm),
      consultBox.box,
      el("form", { class: "disposition", onsubmit: async (ev) => {
          ev.preventDefault();
          const dm = { type: "disposition", linkedid: lid, disposition: disposition.value, notes: notes.value };
          if (codes.length && callbackAt.value) dm.callback_at = new Date(callbackAt.value).getTime() / 1000;
          const r = await act(dm, "disposition");
          if (r.type === "result") { card.dataset.saved = "yes"; stateLine.textContent += " · disposition saved"; }
          const pick = r.type === "result" && picker ? picker.picked() : null;
          if (pick && pick.documents.length) {
            const f = await act({ type: "fulfil", linkedid: lid, ...pick }, "documents");
            if (f.type === "result") stateLine.textContent += " · documents queued";
          }
          if (r.type === "result" && r.lead_callback) {  // the lead's callback, to me
            stateLine.textContent += " · callback scheduled"; refreshCallbacks();
          } else if (r.type === "result" && callbackAt.value && !codes.length) {
            const when = new Date(callbackAt.value).getTime() / 1000; // the browser's local time
            // a campaign call: the lead's number (the channel's caller ID is the campaign's own)
            const cb = { type: "schedule_callback", number: (msg.lead && msg.lead.leadnumber) || caller.number || "", at: when, note: notes.value };
            if (callbackFor.value === "") cb.for = "";
            const s = await act(cb, "callback");
            if (s.type === "result") { stateLine.textContent += " · callback scheduled"; refreshCallbacks(); }
          }
        } },
        disposition, notes, picker,
        el("label", { class: "inline" }, "Call back at ", callbackAt), callbackFor,
        el("button", { type: "submit" }, "Save disposition"), close));
    const p = { card, stateLine, hangup, transfer, warm, consultBox, kind, target, close, waitClock, talkClock,
      state, rangAt: msg.at, waited: call.waited_seconds || 0, answeredAt: msg.answered_at || null, endedAt: null };
    controls(p);
    return p;
  }

  // Hang up and Transfer only while the call is up; Close only once it is over (a live call is never lost)
  function controls(p) {
    const live = LIVE.has(p.state);
    const consulting = Boolean(p.consultBox && p.consultBox.state);
    for (const b of [p.hangup, p.transfer, p.kind, p.target]) b.disabled = !live || consulting;
    if (p.warm) p.warm.disabled = !live || consulting;
    if (p.consultBox && !live) showConsult(p.consultBox, null);
    p.close.disabled = live;
    p.close.title = live ? "the call is still up: it stays here until it ends" : "";
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
    c.consultButtons = el("div", { class: "consult-controls" },
      button("agent.consult_complete", "Alt+C", { type: "consult", linkedid: lid, op: "complete" }),
      button("agent.consult_cancel", "Alt+X", { type: "consult", linkedid: lid, op: "cancel" }, "secondary"),
      button("agent.consult_conference", "Alt+3", { type: "consult", linkedid: lid, op: "conference" }));
    c.conferenceButtons = el("div", { class: "conference-controls" },
      button("agent.conference_leave", "", { type: "conference", linkedid: lid, op: "leave" }, "secondary"),
      button("agent.conference_end", "", { type: "conference", linkedid: lid, op: "end" }, "danger"));
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
      if (p.answeredAt) p.talkClock.textContent = `· talk ${duration((p.endedAt || now) - p.answeredAt)}`;
    }
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
    document.getElementById("pops").prepend(p.card);
    document.getElementById("no-call").hidden = true;
    tick();
    logEvent(`call from ${msg.caller.name || msg.caller.number || "unknown"}`);
  }

  function callUpdate(msg) {
    const p = pops.get(callKey(msg.server, msg.linkedid));
    const text = stateWords(msg.event, msg);
    if (p) {
      p.stateLine.textContent = text;
      p.card.dataset.state = msg.event;
      if (msg.event !== "missed" || !p.answeredAt) p.state = msg.event;
      if (msg.event === "answered") {
        p.answeredAt = typeof msg.at === "number" ? msg.at : session.now();
        if (typeof msg.waited_seconds === "number") p.waitClock.textContent = duration(msg.waited_seconds);
      }
      if (!LIVE.has(p.state)) p.endedAt = session.now();
      controls(p);
      tick();
    }
    logEvent(`${text} · ${msg.linkedid}`);
  }

  // ---- e-mail task card (issue #13, branch email2): text only, the sender's words never as HTML ----
  function showEmailTask(msg) {
    const box = document.getElementById("email-tasks");
    const old = box.querySelector(`article[data-task="${CSS.escape(String(msg.task))}"]`);
    if (old) old.remove();
    const status = el("p", { class: "muted", role: "status" });
    const reply = el("textarea", { name: "reply", rows: 6, maxlength: 100000, placeholder: "your reply", "aria-label": "reply" });
    const disposition = el("select", { name: "email_disposition", "aria-label": "e-mail disposition" },
      ["answered", "resolved", "follow-up", "spam", "duplicate", "answered by phone"].map((d) => el("option", { value: d }, d)));
    const c = msg.customer;
    const history = (msg.history || []).map((h) => el("li", {},
      el("time", {}, new Date(h.received * 1000).toLocaleString()), " ", `${h.subject} · ${h.state}`,
      h.reply ? el("pre", { class: "email-reply" }, h.reply) : null));
    const card = el("article", { class: "card email-task", dataset: { task: String(msg.task) } },
      el("header", {}, el("h3", { class: "email-subject" }, msg.subject || "(no subject)"),
        el("span", { class: "email-from" }, msg.from)),
      el("p", { class: "muted" }, `received ${new Date(msg.received * 1000).toLocaleString()} · due ${new Date(msg.deadline * 1000).toLocaleString()}`),
      c ? el("div", { class: "customer" }, el("h4", {}, c.name), [c.company, `tier ${c.tier}`, c.email].filter(Boolean).join(" · "))
        : el("p", { class: "muted" }, "unknown sender"),
      el("pre", { class: "email-body" }, msg.body),
      history.length ? el("div", {}, el("h4", {}, "Earlier e-mails"), el("ol", {}, history)) : null,
      el("form", { class: "email-answer", onsubmit: async (ev) => {
          ev.preventDefault();
          const text = reply.value.trim();
          const cmd = text
            ? { type: "email_reply", task: msg.task, body: reply.value, disposition: disposition.value }
            : { type: "email_close", task: msg.task, disposition: disposition.value };
          const r = await act(cmd, text ? "e-mail reply" : "e-mail closed");
          if (r.type === "result") { card.remove(); document.getElementById("no-email").hidden = box.querySelector("article") !== null; }
          else status.textContent = r.message;
        } },
        reply, disposition,
        el("button", { type: "submit" }, "Send reply / close")),
      status);
    box.prepend(card);
    document.getElementById("no-email").hidden = true;
    logEvent(`e-mail from ${msg.from}`);
  }
  // ---- /e-mail task card ----

  async function refreshCallbacks() {
    const reply = await session.send({ type: "callbacks" });
    const list = document.getElementById("callbacks");
    if (reply.type !== "result") return;
    list.replaceChildren(...reply.callbacks.map((c) => el("li", { dataset: { callback: String(c.id), status: c.status } },
      el("time", {}, new Date(c.due_at * 1000).toLocaleString()), " ",
      [c.number, c.agent ? `for ${c.agent}` : "for anyone", c.status, c.outcome, c.note].filter(Boolean).join(" · "))));
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
        out.textContent = reply.message;
        for (const b of card.querySelectorAll("button")) b.disabled = false;
      }
    };
    const card = el("article", { class: "card preview", dataset: { preview: id } },
      el("h3", {}, "Preview: ", el("span", { class: "lead-name" }, lead.name || "lead")),
      el("dl", {},
        el("dt", {}, "Number"), el("dd", { class: "lead-number" }, lead.number),
        el("dt", {}, "Campaign"), el("dd", {}, msg.campaign)),
      el("p", { class: "script" }, msg.script || ""),
      el("div", { class: "actions" },
        el("button", { type: "button", "aria-label": "Dial this lead", onclick: () => answer("preview_dial", "dial lead") }, "Dial"),
        el("button", { type: "button", class: "secondary", "aria-label": "Skip this lead", onclick: () => answer("preview_skip", "skip lead") }, "Skip")),
      out);
    previews.set(id, card);
    document.getElementById("previews").prepend(card);
    logEvent(`preview: ${lead.name || lead.number}`);
  }

  function previewOver(msg) {
    const card = previews.get(msg.preview);
    if (card) card.remove();
    previews.delete(msg.preview);
    logEvent(`preview ${msg.outcome}`);
  }
  // ---- end preview dialling ----

  function onMessage(msg) {
    switch (msg.type) {
      case "welcome":
        me = msg;
        document.getElementById("who").textContent = `${msg.username} (${msg.agent || msg.role})`;
        break;
      case "snapshot": // the present state replaces whatever this page showed
        // live calls come back from the snapshot; an ended call stays until closed (its disposition)
        for (const [key, p] of [...pops]) if (LIVE.has(p.state)) dismiss(key);
        for (const a of msg.agents) if (me && a.agent === me.agent) setState(a);
        if (msg.targets) { // transfer targets to pick from, not to type by heart
          const names = [...msg.targets.agents.filter((a) => !me || a !== me.agent), ...msg.targets.queues];
          document.getElementById("transfer-targets").replaceChildren(...names.map((n) => el("option", { value: n })));
        }
        for (const c of msg.calls) showPop(c);
        for (const t of document.querySelectorAll("#email-tasks article")) t.remove(); // e-mail (email2)
        for (const t of msg.email_tasks || []) showEmailTask(t);
        document.getElementById("no-email").hidden = (msg.email_tasks || []).length > 0;
        refreshCallbacks();
        loadDocuments();
        break;
      case "callbacks_changed": refreshCallbacks(); break;
      case "email_task": showEmailTask(msg); break; // e-mail channel (branch email2)
      case "screenpop": showPop(msg); break;
      case "call": callUpdate(msg); break;
      case "consult": consultUpdate(msg); break; // warm transfer: answered, over, completed
      case "preview": showPreview(msg); break; // preview dialling
      case "preview_over": previewOver(msg); break; // preview dialling
      case "dial_result": logEvent(`call to number: ${msg.outcome}`); break;
      case "agent_state": if (!me || msg.agent === me.agent) setState(msg); break;
      case "error": if (msg.ref === undefined) logEvent(`error: ${msg.message}`); break;
      case "logged_out":
        document.getElementById("app").hidden = true;
        document.getElementById("login").hidden = false;
        document.getElementById("login-main").hidden = false;
        break;
      default: break;
    }
  }

  function wire() {
    document.getElementById("ready").addEventListener("click", () => act({ type: "ready" }, "ready"));
    document.getElementById("pause").addEventListener("click", () =>
      act({ type: "pause", reason: document.getElementById("pause-reason").value }, "pause"));
    document.getElementById("logout").addEventListener("click", async () => {
      const r = await act({ type: "logout" }, "log out");
      if (r.type === "result" && r.static) { // queues.conf members cannot leave: paused instead
        document.getElementById("action-result").textContent = `log out: paused in ${r.static.join(", ")} (a static member stays in the queue)`;
      }
    });
    document.getElementById("signout").addEventListener("click", () => { session.logoutLocal(); location.reload(); });
    const warning = document.getElementById("dnc-warning");
    document.getElementById("dial").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const number = ev.target.number.value.trim();
      warning.hidden = true;
      const reply = await act({ type: "dial", number }, "call");
      if (reply.type === "error" && reply.code === "do_not_call") {
        // the agent sees whom they are about to call against their wish, and decides
        document.getElementById("dnc-text").textContent = reply.message;
        warning.dataset.number = number;
        warning.hidden = false;
        document.getElementById("dnc-cancel").focus();
      }
    });
    document.getElementById("dnc-dial").addEventListener("click", () => {
      warning.hidden = true;
      act({ type: "dial", number: warning.dataset.number, confirm: true }, "call");
    });
    document.getElementById("dnc-cancel").addEventListener("click", () => {
      warning.hidden = true;
      document.getElementById("action-result").textContent = "call: cancelled (do not call)";
    });
  }

  wire();
  setInterval(tick, 1000); // the wait and talk clocks
  cti.loginFlow(session, () => {});
})();
