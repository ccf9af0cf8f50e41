// The rhoconnect-mock dashboard: a client of the admin API (/_mock/...) and nothing else, so
// whatever it shows or does a script can do with the same requests. No framework, no build step.
"use strict";

const ADMIN = "/_mock/";
const TOKEN_KEY = "rhoconnect-mock-admin-token";
const JOURNAL_KEEP = 2000;
const $ = (sel, root = document) => root.querySelector(sel);

// ---------------------------------------------------------------- admin API access

let tokenPrompt = null;

function askToken() {
  // One prompt at a time, however many requests were refused while it is open.
  if (!tokenPrompt) {
    tokenPrompt = new Promise((resolve) => {
      const dialog = $("#token-dialog");
      const form = $("#token-form");
      form.onsubmit = () => {
        sessionStorage.setItem(TOKEN_KEY, form.token.value);
        tokenPrompt = null;
        resolve();
      };
      dialog.showModal();
    });
  }
  return tokenPrompt;
}

async function api(path, options = {}) {
  for (;;) {
    const headers = { Accept: "application/json", ...(options.headers || {}) };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = "Bearer " + token;
    let body = options.body;
    if (body !== undefined && typeof body !== "string") {
      body = JSON.stringify(body);
      headers["Content-Type"] = "application/json";
    }
    const response = await fetch(ADMIN + path, { method: options.method || "GET", headers, body });
    if (response.status === 401) {
      await askToken();
      continue;
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const where = data.field ? data.field + ": " : "";
      throw new Error(where + (data.error || response.status + " " + response.statusText));
    }
    setStatus("");
    return data;
  }
}

function setStatus(text) {
  $("#status").textContent = text;
}

// ---------------------------------------------------------------- small DOM helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "className") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function fillTable(table, heads, rows, empty = "none") {
  table.replaceChildren(
    el("thead", {}, el("tr", {}, heads.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: heads.length, className: "muted" }, empty))),
  );
}

function badge(text, kind = "") {
  return el("span", { className: "badge " + kind }, text);
}

function statusBadge(status) {
  // null: the connection was reset before the status line, so the client saw no status at all.
  if (status === null || status === undefined) return badge("no status", "bad");
  return badge(String(status), status >= 500 ? "bad" : status >= 400 ? "warn" : "ok");
}

// How an answer reached the client, from the journal's outcome, delay_ms and error fields.
const OUTCOME_BADGES = {
  reset_before_headers: ["reset", "bad"],
  reset_after_headers: ["reset", "bad"],
  truncated: ["truncated", "bad"],
  trickled: ["trickled", "warn"],
};

function deliveryBadges(entry) {
  const badges = [];
  const mark = OUTCOME_BADGES[entry.outcome];
  if (mark) badges.push(badge(mark[0], mark[1]));
  if (entry.delay_ms) badges.push(badge(`delayed ${Math.round(entry.delay_ms)} ms`, "warn"));
  if (entry.error) badges.push(badge("mock error", "bad"));
  return badges;
}

// Whether the client received the whole answer (a reset or truncated one never fully arrived).
function receivedWhole(entry) {
  return entry.outcome === "complete" || entry.outcome === "trickled";
}

// Body bytes as received: "120" when whole, "20 of 120" when cut short.
function bytesReceived(entry) {
  if (receivedWhole(entry) || entry.bytes_sent === null || entry.bytes_sent === undefined) {
    return entry.response_bytes ?? "";
  }
  return `${entry.bytes_sent} of ${entry.response_bytes ?? "?"}`;
}

function short(value, size = 12) {
  if (value === null || value === undefined) return "";
  const text = String(value);
  return text.length > size ? text.slice(0, size) + "…" : text;
}

function clock(seconds) {
  const d = new Date(seconds * 1000);
  return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

function json(value) {
  return JSON.stringify(value);
}

// A rule's parts in words: "status 503 body=\"busy\"", "operation=query", "nth=2".
function words(object, lead) {
  const parts = lead && object[lead] !== undefined ? [String(object[lead])] : [];
  for (const [key, value] of Object.entries(object)) if (key !== lead) parts.push(`${key}=${json(value)}`);
  return parts.join(" ") || "any";
}

// ---------------------------------------------------------------- views and refresh loop

const views = {};
let current = null;
let timer = null;

function show(name) {
  if (!views[name]) name = "overview";
  current = name;
  document.querySelectorAll(".view").forEach((v) => v.classList.toggle("active", v.id === "view-" + name));
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.view === name));
  refresh();
}

