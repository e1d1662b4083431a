// Sluice web console: a hash-routed single page over the JSON admin API
// (/api/v1, see docs/http-api.md). No framework, no build step. Every value
// from the broker is put into the page with textContent, never as HTML.
"use strict";

const POLL_MS = 2000;
const main = document.getElementById("main");
let view = null;      // the current view: {refresh(), stop?()}
let timer = null;

// ---- helpers ----

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function td(text, cls) { return el("td", { class: cls || "", text: String(text) }); }

async function api(path, opts) {
  const res = await fetch("/api/v1" + path, opts);
  if (res.status === 204) return null;
  const body = await res.json().catch(() => ({ error: res.statusText }));
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

function fmtNum(n) { return Number(n).toLocaleString("en-US"); }
function fmtRate(n) {
  if (n >= 1000) return fmtNum(Math.round(n));
  if (n >= 10) return n.toFixed(0);
  return n ? n.toFixed(1) : "0";
}
function fmtBytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + units[i];
}
function fmtDuration(s) {
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  if (d) return d + "d " + h + "h";
  if (h) return h + "h " + m + "m";
  if (m) return m + "m " + (s % 60) + "s";
  return s + "s";
}

function fill(root, values) {
  for (const [k, v] of Object.entries(values)) {
    const e = root.querySelector('[data-f="' + k + '"]');
    if (e) e.textContent = v;
  }
}

let toastTimer = null;
function toast(text, isError) {
  const t = document.getElementById("toast");
  t.textContent = text;
  t.className = "toast" + (isError ? " error" : "");
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, isError ? 6000 : 3000);
}

function setLive(ok) {
  const s = document.getElementById("status");
  s.className = "status" + (ok ? "" : " down");
  s.textContent = ok ? "\u25CF live" : "\u25CF unreachable";
}

function mount(id) {
  main.replaceChildren(document.getElementById(id).content.cloneNode(true));
}

function replaceRows(tbody, rows) { tbody.replaceChildren(...rows); }

function sparkline(svg, values) {
  const w = 300, h = 60, n = values.length;
  const top = Math.max(...values, 1);
  const pts = values.map((v, i) => [n > 1 ? i * w / (n - 1) : w, h - 2 - (v / top) * (h - 6)]);
  const line = pts.map(p => p[0].toFixed(1) + "," + p[1].toFixed(1)).join(" ");
  const ns = "http://www.w3.org/2000/svg";
  const area = document.createElementNS(ns, "polygon");
  area.setAttribute("class", "area");
  area.setAttribute("points", n ? "0," + h + " " + line + " " + w + "," + h : "");
  const pl = document.createElementNS(ns, "polyline");
  pl.setAttribute("class", "line");
  pl.setAttribute("points", line);
  svg.replaceChildren(area, pl);
}

// ---- views ----

function overviewView() {
  mount("tpl-overview");
  return {
    async refresh() {
      const o = await api("/overview");
      fill(main, {
        node: "Node " + o.broker.nodeId, endpoint: o.broker.endpoint,
        version: o.version, go: o.goVersion,
        uptime: fmtDuration(o.uptimeSeconds), started: "since " + new Date(o.startedAt).toLocaleString(),
        topics: o.topics + " \u00B7 " + o.partitions, size: fmtBytes(o.sizeBytes) + " on disk", health: topicHealth(o).text,
        msgRate: fmtRate(o.rates.messagesInPerSec), msgTotal: fmtNum(o.totals.messagesIn) + " since start",
        inRate: fmtBytes(o.rates.bytesInPerSec), inTotal: fmtBytes(o.totals.bytesIn) + " since start",
        outRate: fmtBytes(o.rates.bytesOutPerSec), outTotal: fmtBytes(o.totals.bytesOut) + " since start",
        cluster: "Cluster " + o.broker.clusterId,
      });
      for (const svg of main.querySelectorAll("[data-spark]")) {
        sparkline(svg, o.history.map(s => s[svg.dataset.spark]));
      }
    },
  };
}

