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
    ringing: cti.t("call.ringing"),
    answered: msg && msg.agent && me && msg.agent !== me.agent ? cti.t("call.answered_by", { agent: msg.agent }) : cti.t("call.answered"),
    held: cti.t("call.held"), resumed: cti.t("call.talking"), transferred: cti.t("call.transferred_to", { target: (msg && msg.target) || cti.t("call.another_line") }),
    ended: cti.t("call.ended"), missed: cti.t("call.missed"),
  })[event] || event;

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
    // a campaign call offers its campaign's codes (the dialer's lead event); others the general ones
    let codes = [];
    try { codes = msg.lead && msg.lead.dispositions ? JSON.parse(msg.lead.dispositions) : []; } catch (e) { codes = []; }
    const disposition = el("select", { name: "disposition", "aria-label": cti.t("agent.disposition") },
      (codes.length ? codes.map((d) => String(d.code)) : ["resolved", "follow-up", "sale", "complaint", "wrong number", "no answer"])
        .map((d) => el("option", { value: d }, codes.length ? d : cti.word("disposition", d))));
    const notes = el("textarea", { name: "notes", rows: 3, maxlength: 4000, placeholder: cti.t("agent.notes_placeholder"), "aria-label": cti.t("agent.notes_placeholder") });
    const callbackAt = el("input", { type: "datetime-local", name: "callback_at", "aria-label": cti.t("agent.callback_at_label") });
    const callbackFor = el("select", { name: "callback_for", "aria-label": cti.t("agent.callback_for") },
      el("option", { value: "me" }, cti.t("agent.for_me")), el("option", { value: "" }, cti.t("agent.for_anyone")));
    const customers = msg.customers || [];
    const picker = documentPicker(customers);
    // the header names whom the card below names: the caller ID's name, else the one customer's
    const named = caller.name || (customers.length === 1 ? customers[0].name : "") || cti.t("common.no_name");
    const hangup = el("button", { type: "button", class: "danger", onclick: () => act({ type: "hangup", linkedid: lid }, cti.t("agent.act.hangup")) }, cti.t("agent.hangup"));
    const transfer = el("button", { type: "button", onclick: () => act({ type: "transfer", linkedid: lid, to: kind.value, target: target.value.trim() }, cti.t("agent.act.transfer")) }, cti.t("agent.transfer"));
    const key = callKey(call.server, lid);
    const close = el("button", { type: "button", class: "secondary", onclick: () => dismiss(key) }, cti.t("agent.close"));
    const card = el("article", { class: "card pop", dataset: { linkedid: lid, server: call.server || "", state } },
      el("header", {},
        el("h3", { class: "caller-name" }, named),
        el("span", { class: "caller-number" }, caller.number || cti.t("agent.no_number")),
        caller.normalized && caller.normalized !== caller.number ? el("span", { class: "muted" }, ` ${caller.normalized}`) : null),
      el("p", { class: "call-meta" },
        cti.t("agent.call_meta", { direction: cti.word("direction", call.direction), queue: call.queue || "–", did: call.did || "–" }), " ", waitClock, " ", talkClock),
      stateLine,
      msg.lookup === "unavailable" ? el("p", { class: "warn" }, cti.t("agent.lookup_unavailable")) : null,
      customers.length ? customers.map(customerCard) : el("p", { class: "muted" }, msg.lookup === "found" ? "" : cti.t("agent.unknown_caller")),
      msg.lead ? el("div", { class: "lead" }, el("h4", {}, cti.t("agent.lead")), el("pre", {}, JSON.stringify(msg.lead, null, 2))) : null,
      msg.script ? el("div", { class: "script" }, el("h4", {}, cti.t("agent.script")), el("p", {}, String(msg.script))) : null,
      el("div", { class: "call-controls" }, hangup, kind, target, transfer),
      el("form", { class: "disposition", onsubmit: async (ev) => {
          ev.preventDefault();
          const dm = { type: "disposition", linkedid: lid, disposition: disposition.value, notes: notes.value };
          if (codes.length && callbackAt.value) dm.callback_at = new Date(callbackAt.value).getTime() / 1000;
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
        el("label", { class: "inline" }, cti.t("agent.callback_at"), " ", callbackAt), callbackFor,
        el("button", { type: "submit" }, cti.t("agent.save_disposition")), close));
    const p = { card, stateLine, hangup, transfer, kind, target, close, waitClock, talkClock,
      state, rangAt: msg.at, waited: call.waited_seconds || 0, answeredAt: msg.answered_at || null, endedAt: null };
    controls(p);
    return p;
  }

  // Hang up and Transfer only while the call is up; Close only once it is over (a live call is never lost)
  function controls(p) {
    const live = LIVE.has(p.state);
    for (const b of [p.hangup, p.transfer, p.kind, p.target]) b.disabled = !live;
    p.close.disabled = live;
    p.close.title = live ? cti.t("agent.close_title") : "";
  }

  function tick() {
    const now = session.now();
    for (const p of pops.values()) {
      if (p.state === "ringing" && p.rangAt) p.waitClock.textContent = duration(p.waited + now - p.rangAt);
      if (p.answeredAt) p.talkClock.textContent = cti.t("agent.talk", { time: duration((p.endedAt || now) - p.answeredAt) });
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

  wire();
  setInterval(tick, 1000); // the wait and talk clocks
  cti.loginFlow(session, () => {});
})();