async function refresh() {
  clearTimeout(timer);
  const view = views[current];
  try {
    await view.refresh();
  } catch (error) {
    setStatus("error: " + error.message);
  }
  timer = setTimeout(refresh, view.every);
}

// ---------------------------------------------------------------- Overview

let lastOverview = null;

async function overview() {
  lastOverview = await api("overview");
  return lastOverview;
}

views.overview = {
  every: 2000,
  async refresh() {
    const o = await overview();
    fillTable(
      $("#ov-sources"),
      ["source", "partition", "records", "poll interval", "priority"],
      o.sources.map((s) =>
        el("tr", {}, el("td", {}, s.name), el("td", {}, s.partition), el("td", {}, s.records),
          el("td", {}, s.poll_interval ? s.poll_interval + " s" : "none"), el("td", {}, s.priority)),
      ),
    );
    $("#ov-login").textContent = o.any_login ? "Any non-empty login and password is accepted." : "Only the configured users may log in.";
    fillTable(
      $("#ov-users"),
      ["user", "configured", "clients"],
      o.users.map((u) => el("tr", {}, el("td", {}, u.name), el("td", {}, u.configured ? "yes" : "no"), el("td", {}, u.clients))),
      "no user has a client yet",
    );
    const rows = [];
    for (const c of o.clients) {
      const sources = Object.entries(c.sources);
      if (!sources.length) rows.push(el("tr", {}, el("td", {}, el("code", {}, c.id)), el("td", {}, c.user), el("td", { colspan: 5, className: "muted" }, "no page yet")));
      for (const [name, p] of sources) {
        rows.push(el("tr", {},
          el("td", {}, el("code", {}, c.id)), el("td", {}, c.user), el("td", {}, name),
          el("td", {}, p.acknowledged),
          el("td", {}, p.pending_token ? el("code", {}, p.pending_token) : el("span", { className: "muted" }, "none")),
          el("td", {}, p.pending_count ?? ""),
          el("td", {}, p.queued || "")));
      }
    }
    fillTable($("#ov-clients"), ["client", "user", "source", "acknowledged", "pending token", "pending page", "queued CUD"], rows, "no client yet");
    fillTable(
      $("#ov-faults"),
      ["rule", "match", "action", "hits", "fired", "state"],
      o.faults.map((r) => el("tr", {}, el("td", {}, r.id), el("td", {}, el("code", {}, words(r.match))),
        el("td", {}, el("code", {}, words(r.action, "type"))), el("td", {}, r.hits), el("td", {}, r.fired), el("td", {}, ruleState(r)))),
      "no rule",
    );
    fillTable(
      $("#ov-bulk"),
      ["partition", "owner", "sources", "files", "waits left"],
      o.bulk_jobs.map((j) => el("tr", {}, el("td", {}, j.partition), el("td", {}, j.owner), el("td", {}, j.sources.join(", ")),
        el("td", {}, j.files.join(", ")), el("td", {}, j.waits_left))),
      "no bulk job",
    );
    const jr = o.journal;
    $("#ov-journal").textContent = `Journal: ${jr.count} of at most ${jr.size} requests kept, ${jr.dropped} dropped; ${jr.errors} unexpected server errors.`;
  },
};

function ruleState(rule) {
  if (rule.paused) return badge("paused", "warn");
  if (rule.exhausted) return badge("exhausted");
  return badge("active", "ok");
}

// ---------------------------------------------------------------- Live journal

const journal = { entries: [], since: 0, selected: null, cleared: false };

views.journal = {
  every: 1000,
  async refresh() {
    const form = $("#jr-filters");
    if (form.paused.checked) return;
    const data = await api("journal?since=" + journal.since);
    // The server holds the entries numbered above last_seq - count: older ones were cleared or
    // dropped there, so they go here too.
    const oldest = data.last_seq - data.count;
    journal.entries = journal.entries.filter((e) => e.seq > oldest);
    journal.entries.push(...data.entries);
    if (journal.entries.length > JOURNAL_KEEP) journal.entries.splice(0, journal.entries.length - JOURNAL_KEEP);
    journal.since = data.last_seq;
    renderJournal();
  },
};