function topicsView() {
  mount("tpl-topics");
  const form = document.getElementById("create-form");
  const showInternal = document.getElementById("show-internal");
  for (const b of main.querySelectorAll('[data-act="toggle-create"]')) {
    b.addEventListener("click", () => { form.hidden = !form.hidden; if (!form.hidden) form.name.focus(); });
  }
  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    const body = { name: form.name.value.trim(), configs: {} };
    if (form.partitions.value) body.partitions = Number(form.partitions.value);
    for (const pair of form.configs.value.split(/[,\n]/)) {
      const p = pair.trim();
      if (!p) continue;
      const i = p.indexOf("=");
      if (i < 1) { toast("Configs must be key=value pairs: " + p, true); return; }
      body.configs[p.slice(0, i).trim()] = p.slice(i + 1).trim();
    }
    try {
      await api("/topics", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      toast("Created topic " + body.name);
      form.reset();
      form.hidden = true;
      v.refresh();
    } catch (e) { toast(e.message, true); }
  });
  showInternal.addEventListener("change", () => v.refresh());
  const v = {
    async refresh() {
      const topics = (await api("/topics")).filter(t => showInternal.checked || !t.internal);
      document.getElementById("topics-empty").hidden = topics.length > 0;
      replaceRows(document.getElementById("topic-rows"), topics.map(t => {
        const name = el("td", {}, el("a", { href: "#/topics/" + encodeURIComponent(t.name), text: t.name }));
        if (t.internal) name.append(" ", el("span", { class: "tag internal", text: "internal" }));
        return el("tr", {}, name,
          td(t.partitions.length, "num"), healthCell(t), td(fmtNum(t.messages), "num"), td(fmtBytes(t.sizeBytes), "num"),
          td(fmtRate(t.messagesInPerSec), "num"), td(fmtBytes(t.bytesInPerSec), "num"), td(fmtBytes(t.bytesOutPerSec), "num"),
          el("td", { class: "actions" },
            el("a", { class: "button small", href: "#/messages/" + encodeURIComponent(t.name), text: "Browse" }), " ",
            el("button", { class: "small danger", text: "Delete", onclick: () => deleteTopic(t.name, () => v.refresh()) })));
      }));
    },
  };
  return v;
}

// topicHealth sums up a topic's ISR health: its offline partitions (no
// leader) and under-replicated ones (ISR smaller than the replicas).
function topicHealth(t) {
  const parts = [];
  if (t.offline) parts.push(t.offline + " offline");
  if (t.underReplicated) parts.push(t.underReplicated + " under-replicated");
  if (!parts.length) return { text: "in sync", cls: "health-ok" };
  return { text: parts.join(" \u00B7 "), cls: t.offline ? "health-offline" : "health-under" };
}

function healthCell(t) {
  const h = topicHealth(t);
  return td(h.text, h.cls);
}

// partitionStatus is one partition's ISR health.
function partitionStatus(p) {
  if (p.leader < 0) return td("offline", "health-offline");
  if (p.underReplicated) return td("under-replicated", "health-under");
  return td("in sync", "health-ok");
}

async function deleteTopic(name, then) {
  if (!confirm("Delete topic " + name + " and all its messages? This cannot be undone.")) return;
  try {
    await api("/topics/" + encodeURIComponent(name), { method: "DELETE" });
    toast("Deleted topic " + name);
    then();
  } catch (e) { toast(e.message, true); }
}

function topicView(name) {
  mount("tpl-topic");
  const showDefaults = document.getElementById("show-defaults");
  main.querySelector('[data-f="browse"]').href = "#/messages/" + encodeURIComponent(name);
  main.querySelector('[data-act="delete"]').addEventListener("click", () => deleteTopic(name, () => { location.hash = "#/topics"; }));
  showDefaults.addEventListener("change", () => v.refresh());
  const v = {
    async refresh() {
      const t = await api("/topics/" + encodeURIComponent(name));
      fill(main, { name: t.name, partitions: t.partitions.length, health: topicHealth(t).text, messages: fmtNum(t.messages), size: fmtBytes(t.sizeBytes), rate: fmtRate(t.messagesInPerSec) });
      replaceRows(document.getElementById("partition-rows"), t.partitions.map(p => el("tr", {},
        td(p.partition, "num"), td(p.leader < 0 ? "none" : p.leader, "num"),
        td(p.replicas.join(", "), "mono"), td(p.isr.join(", "), "mono"), partitionStatus(p),
        td(fmtNum(p.logStartOffset), "num"), td(fmtNum(p.highWatermark), "num"),
        td(fmtNum(p.logEndOffset), "num"), td(fmtBytes(p.sizeBytes), "num"),
        el("td", { class: "actions" }, el("a", { class: "button small", text: "Browse",
          href: "#/messages/" + encodeURIComponent(name) + "/" + p.partition })))));
      const configs = t.configs.filter(c => showDefaults.checked || c.source === "DYNAMIC_TOPIC_CONFIG" || c.source === "STATIC_BROKER_CONFIG");
      replaceRows(document.getElementById("config-rows"), configs.map(c => el("tr", { class: c.source === "DYNAMIC_TOPIC_CONFIG" ? "override" : "" },
        td(c.name, "mono"), td(c.sensitive ? "(hidden)" : c.value, "mono wrap"), td(c.source))));
      if (!configs.length) {
        replaceRows(document.getElementById("config-rows"), [el("tr", {}, el("td", { colspan: "3", class: "muted", text: "No overrides: every config has its default. Tick \u201Cshow defaults\u201D to list them." }))]);
      }
    },
  };
  return v;
}

