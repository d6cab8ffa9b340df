// Shared by the agent and supervisor consoles: DOM building (text only), login, the websocket session
// with resume and heartbeat. Every string from the network goes through textContent, never innerHTML.
"use strict";

const cti = (() => {
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) return "–";
    seconds = Math.max(0, Math.round(seconds));
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    const mm = String(m).padStart(2, "0"), ss = String(s).padStart(2, "0");
    return h ? `${h}:${mm}:${ss}` : `${m}:${ss}`;
  }

  // The session: login or resume, then a stream of messages. `onMessage(msg)` gets every pushed message.
  class Session {
    constructor(role, onMessage, onStatus) {
      this.role = role;
      this.onMessage = onMessage;
      this.onStatus = onStatus;
      this.key = `cti.${role}`;
      this.saved = JSON.parse(sessionStorage.getItem(this.key) || "null");
      this.ws = null;
      this.attempt = 0; // reconnect attempts since the connection was lost (unlimited)
      this.retry = null;
      this.lastHeard = 0;
      this.refs = 0;
      this.waiting = new Map();
      this.timer = null;
      this.stopped = false;
      this.refreshing = false;
      this.skew = 0; // server clock minus ours, seconds
    }

    get loggedIn() { return !!(this.saved && this.saved.token && this.saved.expires_at * 1000 > Date.now()); }

    url() {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      return `${scheme}//${location.host}/ws`;
    }

    login(username, password) {
      return this._open({ type: "login", username, password });
    }

    // ``fresh``: a page (re)load has nothing to catch up: it asks for a snapshot of the present state.
    resume(fresh) {
      const s = this.saved;
      const first = fresh ? { type: "resume", token: s.token, session: null, last_seq: null }
        : { type: "resume", token: s.token, session: s.session, last_seq: s.seq };
      return this._open(first);
    }

    // Keep trying (a few seconds apart, for ever) until the server answers; an expired or refused token ends it.
    _reconnectLater(why) {
      clearTimeout(this.retry);
      if (this.stopped || !this.loggedIn) return;
      const delay = Math.min(500 * 2 ** this.attempt, 3000) * (0.8 + Math.random() * 0.4);
      this.attempt += 1;
      offline(true, i18n.t("console.reconnecting_banner", { why, attempt: this.attempt }));
      this.onStatus(i18n.t("console.reconnecting", { attempt: this.attempt }), "warn");
      this.retry = setTimeout(() => { if (!this.stopped && this.loggedIn) this.resume(false).catch(() => {}); }, delay);
    }

    logoutLocal() {
      this.stopped = true;
      clearTimeout(this.retry);
      sessionStorage.removeItem(this.key);
      this.saved = null;
      if (this.ws && this.ws.readyState === WebSocket.OPEN) {
        this.ws.send(JSON.stringify({ type: "sign_out" })); // the server revokes the token and closes (4003)
      } else if (this.ws) {
        this.ws.close(1000, "bye");
      }
    }

    _save() { sessionStorage.setItem(this.key, JSON.stringify(this.saved)); }

    _open(first) {
      return new Promise((resolve, reject) => {
        this.stopped = false;
        const ws = new WebSocket(this.url());
        this.ws = ws;
        let welcomed = false;
        ws.onopen = () => ws.send(JSON.stringify(first));
        ws.onmessage = (ev) => {
          if (ws !== this.ws) return; // a connection this page already gave up on
          this.lastHeard = Date.now();
          let msg;
          try { msg = JSON.parse(ev.data); } catch (e) { return; }
          if (msg.type === "welcome") {
            welcomed = true;
            const wasLost = this.attempt > 0;
            this.attempt = 0;
            offline(false);
            if (msg.role !== this.role && !(this.role === "agent" && msg.role === "supervisor")) {
              this.onStatus(i18n.t(this.role === "agent" ? "console.page_for_agents" : "console.page_for_supervisors"), "bad");
            }
            this.saved = Object.assign(this.saved || {}, {
              session: msg.session, seq: msg.seq, role: msg.role, agent: msg.agent,
              username: msg.username, expires_at: msg.expires_at,
            });
            if (msg.token) this.saved.token = msg.token;
            if (typeof msg.at === "number") this.skew = msg.at - Date.now() / 1000; // refined by pongs
            this._save();
            this._heartbeat(msg.heartbeat || 20);
            this.onStatus(msg.resumed ? i18n.t("console.reconnected_missed", { missed: msg.missed })
              : wasLost ? i18n.t("console.reconnected_reloaded") : i18n.t("console.connected"), "ok");
            resolve(msg);
          } else if (!welcomed && msg.type === "error") {
            reject(new Error(error(msg)));
          }
          if (typeof msg.seq === "number" && this.saved && msg.type !== "welcome") {
            this.saved.seq = Math.max(this.saved.seq || 0, msg.seq);
            this._save();
          }
          if (msg.type === "pong") this.skew = msg.at - Date.now() / 1000;
          if (msg.ref !== undefined && this.waiting.has(msg.ref)) {
            const w = this.waiting.get(msg.ref);
            this.waiting.delete(msg.ref);
            w(msg);
          }
          this.onMessage(msg);
        };
        ws.onclose = (ev) => {
          if (ws !== this.ws) return;
          clearInterval(this.timer);
          if (!welcomed) reject(new Error(ev.reason ? closed(ev) : i18n.t("console.connection_refused")));
          if (ev.code === 4001 || ev.code === 4002 || ev.code === 4003) {
            const had = !!this.saved;
            sessionStorage.removeItem(this.key);
            this.saved = null;
            offline(false);
            const said = document.getElementById("login-error");
            if (said && had) said.textContent = i18n.t("console.session_ended", { why: closed(ev) });
            this.onStatus(i18n.t("console.logged_out", { why: closed(ev) }), "bad");
            this.onMessage({ type: "logged_out", reason: had ? ev.reason : "" });
            return;
          }
          if (this.stopped) return;
          // a lost connection, or a reconnect attempt that found no server: try again, without end
          if (welcomed || first.type === "resume") this._reconnectLater(i18n.tOr(`console.close.${ev.code}`, ev.reason || i18n.t("console.close.code", { code: ev.code })));
        };
      });
    }

    _heartbeat(seconds) {
      clearInterval(this.timer);
      const every = Math.max(5, seconds / 2) * 1000;
      this.timer = setInterval(() => {
        // a connection that went silent (no pong for three beats) is dead even if the socket says not
        if (Date.now() - this.lastHeard > 3 * every && this.ws) { this.ws.close(4000, "silent"); return; }
        this.send({ type: "ping" });
        // a new token well before this one expires (it lives [web] token_ttl seconds)
        const s = this.saved;
        if (s && s.expires_at && s.expires_at - this.now() < 300 && !this.refreshing) {
          this.refreshing = true;
          this.send({ type: "refresh" }).then((reply) => {
            this.refreshing = false;
            if (reply.type === "result" && reply.token && this.saved) {
              Object.assign(this.saved, { token: reply.token, expires_at: reply.expires_at });
              this._save();
            }
          });
        }
      }, every);
    }

    now() { return Date.now() / 1000 + this.skew; }

    // Send a command; resolves with its `result` or `error` message.
    send(command) {
      const ref = `r${++this.refs}`;
      return new Promise((resolve) => {
        if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
          resolve({ type: "error", code: "offline", message: i18n.t("error.offline") });
          return;
        }
        this.waiting.set(ref, resolve);
        this.ws.send(JSON.stringify(Object.assign({ ref }, command)));
      });
    }
  }

  // Wire a login form to a session; `start()` runs once logged in (also after a page reload).
  function loginFlow(session, start) {
    const form = document.getElementById("login");
    const error = document.getElementById("login-error");
    const app = document.getElementById("app");
    const box = form.closest("main"); // the login form's own landmark, hidden with it
    const show = (loggedIn) => { form.hidden = loggedIn; app.hidden = !loggedIn; if (box && box !== app) box.hidden = loggedIn; };
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      error.textContent = "";
      try {
        const welcome = await session.login(form.username.value, form.password.value);
        form.password.value = "";
        show(true);
        start(welcome);
      } catch (e) {
        error.textContent = e.message;
      }
    });
    if (session.loggedIn) {
      // a reload: the page shows the present state (a snapshot), and keeps trying while the server is away
      show(true);
      offline(true, i18n.t("console.connecting"));
      session.resume(true).then((w) => start(w)).catch(() => {
        if (!session.loggedIn) show(false);
      });
    } else {
      show(false);
    }
  }

  // The disconnected state: a banner, and every figure on the page greyed (it may be stale).
  function offline(on, text) {
    document.body.classList.toggle("offline", !!on);
    let banner = document.getElementById("offline");
    if (!banner) {
      banner = el("p", { id: "offline", class: "offline-banner", role: "alert" });
      document.body.insertBefore(banner, document.body.children[1] || null);
    }
    banner.hidden = !on;
    banner.textContent = on ? i18n.t("console.offline_banner", { why: text || i18n.t("console.disconnected") }) : "";
    const app = document.getElementById("app");
    if (app) app.setAttribute("aria-busy", on ? "true" : "false");
  }

  function status(text, level) {
    const node = document.getElementById("status");
    node.textContent = text;
    node.className = `status ${level || ""}`;
  }

  // The page's header and login form, built from <body data-title data-role> (pages built on this keep
  // only their own content in the HTML: /campaigns).
  function shell() {
    const body = document.body;
    const header = el("header", {},
      el("h1", {}, "cti ", el("span", { class: "muted" }, i18n.tOr(`${body.dataset.title}.title`, body.dataset.title || ""))),
      el("span", { id: "who", class: "who" }), el("span", { id: "status", class: "status" }));
    const form = el("form", { id: "login", class: "card login" },
      el("h2", {}, i18n.t(body.dataset.role === "supervisor" ? "supervisor.login_title" : "common.login_title")),
      el("label", {}, i18n.t("common.user"), " ", el("input", { name: "username", autocomplete: "username", required: true })),
      el("label", {}, i18n.t("common.password"), " ", el("input", {
        name: "password", type: "password", autocomplete: "current-password", required: true })),
      el("button", { type: "submit" }, i18n.t("common.login")),
      el("p", { id: "login-error", class: "error", role: "alert" }));
    body.prepend(header, form);
  }

  // A daemon's error message in the page's language: "error.<code>" from the catalogue (with the
  // server's message and the bad field as {message} and {field}), else the server's own message.
  function error(reply, params) {
    const fallback = reply.message || String(reply.code || "");
    return i18n.tOr(`error.${reply.code}`, fallback, Object.assign({ message: fallback, field: reply.field || "" }, params));
  }

  // Why the server closed the connection, by its close code (4001 authentication, 4002 expired, 4003
  // signed out, 4029 flood, 1013 try later), else the server's own reason.
  const closed = (ev) => i18n.tOr(`console.close.${ev.code}`, ev.reason || i18n.t("console.close.4001"));

  return { el, clear, duration, Session, loginFlow, status, offline, shell, error, t: i18n.t, tOr: i18n.tOr,
    word: i18n.word, pct: i18n.pct, num: i18n.num };
})();