function journalFilter(entry) {
  const f = $("#jr-filters");
  const has = (field, value) => !value || String(entry[field] ?? "").includes(value);
  return (
    has("user", f.user.value.trim()) &&
    has("client_id", f.client_id.value.trim()) &&
    (!f.operation.value || entry.operation === f.operation.value) &&
    (has("source", f.source.value.trim()) || entry.sources.some((s) => s.includes(f.source.value.trim()))) &&
    (!f.status.value.trim() || String(entry.status ?? "").startsWith(f.status.value.trim())) &&
    (!f.faulted.checked || entry.faults.length > 0 || !receivedWhole(entry))
  );
}

function renderJournal() {
  const shown = journal.entries.filter(journalFilter).reverse();
  $("#jr-count").textContent = `${shown.length} of ${journal.entries.length} requests`;
  fillTable(
    $("#jr-table"),
    ["#", "time", "operation", "source", "user", "client", "status", "bytes", "ms", "faults", "delivery"],
    shown.slice(0, 500).map((e) =>
      el("tr", { className: (e.faults.length || !receivedWhole(e) ? "faulted " : "") + (e.seq === journal.selected ? "selected" : ""), "data-seq": e.seq, onclick: () => openEntry(e.seq) },
        el("td", {}, e.seq), el("td", {}, clock(e.time)), el("td", {}, e.operation), el("td", {}, e.source || e.sources.join(",")),
        el("td", {}, e.user || ""), el("td", {}, el("code", {}, short(e.client_id, 10))), el("td", {}, statusBadge(e.status)),
        el("td", {}, bytesReceived(e)), el("td", {}, e.duration_ms.toFixed(1)),
        el("td", {}, e.actions.map((a) => badge(a, "bad"))), el("td", {}, deliveryBadges(e)))),
    "no request yet",
  );
}

// What the client received, in words, from the entry's outcome, bytes_sent, delay_ms and error.
function deliveryNotes(e) {
  const notes = [];
  if (e.outcome === "reset_before_headers") {
    notes.push("The connection was reset before the status line: the client received no answer at all.");
  } else if (e.outcome === "reset_after_headers") {
    notes.push(`The connection was reset after the headers: the client received the status and headers and ${e.bytes_sent ?? 0} of ${e.response_bytes ?? "?"} body bytes.`);
  } else if (e.outcome === "truncated") {
    notes.push(`The answer was cut short: the client received ${e.bytes_sent ?? "?"} of the ${e.response_bytes ?? "?"} bytes announced, then the connection closed.`);
  } else if (e.outcome === "trickled") {
    notes.push("The answer was sent in small chunks, slowly (it arrived whole).");
  }
  if (e.delay_ms) notes.push(`The answer was held back ${Math.round(e.delay_ms)} ms.`);
  if (e.error) notes.push(`The mock raised an unexpected error (answered 500): ${e.error}`);
  return notes;
}

function openEntry(seq) {
  journal.selected = seq;
  const e = journal.entries.find((x) => x.seq === seq);
  if (!e) return;
  const target = e.path + (e.query_string ? "?" + e.query_string : "");
  const notes = deliveryNotes(e).map((text) => el("p", { className: "error" }, text));
  const parts = [
    el("h2", {}, `#${e.seq} ${e.operation}`, el("span", {}, statusBadge(e.status), deliveryBadges(e))),
    e.faults.length ? el("p", {}, "Faults: ", e.faults.map((f, i) => badge(`${f} (${e.actions[i]})`, "bad"))) : null,
    notes,
    el("h3", {}, "Request"),
    el("pre", {}, `${e.method} ${target}\n\n${e.request_body ?? "(no body)"}`),
    el("h3", {}, "Answer"),
    el("pre", {}, `${e.status ?? "(no status line)"} ${e.content_type ?? ""}  (${bytesReceived(e) || "?"} bytes, ${e.duration_ms.toFixed(1)} ms)\n\n${e.response_body ?? "(no body)"}`),
    el("p", { className: "muted" }, `user ${e.user ?? "-"} · client ${e.client_id ?? "-"} · token sent ${e.token_sent ?? "-"} · token issued ${e.token_issued ?? "-"}`),
  ];
  $("#jr-detail").replaceChildren(...parts.flat().filter((part) => part !== null));
  renderJournal();
}