function payloadNode(p) {
  if (p.encoding === "null") return el("span", { class: "null", text: "null" });
  const pre = el("pre", { text: p.data + (p.truncated ? "\u2026" : "") });
  const note = p.encoding === "text" ? "" : p.encoding;
  const meta = el("span", { class: "enc", text: [note, fmtBytes(p.size), p.truncated ? "truncated" : ""].filter(Boolean).join(" \u00B7 ") });
  return el("div", { class: "payload" }, pre, meta);
}

function messagesView(topic, partition) {
  mount("tpl-messages");
  const form = document.getElementById("seek-form");
  const list = document.getElementById("message-list");
  const next = main.querySelector('[data-act="next"]');
  let nextOffset = null;
  let topics = [];

  function showMode() {
    for (const l of form.querySelectorAll("[data-mode]")) l.hidden = l.dataset.mode !== form.mode.value;
  }
  function fillPartitions() {
    const t = topics.find(t => t.name === form.topic.value);
    const keep = form.partition.value;
    form.partition.replaceChildren(...(t ? t.partitions : []).map(p => el("option", { value: p.partition, text: String(p.partition) })));
    if (keep && t && keep < t.partitions.length) form.partition.value = keep;
  }
  async function load(offset) {
    const q = new URLSearchParams({ partition: form.partition.value || "0", limit: form.limit.value || "50" });
    if (offset !== undefined) q.set("offset", offset);
    else if (form.mode.value === "timestamp") {
      if (!form.time.value) { toast("Pick a time to seek to.", true); return; }
      q.set("timestamp", String(new Date(form.time.value).getTime()));
    } else if (form.mode.value === "offset") q.set("offset", form.offset.value || "0");
    else q.set("offset", form.mode.value);
    try {
      const r = await api("/topics/" + encodeURIComponent(form.topic.value) + "/messages?" + q);
      render(r);
    } catch (e) { toast(e.message, true); }
  }
  function render(r) {
    nextOffset = r.nextOffset;
    next.disabled = r.nextOffset >= r.highWatermark;
    document.getElementById("range").textContent = "Partition " + r.partition + ": offsets " + fmtNum(r.logStartOffset) +
      " to " + fmtNum(Math.max(r.highWatermark - 1, r.logStartOffset)) + " (high watermark " + fmtNum(r.highWatermark) + "). Showing " +
      r.messages.length + (r.messages.length ? " from offset " + fmtNum(r.messages[0].offset) : "") + ".";
    if (!r.messages.length) {
      list.replaceChildren(el("p", { class: "empty", text: "No messages here." }));
      return;
    }
    list.replaceChildren(...r.messages.map(m => {
      const body = el("div", { class: "msg-body" },
        el("div", { class: "k", text: "Key" }), payloadNode(m.key),
        el("div", { class: "k", text: "Value" }), payloadNode(m.value));
      if (m.headers.length) {
        body.append(el("div", { class: "k", text: "Headers" }), el("div", {}, ...m.headers.map(h =>
          el("div", { class: "hdr" }, el("b", { text: h.key + ": " }), h.value.encoding === "null" ? el("span", { class: "null", text: "null" }) : h.value.data,
            h.value.encoding === "hex" ? el("span", { class: "enc", text: " hex" }) : ""))));
      }
      return el("div", { class: "msg" },
        el("div", { class: "msg-head" },
          el("span", {}, "offset ", el("b", { text: String(m.offset) })),
          el("span", {}, "partition ", el("b", { text: String(m.partition) })),
          el("span", { title: m.time }, "timestamp ", el("b", { text: new Date(m.timestamp).toLocaleString() + " (" + m.timestamp + ")" }))),
        body);
    }));
  }
  form.mode.addEventListener("change", showMode);
  form.topic.addEventListener("change", () => { fillPartitions(); load(); });
  form.partition.addEventListener("change", () => load());
  form.addEventListener("submit", ev => { ev.preventDefault(); load(); });
  next.addEventListener("click", () => { if (nextOffset !== null) load(String(nextOffset)); });

  const v = {
    async refresh() {
      // Only the topic list refreshes; messages change when asked.
      const fresh = await api("/topics");
      const shape = ts => ts.map(t => t.name + "/" + t.partitions.length).join(",");
      if (shape(fresh) === shape(topics)) return; // leave an open menu alone
      topics = fresh;
      const keep = form.topic.value || topic;
      form.topic.replaceChildren(...topics.map(t => el("option", { value: t.name, text: t.name + (t.internal ? " (internal)" : "") })));
      if (keep && topics.some(t => t.name === keep)) form.topic.value = keep;
      else {
        const first = topics.find(t => !t.internal);
        if (first) form.topic.value = first.name;
      }
      fillPartitions();
      if (partition !== undefined) { form.partition.value = partition; partition = undefined; }
      if (!v.loaded && form.topic.value) { v.loaded = true; load(); }
    },
    loaded: false,
  };
  showMode();
  return v;
}

