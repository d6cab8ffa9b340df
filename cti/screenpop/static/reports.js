// The reports page: a supervisor logs in over the websocket (a console token), then reads
// GET /api/reports with it. Every text goes in with textContent, never innerHTML.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  let token = null;
  let chart = null;
  const RATIO = /(_rate|_level|share|cumulative|utilisation|occupancy|_long)$|^sl_/;

  function status(text, cls) { const s = $("status"); s.textContent = text; s.className = `status ${cls || ""}`; }

  function login(username, password) {
    return new Promise((resolve, reject) => {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const ws = new WebSocket(`${scheme}//${location.host}/ws`);
      ws.onopen = () => ws.send(JSON.stringify({ type: "login", username, password }));
      ws.onmessage = (ev) => {
        let msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (msg.type === "welcome") {
          ws.close();
          if (msg.role !== "supervisor") reject(new Error(i18n.t("reports.supervisors_only")));
          else resolve(msg);
        } else if (msg.type === "error") { ws.close(); reject(new Error(i18n.tOr(`error.${msg.code}`, msg.message, { message: msg.message, field: "" }))); }
      };
      ws.onerror = () => reject(new Error(i18n.t("reports.unreachable")));
    });
  }

  // a column's title: the catalogue's (by report and column, else by column), else the server's own
  const column = (kind, key, title) => i18n.tOr(`reports.column.${kind}.${key}`, i18n.tOr(`reports.column.${key}`, title));

  function cell(key, value) {
    if (value === null || value === undefined) return "-";
    if (typeof value === "number" && RATIO.test(key)) return i18n.pct(value, 1);
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function fillSelect(select, values, keep) {
    const current = keep ? select.value : "";
    while (select.options.length > 1) select.remove(1);
    for (const v of values) {
      const o = document.createElement("option");
      o.value = v; o.textContent = v;
      select.appendChild(o);
    }
    select.value = values.includes(current) ? current : "";
  }

  function render(doc) {
    $("title").textContent = i18n.word("reports.kind", doc.kind);
    const head = $("report").tHead, body = $("report").tBodies[0];
    head.replaceChildren(); body.replaceChildren();
    const tr = document.createElement("tr");
    for (const [key, title] of doc.columns) { const th = document.createElement("th"); th.textContent = column(doc.kind, key, title); tr.appendChild(th); }
    head.appendChild(tr);
    for (const row of doc.rows) {
      const r = document.createElement("tr");
      for (const [key] of doc.columns) {
        const td = document.createElement("td");
        td.dataset.key = key;
        td.textContent = cell(key, row[key]);
        r.appendChild(td);
      }
      body.appendChild(r);
    }
    const dl = $("summary"); dl.replaceChildren();
    for (const [k, v] of Object.entries(doc.summary || {})) {
      const dt = document.createElement("dt"); dt.textContent = column(doc.kind, k, k);
      const dd = document.createElement("dd"); dd.textContent = cell(k, v);
      dl.append(dt, dd);
    }
    fillSelect($("queue"), doc.queues, true);
    fillSelect($("agent"), doc.agents, true);
    draw(doc);
  }

  function draw(doc) {
    // the row label is the first column; the series are the count columns (integers), at most three
    const [labelKey] = doc.columns[0];
    const counts = doc.columns.map(([k]) => k).filter((k, i) => i > 0 && doc.rows.length > 0
      && doc.rows.every((r) => Number.isInteger(r[k])) && !/^(low|high|position|period_seconds)$/.test(k));
    const series = counts.slice(0, 3);
    const colours = ["#2b6cb0", "#38a169", "#e53e3e"];
    const labels = doc.rows.map((r) => doc.columns.slice(0, 3)
      .filter(([k]) => typeof r[k] === "string" || k === labelKey).map(([k]) => cell(k, r[k])).join(" · "));
    const data = {
      labels,
      datasets: series.map((k, i) => ({
        label: column(doc.kind, k, (doc.columns.find(([c]) => c === k) || [k, k])[1]),
        data: doc.rows.map((r) => r[k]),
        backgroundColor: colours[i],
      })),
    };
    if (chart) chart.destroy();
    chart = new window.Chart($("chart"), {
      type: "bar", data,
      options: { animation: false, responsive: false, plugins: { legend: { position: "bottom" } } },
    });
  }

  async function load() {
    const f = new FormData($("filters"));
    const q = new URLSearchParams();
    for (const [k, v] of f.entries()) if (v) q.set(k, v);
    $("report-error").textContent = "";
    const reply = await fetch(`/api/reports?${q}`, { headers: { Authorization: `Bearer ${token}` } });
    const doc = await reply.json();
    if (!reply.ok) { $("report-error").textContent = i18n.t("reports.refused", { message: doc.error || reply.statusText }); return; }
    render(doc);
    status(i18n.t("reports.ready"), "ok");
  }

  function today() {
    const d = new Date();
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  }

  $("login").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    try {
      const welcome = await login(f.get("username"), f.get("password"));
      token = welcome.token;
      $("who").textContent = welcome.username;
      $("login").hidden = true;
      $("app").hidden = false;
      $("from").value = $("from").value || today();
      $("to").value = $("to").value || today();
      await load();
    } catch (e) {
      $("login-error").textContent = e.message;
    }
  });
  $("filters").addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  for (const id of ["kind", "queue", "agent"]) $(id).addEventListener("change", () => load());
  for (const k of ["queue", "agent", "call-duration", "wait-duration", "inbound", "agent-load", "abandon",
    "transfer", "agent-performance", "campaign"]) {
    const o = document.createElement("option"); o.value = k; o.textContent = i18n.word("reports.kind", k); $("kind").appendChild(o);
  }
})();