// ---------------------------------------------------------------- Faults

let faultSchema = null;

const QUICK = [
  ["Next query answers 500", { match: { operation: "query" }, times: 1, action: { type: "status", status: 500 } }],
  ["Adapter error on the next create", { match: { operation: "cud" }, times: 1, action: { type: "adapter_error", stage: "create", message: "create failed (dashboard)" } }],
  ["Reset during the next page", { match: { operation: "query" }, times: 1, action: { type: "reset", at: "after_headers" } }],
  ["Expire the session", { times: 1, action: { type: "expire_session", after: 0 } }],
];

async function setUpFaults() {
  faultSchema = await api("fault_actions");
  const quick = $("#ft-quick");
  quick.replaceChildren(...QUICK.map(([label, rule]) => el("button", { type: "button", className: "secondary", onclick: () => addRule(rule) }, label)));
  const form = $("#ft-form");
  $("#ft-match").replaceChildren(
    el("label", {}, "operation ", el("select", { name: "m_operation" }, el("option", { value: "" }, "any"), faultSchema.operations.map((o) => el("option", {}, o)))),
    el("label", {}, "source ", el("input", { name: "m_source", size: 10 })),
    el("label", {}, "user ", el("input", { name: "m_user", size: 10 })),
    el("label", {}, "client ", el("input", { name: "m_client_id", size: 12 })),
    el("label", {}, "family ", el("select", { name: "m_family" }, el("option", { value: "" }, "any"), faultSchema.families.map((f) => el("option", {}, f)))),
  );
  form.when_kind.append(...faultSchema.when_keys.map((k) => el("option", {}, k)));
  form.action_type.replaceChildren(...Object.keys(faultSchema.actions).map((k) => el("option", {}, k)));
  form.action_type.value = "status";
  form.action_type.onchange = renderParams;
  renderParams();
  form.onsubmit = (event) => {
    event.preventDefault();
    try {
      addRule(ruleFromForm());
    } catch (error) {
      $("#ft-error").textContent = error.message;
    }
  };
  $("#ft-clear").onclick = async () => {
    await api("faults", { method: "DELETE" });
    refresh();
  };
}

function renderParams() {
  const kind = $("#ft-form").action_type.value;
  const spec = faultSchema.actions[kind];
  $("#ft-params").replaceChildren(
    ...Object.entries(spec.params).map(([name, schema]) => {
      const required = spec.required.includes(name);
      const label = name + (required ? " *" : "");
      const attrs = { name: "p_" + name, "data-type": schema.type || "json", required };
      let input;
      if (schema.enum) input = el("select", attrs, required ? null : el("option", { value: "" }, ""), schema.enum.map((v) => el("option", {}, v)));
      else if (schema.type === "boolean") input = el("input", { ...attrs, type: "checkbox", required: false });
      else if (schema.type === "integer" || schema.type === "number")
        input = el("input", { ...attrs, type: "number", step: schema.type === "integer" ? 1 : "any", min: schema.minimum, max: schema.maximum });
      else if (schema.type === "string") input = el("input", { ...attrs, type: "text" });
      else input = el("textarea", { ...attrs, placeholder: "JSON" });
      return el("label", {}, label + " ", input);
    }),
  );
}

function ruleFromForm() {
  const form = $("#ft-form");
  const rule = { match: {}, action: { type: form.action_type.value } };
  for (const key of ["operation", "source", "user", "client_id", "family"]) {
    const value = form["m_" + key].value.trim();
    if (value) rule.match[key] = value;
  }
  if (form.when_kind.value) rule.when = { [form.when_kind.value]: Number(form.when_value.value) };
  if (form.times.value) rule.times = Number(form.times.value);
  if (form.id.value.trim()) rule.id = form.id.value.trim();
  for (const input of $("#ft-params").querySelectorAll("[name^=p_]")) {
    const name = input.name.slice(2);
    const type = input.dataset.type;
    if (type === "boolean") {
      if (input.checked) rule.action[name] = true;
    } else if (input.value.trim() === "") {
      continue;
    } else if (type === "integer" || type === "number") {
      rule.action[name] = Number(input.value);
    } else if (type === "string") {
      rule.action[name] = input.value;
    } else {
      try {
        rule.action[name] = JSON.parse(input.value);
      } catch {
        rule.action[name] = input.value; // a plain string where a string is allowed (a body)
      }
    }
  }
  return rule;
}

