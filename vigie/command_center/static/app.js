// Vigie command center page: SVG map of the city's sectors, incidents pushed by Server-Sent
// Events, evidence and context on click, acknowledgements for operators. No library, no
// network beyond this server. All text from the data is set with textContent (no HTML).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const state = { incidents: new Map(), selected: null, me: null, proj: null, source: null };

function el(tag, attrs = {}, text) {
  const node = tag === "svg" || ["g", "path", "circle", "text"].includes(tag)
    ? document.createElementNS(SVG, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

async function getJSON(url) {
  const r = await fetch(url, { credentials: "same-origin" });
  if (r.status === 401) { location.href = "/login"; throw new Error("signed out"); }
  if (!r.ok) throw new Error(url + ": " + r.status);
  return r.json();
}

// Equirectangular projection scaled by cos(latitude): fine at a city's scale.
function makeProjection(bounds) {
  const [minLon, minLat, maxLon, maxLat] = bounds;
  const k = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);
  const pad = 0.01 * Math.max(maxLon - minLon, maxLat - minLat);
  const w = (maxLon - minLon + 2 * pad) * k, h = maxLat - minLat + 2 * pad;
  return {
    x: (lon) => (lon - minLon + pad) * k,
    y: (lat) => maxLat + pad - lat,
    viewBox: `0 0 ${w} ${h}`,
    r: Math.max(w, h) / 90,
  };
}

function drawMap(city) {
  document.getElementById("city").textContent = city.name ? "— " + city.name : "";
  if (!city.bounds) return;
  state.proj = makeProjection(city.bounds);
  const svg = document.getElementById("map");
  svg.setAttribute("viewBox", state.proj.viewBox);
  const layer = document.getElementById("sectors");
  layer.replaceChildren();
  for (const sector of city.sectors) {
    const d = sector.rings.map((ring) => "M" + ring.map(
      ([lon, lat]) => `${state.proj.x(lon)},${state.proj.y(lat)}`).join("L") + "Z").join(" ");
    const path = el("path", { d, class: "sector", "data-sector-id": sector.id });
    path.appendChild(el("title", {}, `${sector.name} (${sector.id})`));
    layer.appendChild(path);
  }
}

function fitToIncidents() {
  if (state.proj || state.incidents.size === 0) return;
  const pts = [...state.incidents.values()];
  const lons = pts.map((i) => i.lon), lats = pts.map((i) => i.lat);
  const span = 0.01;
  drawMap({ name: "", sectors: [], bounds: [Math.min(...lons) - span, Math.min(...lats) - span,
    Math.max(...lons) + span, Math.max(...lats) + span] });
}

function render() {
  fitToIncidents();
  const sorted = [...state.incidents.values()].sort(
    (a, b) => b.severity - a.severity || b.last_event_time.localeCompare(a.last_event_time));
  document.getElementById("count").textContent = String(sorted.length);
  const layer = document.getElementById("incidents");
  layer.replaceChildren();
  const list = document.getElementById("list");
  list.replaceChildren();
  // The map draws the least severe first, so the most severe stay on top.
  for (const inc of state.proj ? [...sorted].reverse() : []) {
    const cls = `incident sev${inc.severity}` + (inc.ack ? " acked" : "")
      + (inc.incident_id === state.selected ? " selected" : "");
    const c = el("circle", { cx: state.proj.x(inc.lon), cy: state.proj.y(inc.lat),
      r: state.proj.r * (0.6 + inc.severity * 0.15), class: cls,
      "data-incident-id": inc.incident_id });
    c.appendChild(el("title", {}, `${inc.category} (severity ${inc.severity})`));
    c.addEventListener("click", () => select(inc.incident_id));
    layer.appendChild(c);
  }
  for (const inc of sorted) {
    const li = el("li", { "data-incident-id": inc.incident_id,
      class: inc.incident_id === state.selected ? "selected" : "" });
    li.appendChild(el("span", { class: `badge sev${inc.severity}` }, inc.severity));
    li.appendChild(el("span", {}, `${inc.category} · ${inc.sector || "-"} · ${inc.status_text}`));
    li.addEventListener("click", () => select(inc.incident_id));
    list.appendChild(li);
  }
  if (state.selected && state.incidents.has(state.selected)) showDetail(state.incidents.get(state.selected));
}

function row(tbody, cells) {
  const tr = el("tr");
  for (const c of cells) tr.appendChild(el("td", {}, c));
  tbody.appendChild(tr);
}

const short = (id) => (id || "").slice(0, 8);

function showDetail(inc) {
  const detail = document.getElementById("detail");
  detail.hidden = false;
  detail.dataset.incidentId = inc.incident_id;
  document.getElementById("detail-title").textContent =
    `${inc.category} — severity ${inc.severity}`;
  document.getElementById("detail-summary").textContent =
    `${inc.status_text} · sector ${inc.sector || "-"} · sources ${inc.sources.join(", ")} · ` +
    `confidence ${Math.round(inc.confidence * 100)}% · v${inc.version} · ${inc.incident_id}`;
  document.getElementById("detail-explanation").textContent = inc.explanation || "";
  const tl = document.querySelector("#timeline tbody");
  tl.replaceChildren();
  for (const e of inc.timeline) {
    row(tl, [e.time ? e.time.slice(11, 19) + "Z" : "?", e.source || "(not seen)", e.kind || "?",
      short(e.event_id)]);
  }
  const links = document.querySelector("#links tbody");
  links.replaceChildren();
  for (const l of inc.links) {
    row(links, [l.rule, `${short(l.event_a)} ↔ ${short(l.event_b)}`,
      `${Math.round(l.distance_m)} m`, `${l.time_gap_s.toFixed(0)} s`]);
  }
  if (inc.links.length === 0) row(links, ["(single event)", "", "", ""]);
  const ctx = document.getElementById("context");
  ctx.replaceChildren();
  const items = [
    ["weather alerts", inc.context.weather_alerts.map(short).join(", ") || "none"],
    ["weather observation", inc.context.weather_observation ? short(inc.context.weather_observation) : "none"],
    ["permits", inc.context.permits.map(short).join(", ") || "none"],
    ["affected lines", inc.context.affected_lines.join(", ") || "none"],
  ];
  for (const [k, v] of items) { ctx.appendChild(el("dt", {}, k)); ctx.appendChild(el("dd", {}, v)); }
  const a = inc.ack;
  document.getElementById("ack-status").textContent = a
    ? `${a.action}${a.assignee ? " to " + a.assignee : ""} by ${a.operator} at ${a.at}${a.note ? " — " + a.note : ""}`
    : "not acknowledged yet";
}

const VIEWER_NOTE = "viewers cannot acknowledge";

function select(id) {
  state.selected = id;
  document.getElementById("ack-message").textContent =
    state.me && state.me.role !== "operator" ? VIEWER_NOTE : "";
  render();
}

async function sendAck(action) {
  const id = state.selected;
  if (!id) return;
  const msg = document.getElementById("ack-message");
  const body = { incident_id: id, action, note: document.getElementById("note").value || null };
  if (action === "assign") body.assignee = document.getElementById("assignee").value || null;
  msg.className = ""; msg.textContent = "sending…";
  const r = await fetch("/api/acks", { method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-Vigie-Request": "1" },
    body: JSON.stringify(body) });
  const data = await r.json().catch(() => ({}));
  if (r.ok) { msg.textContent = `${data.action} recorded (${data.ack_id})`; msg.dataset.ackId = data.ack_id; }
  else { msg.className = "error"; msg.textContent = data.error || `error ${r.status}`; }
}

function setConn(text) {
  const c = document.getElementById("conn");
  c.textContent = text;
  c.className = "conn " + text;
}

function connect() {
  if (state.source) state.source.close();
  const min = document.getElementById("min-severity").value;
  const closed = document.getElementById("closed").checked ? "&closed=1" : "";
  const source = new EventSource(`/api/stream?min_severity=${encodeURIComponent(min)}${closed}`);
  state.source = source;
  source.addEventListener("snapshot", (ev) => {
    const data = JSON.parse(ev.data);
    state.incidents = new Map(data.incidents.map((i) => [i.incident_id, i]));
    setConn(data.state);
    render();
  });
  source.addEventListener("incident", (ev) => {
    const inc = JSON.parse(ev.data);
    state.incidents.set(inc.incident_id, inc);
    render();
  });
  source.addEventListener("remove", (ev) => {
    state.incidents.delete(JSON.parse(ev.data).incident_id);
    render();
  });
  source.addEventListener("state", (ev) => setConn(JSON.parse(ev.data).state));
  source.onerror = () => setConn("reconnecting");  // EventSource retries by itself
}

async function main() {
  state.me = await getJSON("/api/me");
  document.getElementById("who").textContent = `${state.me.login} (${state.me.role})`;
  if (state.me.role !== "operator") {
    for (const b of document.querySelectorAll("#ack-form button, #ack-form input")) b.disabled = true;
    document.getElementById("ack-message").textContent = VIEWER_NOTE;
  }
  drawMap(await getJSON("/api/map"));
  document.getElementById("ack-btn").addEventListener("click", () => sendAck("ack"));
  document.getElementById("assign-btn").addEventListener("click", () => sendAck("assign"));
  document.getElementById("release-btn").addEventListener("click", () => sendAck("release"));
  document.getElementById("min-severity").addEventListener("change", connect);
  document.getElementById("closed").addEventListener("change", connect);
  connect();
}

main();