function groupsView() {
  mount("tpl-groups");
  return {
    async refresh() {
      const groups = await api("/groups");
      document.getElementById("groups-empty").hidden = groups.length > 0;
      replaceRows(document.getElementById("group-rows"), groups.map(g => el("tr", {},
        el("td", {}, el("a", { href: "#/groups/" + encodeURIComponent(g.group), text: g.group })),
        td(g.state, "state-" + g.state), td(g.protocolType || "\u2013"), td(g.members, "num"),
        td(fmtNum(g.totalLag), "num" + (g.totalLag > 0 ? " lag-high" : "")))));
    },
  };
}

function groupView(id) {
  mount("tpl-group");
  return {
    async refresh() {
      const g = await api("/groups/" + encodeURIComponent(id));
      fill(main, { name: g.group, state: g.state, protocol: [g.protocolType, g.protocol].filter(Boolean).join(" \u00B7 "),
        members: g.members.length, lag: fmtNum(g.totalLag) });
      main.querySelector('[data-f="state"]').className = "big state-" + g.state;
      const dash = v => v < 0 ? "\u2013" : fmtNum(v);
      replaceRows(document.getElementById("offset-rows"), g.offsets.map(o => el("tr", {},
        el("td", {}, el("a", { href: "#/topics/" + encodeURIComponent(o.topic), text: o.topic })),
        td(o.partition, "num"), td(dash(o.currentOffset), "num"), td(dash(o.logEndOffset), "num"),
        td(dash(o.lag), "num" + (o.lag > 0 ? " lag-high" : "")),
        td(o.memberId || "\u2013", "mono wrap"), td(o.host || "\u2013"), td(o.clientId || "\u2013"))));
      replaceRows(document.getElementById("member-rows"), g.members.map(m => el("tr", {},
        td(m.memberId, "mono wrap"), td(m.clientId), td(m.clientHost),
        td(Object.entries(m.assignments).map(([t, ps]) => t + " [" + ps.join(", ") + "]").join("; ") || "\u2013", "mono"))));
    },
  };
}

// ---- routing and polling ----

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const page = parts[0] || "overview";
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === page);
  clearTimeout(timer);
  switch (page) {
    case "topics": view = parts[1] ? topicView(parts[1]) : topicsView(); break;
    case "messages": view = messagesView(parts[1], parts[2]); break;
    case "groups": view = parts[1] ? groupView(parts[1]) : groupsView(); break;
    default: view = overviewView();
  }
  poll(view);
}

async function poll(v) {
  if (v !== view) return;
  try {
    await v.refresh();
    setLive(true);
  } catch (e) {
    setLive(false);
    if (!v.warned) { toast(e.message, true); v.warned = true; }
  }
  if (v === view && !document.hidden) timer = setTimeout(() => poll(v), POLL_MS);
}

document.addEventListener("visibilitychange", () => { if (!document.hidden && view) { clearTimeout(timer); poll(view); } });
window.addEventListener("hashchange", route);
route();