async function addRule(rule) {
  try {
    await api("faults", { method: "POST", body: rule });
    $("#ft-error").textContent = "";
  } catch (error) {
    $("#ft-error").textContent = error.message;
  }
  refresh();
}

views.faults = {
  every: 2000,
  async refresh() {
    if (!faultSchema) await setUpFaults();
    const { faults } = await api("faults");
    fillTable(
      $("#ft-rules"),
      ["rule", "match / when / times", "action", "hits", "fired", "state", ""],
      faults.map((r) =>
        el("tr", { "data-rule": r.id },
          el("td", {}, r.id),
          el("td", {}, el("code", {}, words(r.match)), el("br"), el("span", { className: "muted" },
            `when ${words(r.when)}, times ${r.times ?? "∞"}`)),
          el("td", {}, el("code", {}, words(r.action, "type"))),
          el("td", {}, r.hits), el("td", {}, r.fired), el("td", {}, ruleState(r)),
          el("td", { className: "actions" },
            el("button", { type: "button", className: "secondary", onclick: () => pauseRule(r.id, !r.paused) }, r.paused ? "Resume" : "Pause"),
            " ",
            el("button", { type: "button", className: "danger", onclick: () => deleteRule(r.id) }, "Delete")))),
      "no rule: requests are answered normally",
    );
  },
};

async function pauseRule(id, paused) {
  await api(`faults/${encodeURIComponent(id)}/paused`, { method: "PUT", body: { paused } });
  refresh();
}

async function deleteRule(id) {
  await api(`faults/${encodeURIComponent(id)}`, { method: "DELETE" });
  refresh();
}

// ---------------------------------------------------------------- Data

const data = { offset: 0, limit: 50, matched: 0, attributes: [] };

async function setUpData() {
  const o = lastOverview || (await overview());
  const form = $("#dt-pick");
  if (!form.source.options.length) {
    form.source.replaceChildren(...o.sources.map((s) => el("option", {}, s.name)));
    form.onsubmit = (event) => {
      event.preventDefault();
      data.offset = 0;
      refresh();
    };
    form.source.onchange = () => {
      data.offset = 0;
      refresh();
    };
    $("#dt-prev").onclick = () => {
      data.offset = Math.max(0, data.offset - data.limit);
      refresh();
    };
    $("#dt-next").onclick = () => {
      if (data.offset + data.limit < data.matched) data.offset += data.limit;
      refresh();
    };
    $("#dt-add").onsubmit = (event) => {
      event.preventDefault();
      const add = event.target;
      const attrs = {};
      for (const input of $("#dt-add-attrs").querySelectorAll("input")) if (input.value !== "") attrs[input.name] = input.value;
      change({ insert: { [add.id.value.trim()]: attrs } }).then(() => add.reset());
    };
  }
  $("#dt-users").replaceChildren(...o.users.map((u) => el("option", { value: u.name })));
  if (!form.user.value && o.users.length) form.user.value = o.users[0].name;
  const source = o.sources.find((s) => s.name === form.source.value);
  const attributes = source ? source.attributes : [];
  if (json(attributes) !== json(data.attributes)) {
    data.attributes = attributes;
    $("#dt-add-attrs").replaceChildren(...attributes.map((a) => el("label", {}, a + " ", el("input", { name: a, size: 10 }))));
  }
}

function recordPath() {
  const form = $("#dt-pick");
  const user = form.user.value.trim() || "-";
  return `sources/${encodeURIComponent(form.source.value)}/users/${encodeURIComponent(user)}`;
}

async function change(body) {
  data.editing = null;
  try {
    await api(recordPath() + "/changes", { method: "POST", body });
    $("#dt-error").textContent = "";
  } catch (error) {
    $("#dt-error").textContent = error.message;
  }
  refresh();
}

