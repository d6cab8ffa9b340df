// The campaign page (supervisors): campaigns' settings, lead lists, start and pause, live figures.
// Every action is a `campaign` command over the console websocket (cti.delivery.campaigns); the
// figures are polled every 2 s. Every text goes in with textContent (cti.el), never innerHTML.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const { el, clear } = cti;
  cti.shell();
  const session = new cti.Session("supervisor", () => {}, cti.status);
  const PART = 48 * 1024; // a websocket message holds at most [web] max_message_bytes (64 KiB)
  const NUMBERS = ["max_lines", "ring_timeout", "call_from_hour", "call_to_hour", "budget"];
  let selected = null, timer = null, campaigns = [];

  const pct = (x) => cti.pct(x, 2);

  function shown(reply, node) {
    if (reply.type === "error") {
      node.textContent = reply.field ? cti.t("campaigns.field_error", { field: reply.field, error: cti.error(reply) }) : cti.error(reply);
      return false;
    }
    node.textContent = "";
    return true;
  }

  function command(op, fields) { return session.send(Object.assign({ type: "campaign", op }, fields || {})); }

  function settingsFromForm(editing) {
    const f = $("settings"), out = {};
    for (const key of ["mode", "queue", "channel", "caller_id", "amd_machine", "regime", "currency", "script"]) {
      out[key] = f.elements[key].value;
    }
    for (const key of NUMBERS) {
      const v = f.elements[key].value.trim();
      if (v !== "") out[key] = Number(v);
      else if (key === "budget") out[key] = null;
    }
    const target = f.elements.abandon_target.value.trim();
    out.abandon_target = target === "" ? null : Number(target) / 100;
    out.blended = f.elements.blended.value.split(",").map((s) => s.trim()).filter(Boolean);
    if (!editing && out.budget === null) delete out.budget;
    for (const key of ["recycling", "dispositions"]) {  // JSON; not JSON: sent as text, refused with the reason
      const v = f.elements[key].value.trim();
      if (v !== "") { try { out[key] = JSON.parse(v); } catch (e) { out[key] = v; } }
    }
    return out;
  }

  function fill(c) {
    const f = $("settings");
    for (const key of ["name", "mode", "queue", "channel", "caller_id", "amd_machine", "regime", "currency", "script"]) {
      f.elements[key].value = c[key] ?? "";
    }
    for (const key of NUMBERS) f.elements[key].value = c[key] ?? "";
    f.elements.abandon_target.value = c.abandon_target === null ? "" : (c.abandon_target * 100).toFixed(2);
    f.elements.blended.value = (c.blended || []).join(", ");
    f.elements.recycling.value = JSON.stringify(c.recycling || {});
    f.elements.dispositions.value = JSON.stringify(c.dispositions || []);
    f.elements.name.readOnly = true;
    $("form-title").textContent = cti.t(c.from_config ? "campaigns.settings_of_config" : "campaigns.settings_of", { name: c.name });
    $("save").textContent = cti.t("campaigns.save");
  }

  function renderList() {
    const body = clear($("campaigns").tBodies[0]);
    for (const c of campaigns) {
      const fig = c.figures || {};
      const live = fig.live || {};
      body.appendChild(el("tr", { dataset: { name: c.name, state: c.state } },
        el("td", { class: "name" }, c.name), el("td", { class: "state" }, cti.word("campaign_state", c.state)), el("td", {}, cti.word("campaigns.mode", c.mode)),
        el("td", {}, c.queue), el("td", { class: "lines" }, `${live.lines_in_use ?? 0} / ${c.max_lines}`),
        el("td", { class: "dials" }, String(fig.dials ?? 0)), el("td", { class: "contacts" }, String(fig.contacts ?? 0)),
        el("td", {}, String(fig.abandoned ?? 0)),
        el("td", {}, el("button", { type: "button", class: "small secondary", onclick: () => select(c.name) }, cti.t("campaigns.open")))));
    }
    const c = campaigns.find((x) => x.name === selected);
    if (c) renderDetail(c);
  }

  function renderDetail(c) {
    const fig = c.figures || {};
    const live = fig.live || {};
    $("detail").hidden = false;
    $("detail-title").textContent = c.name;
    $("d-state").textContent = cti.word("campaign_state", c.state);
    $("start").disabled = !(c.state === "draft" || c.state === "paused");
    $("pause").disabled = c.state !== "running";
    $("end").disabled = c.state === "ended";
    const tiles = clear($("figures"));
    const leads = fig.leads || {};
    const tile = (key, label, value) => tiles.appendChild(el("div", { class: "tile", dataset: { key } },
      el("div", { class: "tile-value" }, String(value)), el("div", { class: "tile-label" }, label)));
    tile("dials", cti.t("campaigns.tile.dials"), fig.dials ?? 0);
    tile("contacts", cti.t("campaigns.tile.contacts"), fig.contacts ?? 0);
    tile("lines", cti.t("campaigns.tile.lines"), `${live.lines_in_use ?? 0} / ${c.max_lines}`);
    tile("leads", cti.t("campaigns.tile.leads"), (leads.new || 0) + (leads.retry || 0));
    tile("target", cti.t("campaigns.tile.target", { regime: cti.word("campaigns.regime", c.regime) }), pct(fig.target ?? c.limit));
    const body = clear($("windows").tBodies[0]);
    for (const w of fig.windows || []) {
      const verdict = cti.t(w.over_limit ? "campaigns.over_limit" : (w.over_target ? "campaigns.over_target" : "campaigns.within"));
      body.appendChild(el("tr", { dataset: { window: w.window, regime: w.regime ? "yes" : "no", over: w.over_limit ? "yes" : "no" } },
        el("td", {}, cti.word("campaigns.window", w.window) + (w.regime ? " *" : "")), el("td", {}, String(w.live_answers)),
        el("td", {}, String(w.abandons)), el("td", { class: "rate" }, pct(w.rate)),
        el("td", { class: "limit" }, pct(w.limit)), el("td", {}, w.headroom.toFixed(1)),
        el("td", { class: w.over_limit ? "error" : (w.over_target ? "warn" : "") }, verdict)));
    }
  }

  async function refresh() {
    const reply = await command("list");
    if (!shown(reply, $("list-error"))) return;
    campaigns = reply.campaigns;
    renderList();
  }

  function select(name) {
    selected = name;
    const c = campaigns.find((x) => x.name === name);
    if (c) { fill(c); renderDetail(c); }
  }

  function reset() {
    selected = null;
    $("settings").reset();
    $("settings").elements.name.readOnly = false;
    $("form-title").textContent = cti.t("campaigns.new_campaign");
    $("save").textContent = cti.t("campaigns.create");
    $("detail").hidden = true;
  }

  $("settings").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const editing = selected !== null;
    const name = $("settings").elements.name.value.trim();
    const reply = await command(editing ? "update" : "create", { name, settings: settingsFromForm(editing) });
    if (!shown(reply, $("form-error"))) return;
    selected = reply.campaign.name;
    await refresh();
    select(selected);
  });
  $("new").addEventListener("click", reset);
  for (const op of ["start", "pause", "end"]) {
    $(op).addEventListener("click", async () => {
      const reply = await command(op, { name: selected });
      if (shown(reply, $("detail-error"))) await refresh();
    });
  }

  // A file over one message is sent in parts at line breaks, each with the header; lines are renumbered.
  function parts(text) {
    const lines = text.replace(/^\ufeff/, "").split(/\r?\n/);
    const header = lines[0];
    const out = [];
    let chunk = [], size = 0, first = 2;
    for (let i = 1; i < lines.length; i++) {
      if (chunk.length && size + lines[i].length > PART) { out.push({ first, text: [header, ...chunk].join("\n") }); first = i + 1; chunk = []; size = 0; }
      chunk.push(lines[i]); size += lines[i].length + 1;
    }
    out.push({ first, text: [header, ...chunk].join("\n") });
    return out;
  }

  $("upload").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const file = $("u-file").files[0];
    if (!file || !selected) return;
    const text = await file.text();
    const partial = $("u-partial").checked;
    const rejected = clear($("rejected").tBodies[0]);
    let imported = 0, duplicates = 0, bad = 0, total = 0;
    for (const part of parts(text)) {
      const reply = await command("upload", { name: selected, list: $("u-list").value, csv: part.text, partial });
      if (!shown(reply, $("detail-error"))) return;
      const r = reply.report;
      if (r.problem) { $("upload-summary").textContent = cti.t("campaigns.upload_refused", { problem: r.problem }); return; }
      total += r.total; imported += r.imported; duplicates += r.duplicates.length; bad += r.rejected.length;
      for (const row of r.rejected) {
        rejected.appendChild(el("tr", { class: "rejected" }, el("td", {}, String(row.line + part.first - 2)),
          el("td", {}, row.reason), el("td", {}, Object.values(row.row).join(", "))));
      }
      if (r.rejected.length && !partial) break;
    }
    $("upload-summary").textContent = cti.t("campaigns.upload_summary", { total, imported, duplicates, bad });
    await refresh();
  });

  cti.loginFlow(session, (welcome) => {
    $("who").textContent = welcome.username;
    if (welcome.role !== "supervisor") {
      $("list-error").textContent = cti.t("campaigns.supervisors_only");
      return;
    }
    refresh();
    clearInterval(timer);
    timer = setInterval(refresh, 2000);
  });
})();
