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
      this.backoff = 500;
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

    resume() {
      const s = this.saved;
      return this._open({ type: "resume", token: s.token, session: s.session, last_seq: s.seq });
    }

    logoutLocal() {
      this.stopped = true;
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
          let msg;
          try { msg = JSON.parse(ev.data); } catch (e) { return; }
          if (msg.type === "welcome") {
            welcomed = true;
            this.backoff = 500;
            if (msg.role !== this.role && !(this.role === "agent" && msg.role === "supervisor")) {
              this.onStatus(`this page is for ${this.role}s`, "bad");
            }
            this.saved = Object.assign(this.saved || {}, {
              session: msg.session, seq: msg.seq, role: msg.role, agent: msg.agent,
              username: msg.username, expires_at: msg.expires_at,
            });
            if (msg.token) this.saved.token = msg.token;
            if (typeof msg.at === "number") this.skew = msg.at - Date.now() / 1000; // refined by pongs
            this._save();
            this._heartbeat(msg.heartbeat || 20);
            this.onStatus(msg.resumed ? `reconnected (${msg.missed} missed)` : "connected", "ok");
            resolve(msg);
          } else if (!welcomed && msg.type === "error") {
            reject(new Error(msg.message));
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
          clearInterval(this.timer);
          if (!welcomed) reject(new Error(ev.reason || "connection refused"));
          if (ev.code === 4001 || ev.code === 4002 || ev.code === 4003) {
            sessionStorage.removeItem(this.key);
            this.saved = null;
            this.onStatus(`logged out: ${ev.reason || "authentication"}`, "bad");
            this.onMessage({ type: "logged_out", reason: ev.reason });
            return;
          }
          if (this.stopped || !welcomed) return;
          this.onStatus(`disconnected (${ev.reason || ev.code}), reconnecting…`, "warn");
          setTimeout(() => this.loggedIn && this.resume().catch(() => {}), this.backoff);
          this.backoff = Math.min(this.backoff * 2, 10000);
        };
      });
    }

    _heartbeat(seconds) {
      clearInterval(this.timer);
      this.timer = setInterval(() => {
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
      }, Math.max(5, seconds / 2) * 1000);
    }

    now() { return Date.now() / 1000 + this.skew; }

    // Send a command; resolves with its `result` or `error` message.
    send(command) {
      const ref = `r${++this.refs}`;
      return new Promise((resolve) => {
        if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
          resolve({ type: "error", code: "offline", message: "not connected" });
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
    const show = (loggedIn) => { form.hidden = loggedIn; app.hidden = !loggedIn; };
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
      session.resume().then((w) => { show(true); start(w); }).catch(() => show(false));
    } else {
      show(false);
    }
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
      el("h1", {}, "cti ", el("span", { class: "muted" }, body.dataset.title || "")),
      el("span", { id: "who", class: "who" }), el("span", { id: "status", class: "status" }));
    const form = el("form", { id: "login", class: "card login" },
      el("h2", {}, body.dataset.role === "supervisor" ? "Supervisor login" : "Login"),
      el("label", {}, "User ", el("input", { name: "username", autocomplete: "username", required: true })),
      el("label", {}, "Password ", el("input", {
        name: "password", type: "password", autocomplete: "current-password", required: true })),
      el("button", { type: "submit" }, "Log in"),
      el("p", { id: "login-error", class: "error", role: "alert" }));
    body.prepend(header, form);
  }

  return { el, clear, duration, Session, loginFlow, status, shell };
})();