function editRow(row, record) {
  const inputs = data.attributes.map((a) => el("input", { name: a, value: record.attributes[a] ?? "", size: 10 }));
  const save = () => {
    const attrs = {};
    for (const input of inputs) attrs[input.name] = input.value;
    change({ update: { [record.id]: attrs } });
  };
  row.replaceChildren(
    el("td", {}, el("code", {}, record.id)),
    ...inputs.map((i) => el("td", {}, i)),
    el("td", {}, el("button", { type: "button", onclick: save }, "Save"), " ",
      el("button", { type: "button", className: "secondary", onclick: () => { data.editing = null; refresh(); } }, "Cancel")),
  );
  data.editing = record.id;
}

views.data = {
  every: 3000,
  async refresh() {
    if (data.editing && document.querySelector("#dt-table input")) return; // do not wipe an edit
    data.editing = null;
    await setUpData();
    const form = $("#dt-pick");
    if (!form.source.value) return;
    const source = lastOverview.sources.find((s) => s.name === form.source.value);
    if (source && source.partition === "user" && !form.user.value.trim()) {
      $("#dt-count").textContent = "choose a user: each user has records of their own in this source";
      fillTable($("#dt-table"), ["id"], [], "no user chosen");
      return;
    }
    const query = new URLSearchParams({ offset: data.offset, limit: data.limit });
    if (form.q.value.trim()) query.set("q", form.q.value.trim());
    const answer = await api(recordPath() + "/browse?" + query);
    data.matched = answer.matched;
    $("#dt-count").textContent = answer.matched
      ? `${answer.offset + 1}–${answer.offset + answer.records.length} of ${answer.matched}` + (answer.matched !== answer.total ? ` (of ${answer.total} records)` : " records")
      : `no record matches (${answer.total} records)`;
    fillTable(
      $("#dt-table"),
      ["id", ...data.attributes, ""],
      answer.records.map((r) => {
        const row = el("tr", { "data-id": r.id });
        row.append(
          el("td", {}, el("code", {}, r.id)),
          ...data.attributes.map((a) => el("td", {}, r.attributes[a] ?? "")),
          el("td", {},
            el("button", { type: "button", className: "secondary", onclick: () => editRow(row, r) }, "Edit"), " ",
            el("button", { type: "button", className: "danger", onclick: () => change({ delete: [r.id] }) }, "Delete")),
        );
        return row;
      }),
      "no records",
    );
  },
};

// ---------------------------------------------------------------- Sync timeline

views.timeline = {
  every: 2000,
  async refresh() {
    const o = await overview();
    const select = $("#tl-pick").client_id;
    const ids = o.clients.map((c) => c.id);
    if (json([...select.options].map((x) => x.value)) !== json(ids)) {
      const keep = select.value;
      select.replaceChildren(...o.clients.map((c) => el("option", { value: c.id }, `${c.id} (${c.user})`)));
      if (ids.includes(keep)) select.value = keep;
      select.onchange = refresh;
    }
    if (!select.value) {
      $("#tl-summary").textContent = "no client yet";
      drawTimeline([]);
      fillTable($("#tl-table"), ["#"], []);
      return;
    }
    const { pages, total } = await api("timeline?limit=500&client_id=" + encodeURIComponent(select.value));
    const records = pages.reduce((n, p) => n + (p.count || 0), 0);
    const shown = total > pages.length ? `the newest ${pages.length} of ${total}` : `${total}`;
    $("#tl-summary").textContent = `${shown} page requests, ${records} records`;
    drawTimeline(pages);
    fillTable(
      $("#tl-table"),
      ["#", "time", "source", "status", "records", "total", "token sent", "token issued", "ms", "faults", "delivery"],
      pages.slice().reverse().map((p) =>
        el("tr", { className: p.faults.length || !receivedWhole(p) ? "faulted" : "" },
          el("td", {}, p.seq), el("td", {}, clock(p.time)), el("td", {}, p.source || ""), el("td", {}, statusBadge(p.status)),
          el("td", {}, p.count ?? ""), el("td", {}, p.total_count ?? ""), el("td", {}, el("code", {}, short(p.token_sent))),
          el("td", {}, el("code", {}, short(p.token_issued))), el("td", {}, p.duration_ms.toFixed(1)),
          el("td", {}, p.actions.map((a) => badge(a, "bad"))), el("td", {}, deliveryBadges(p)))),
    );
  },
};

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

// Pages as bars (records per page) over time, latency as a line on its own scale: a stalled
// client shows as a flat gap, a looping one as the same bar again and again.
function drawTimeline(pages) {
  const chart = $("#tl-chart");
  const width = chart.clientWidth || 960;
  const height = 300;
  const pad = { left: 56, right: 64, top: 16, bottom: 32 };
  chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
  chart.replaceChildren();
  if (!pages.length) {
    chart.append(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle", fill: "#6b7280" }, "no pages yet"));
    return;
  }
  const t0 = pages[0].time;
  const span = Math.max(pages[pages.length - 1].time - t0, 0.001);
  const maxCount = Math.max(1, ...pages.map((p) => p.count || 0));
  const maxMs = Math.max(1, ...pages.map((p) => p.duration_ms));
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const barW = Math.max(3, Math.min(24, (plotW / pages.length) * 0.6));
  const x = (t) => pad.left + barW + ((t - t0) / span) * (plotW - 2 * barW);
  const yCount = (n) => pad.top + plotH - (n / maxCount) * plotH;
  const yMs = (ms) => pad.top + plotH - (ms / maxMs) * plotH;
  chart.append(
    svg("line", { x1: pad.left, y1: pad.top + plotH, x2: width - pad.right, y2: pad.top + plotH, stroke: "#9ca3af" }),
    svg("line", { x1: pad.left, y1: pad.top, x2: pad.left, y2: pad.top + plotH, stroke: "#9ca3af" }),
    svg("text", { x: pad.left - 8, y: pad.top + 10, "text-anchor": "end", "font-size": 11, fill: "#2f6fdb" }, maxCount + " rec"),
    svg("text", { x: pad.left - 8, y: pad.top + plotH, "text-anchor": "end", "font-size": 11, fill: "#2f6fdb" }, "0"),
    svg("text", { x: width - pad.right + 6, y: pad.top + 10, "font-size": 11, fill: "#e68a00" }, maxMs.toFixed(0) + " ms"),
    svg("text", { x: pad.left, y: height - 8, "font-size": 11, fill: "#6b7280" }, "0 s"),
    svg("text", { x: width - pad.right, y: height - 8, "text-anchor": "end", "font-size": 11, fill: "#6b7280" }, span.toFixed(2) + " s"),
  );
  const points = [];
  for (const p of pages) {
    const bad = p.faults.length > 0 || p.status !== 200 || !receivedWhole(p);
    const count = p.count || 0;
    // A failed page spans the height, faintly; an empty page is a small grey stub.
    const top = bad && !count ? pad.top : Math.min(yCount(count), pad.top + plotH - 3);
    const bar = svg("rect", {
      x: x(p.time) - barW / 2, y: top, width: barW, height: pad.top + plotH - top,
      fill: bad ? "#c62828" : count ? "#7fa8ff" : "#9ca3af", "fill-opacity": bad && !count ? 0.25 : 0.9, class: "page",
      "data-seq": p.seq,
    });
    const how = receivedWhole(p) ? "" : `, ${p.outcome.replaceAll("_", " ")}`;
    const held = p.delay_ms ? `, delayed ${Math.round(p.delay_ms)} ms` : "";
    bar.append(svg("title", {}, `#${p.seq} ${p.source ?? ""} ${p.status ?? "no status"}${how}: ${p.count ?? "-"} records, ${p.duration_ms.toFixed(1)} ms${held}` + (p.actions.length ? ` (${p.actions.join(", ")})` : "")));
    chart.append(bar);
    points.push(`${x(p.time).toFixed(1)},${yMs(p.duration_ms).toFixed(1)}`);
  }
  chart.append(svg("polyline", { points: points.join(" "), fill: "none", stroke: "#e68a00", "stroke-width": 1.5 }));
  for (const point of points) {
    const [cx, cy] = point.split(",");
    chart.append(svg("circle", { cx, cy, r: 2.5, fill: "#e68a00" }));
  }
}

// ---------------------------------------------------------------- start

async function start() {
  const operations = $("#jr-filters").operation;
  try {
    const index = await api("");
    operations.append(...index.operations.map((o) => el("option", {}, o)));
  } catch (error) {
    setStatus("error: " + error.message);
  }
  $("#jr-filters").addEventListener("input", renderJournal);
  $("#jr-filters").addEventListener("submit", (event) => event.preventDefault());
  window.addEventListener("hashchange", () => show(location.hash.slice(1)));
  show(location.hash.slice(1));
}

start();
