// The page of `xcos serve`: uploads two photos (or one, for identification), draws the aligned faces with the 7x7
// grid and the maps the API returns, and says per cell what it holds. No libraries; everything comes from this server.
"use strict";

const $ = (s, root = document) => root.querySelector(s);
const SCALE = 2;
let info = null;
let verifyResult = null;
let identifyResult = null;
let selectedMatch = 0;
let activeCell = -1;

const fmt = (v, d = 3) => (v === null || v === undefined || Number.isNaN(v)) ? "n/a" : Number(v).toFixed(d);
const flat = m => m ? (Array.isArray(m[0]) ? m.flat() : m) : null;

function headers() {
  const key = $("#api-key").value.trim();
  return key ? { "X-Api-Key": key } : {};
}

async function loadInfo() {
  try {
    const r = await fetch("/v1/info", { headers: headers() });
    info = await r.json();
  } catch { info = null; }
  if (!info) { $("#model-line").textContent = "The server did not answer /v1/info."; return; }
  $(".key-field").hidden = !info.api_key_required;
  if (!info.ready) { $("#model-line").textContent = "The models are loading; the first answer waits for them."; setTimeout(loadInfo, 2000); }
  else $("#model-line").textContent = `Model ready: the cosine decides against ${fmt(info.threshold, 4)}, xCos (${info.xcos_variant}) explains it. Faces are aligned to ${info.face_size}×${info.face_size}.`;
  $("#gallery-line").textContent = info.gallery
    ? `Gallery: ${info.gallery.faces} faces of ${info.gallery.identities} identities.`
    : "This server has no gallery (start it with --gallery FILE to identify people).";
  $("#identify-button").disabled = !info.gallery;
}

// ---- tabs (arrow keys move between them, as the ARIA tabs pattern says)
const tabs = [...document.querySelectorAll('[role="tab"]')];
function selectTab(tab) {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute("aria-selected", on);
    t.tabIndex = on ? 0 : -1;
    $("#" + t.getAttribute("aria-controls")).hidden = !on;
  }
  tab.focus();
}
for (const t of tabs) {
  t.addEventListener("click", () => selectTab(t));
  t.addEventListener("keydown", e => {
    const i = tabs.indexOf(t);
    if (e.key === "ArrowRight") selectTab(tabs[(i + 1) % tabs.length]);
    if (e.key === "ArrowLeft") selectTab(tabs[(i + tabs.length - 1) % tabs.length]);
  });
}

// ---- choosing or dropping photos
for (const drop of document.querySelectorAll(".drop")) {
  const input = drop.querySelector("input");
  const show = () => {
    const f = input.files[0];
    const img = drop.querySelector("img");
    if (!f) return;
    img.src = URL.createObjectURL(f);
    img.alt = "Preview of " + f.name;
    img.hidden = false;
    drop.querySelector(".drop-hint").textContent = f.name;
  };
  input.addEventListener("change", show);
  drop.addEventListener("dragover", e => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", e => {
    e.preventDefault();
    drop.classList.remove("over");
    if (!e.dataTransfer.files.length) return;
    const dt = new DataTransfer();
    dt.items.add(e.dataTransfer.files[0]);
    input.files = dt.files;
    show();
  });
}

function explainError(body, status) {
  const part = body && body.part ? ` (${body.part})` : "";
  return body && body.error ? `${body.error}${part}: ${body.detail}` : `the server answered ${status}`;
}

async function post(url, form, statusEl, button) {
  statusEl.className = "";
  statusEl.textContent = "Working…";
  button.disabled = true;
  try {
    const r = await fetch(url, { method: "POST", body: form, headers: headers() });
    const body = await r.json().catch(() => null);
    if (!r.ok) {
      statusEl.className = "error";
      statusEl.textContent = explainError(body, r.status) + (r.headers.get("Retry-After") ? ` Retry in ${r.headers.get("Retry-After")} s.` : "");
      return null;
    }
    statusEl.textContent = "";
    return body;
  } catch (e) {
    statusEl.className = "error";
    statusEl.textContent = "The request failed: " + e.message;
    return null;
  } finally {
    button.disabled = false;
  }
}

// ---- drawing: face, map overlay, grid, active cell
function loadImage(b64) {
  return new Promise((ok, fail) => { const i = new Image(); i.onload = () => ok(i); i.onerror = fail; i.src = "data:image/png;base64," + b64; });
}

function colour(kind, v, scale) {
  if (kind === "attention") return `rgba(0,0,0,${(0.72 * (1 - Math.min(1, v / scale))).toFixed(3)})`;
  const a = 0.08 + 0.5 * Math.min(1, Math.abs(v) / scale);
  return v >= 0 ? `rgba(214,39,40,${a.toFixed(3)})` : `rgba(31,119,180,${a.toFixed(3)})`;
}

function draw(host) {
  const { img, map, kind } = host._view;
  const c = host.querySelector("canvas");
  const g = c.getContext("2d");
  const side = Math.round(Math.sqrt(map.length));
  const cell = c.width / side;
  g.imageSmoothingEnabled = true;
  g.drawImage(img, 0, 0, c.width, c.height);
  const scale = kind === "attention" ? Math.max(...map) : Math.max(1e-9, ...map.map(Math.abs));
  for (let i = 0; i < map.length; i++) {
    g.fillStyle = colour(kind, map[i], scale);
    g.fillRect((i % side) * cell, Math.floor(i / side) * cell, cell, cell);
  }
  g.strokeStyle = "rgba(255,255,255,0.55)";
  g.lineWidth = 1;
  for (let k = 1; k < side; k++) {
    g.beginPath(); g.moveTo(k * cell + 0.5, 0); g.lineTo(k * cell + 0.5, c.height); g.stroke();
    g.beginPath(); g.moveTo(0, k * cell + 0.5); g.lineTo(c.width, k * cell + 0.5); g.stroke();
  }
  if (activeCell >= 0 && activeCell < map.length) {
    g.strokeStyle = "#ffd400";
    g.lineWidth = 3;
    g.strokeRect((activeCell % side) * cell + 1.5, Math.floor(activeCell / side) * cell + 1.5, cell - 3, cell - 3);
  }
  c.dataset.drawn = "true";
}

function mount(host, img, map, kind, label, onCell) {
  let c = host.querySelector("canvas");
  if (!c) {
    c = document.createElement("canvas");
    host.appendChild(c);
    host.tabIndex = 0;
    const at = e => {
      const r = c.getBoundingClientRect();
      const side = Math.round(Math.sqrt(host._view.map.length));
      const x = Math.floor((e.clientX - r.left) / r.width * side), y = Math.floor((e.clientY - r.top) / r.height * side);
      return Math.min(side - 1, Math.max(0, y)) * side + Math.min(side - 1, Math.max(0, x));
    };
    c.addEventListener("mousemove", e => host._onCell(at(e)));
    c.addEventListener("click", e => host._onCell(at(e)));
    host.addEventListener("keydown", e => {
      const side = Math.round(Math.sqrt(host._view.map.length));
      let i = activeCell < 0 ? Math.floor(host._view.map.length / 2) : activeCell;
      const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -side, ArrowDown: side };
      if (!(e.key in moves)) return;
      e.preventDefault();
      const j = i + moves[e.key];
      if ((e.key === "ArrowLeft" && i % side === 0) || (e.key === "ArrowRight" && i % side === side - 1) || j < 0 || j >= host._view.map.length) return;
      host._onCell(j);
    });
    host.addEventListener("focus", () => { if (activeCell < 0) host._onCell(Math.floor(host._view.map.length / 2)); });
  }
  c.width = img.width * SCALE;
  c.height = img.height * SCALE;
  c.setAttribute("role", "img");
  host.setAttribute("aria-label", label + ". Arrow keys move between the cells.");
  c.setAttribute("aria-label", label);
  host._view = { img, map, kind };
  host._onCell = onCell;
  draw(host);
}

// ---- verification
const lowerKind = () => document.querySelector('input[name="lower"]:checked').value;

function cellText(i, r) {
  const side = Math.round(Math.sqrt(flat(r.cos_map).length));
  const cos = flat(r.cos_map)[i], att = flat(r.attention)[i];
  const con = r.contributions ? flat(r.contributions)[i] : null;
  return { side, cos, att, con, where: `Row ${Math.floor(i / side) + 1}, column ${(i % side) + 1}` };
}

function showCell(i) {
  activeCell = i;
  const r = verifyResult;
  const t = cellText(i, r);
  $("#cell-info").innerHTML = `<b>${t.where}</b><br>patch cosine <b>${fmt(t.cos)}</b><br>attention <b>${fmt(t.att, 4)}</b> (${fmt(100 * t.att, 1)} % of the weight)<br>` +
    (t.con === null ? "no contribution for this model" : `contribution to the cosine <b>${fmt(t.con, 4)}</b>`);
  for (const h of document.querySelectorAll("#faces .grid-host")) if (h._view) draw(h);
}

async function renderVerify() {
  const r = verifyResult;
  const v = $("#verdict");
  const failed = r.status !== "ok";
  v.className = "verdict " + (failed ? "different" : r.decision);
  v.textContent = failed
    ? "No decision: " + r.faces.filter(f => f.status !== "ok").map(f => `${f.path}: ${f.status.replace("_", " ")}`).join("; ")
    : r.decision === "same" ? "Same person" : r.decision === "different" ? "Different people" : "Undecided (no threshold)";
  $("#cosine").textContent = fmt(r.cosine, 4);
  $("#threshold").textContent = fmt(r.threshold, 4);
  $("#xcos").textContent = fmt(r.score, 4);
  $("#decided-by").textContent = failed ? "A face could not be used, so there are no maps."
    : r.decided_by === "cosine"
      ? `The model's cosine decides (${fmt(r.cosine, 4)} ${r.cosine > r.threshold ? ">" : "≤"} ${fmt(r.threshold, 4)}); xCos explains it cell by cell.`
      : "xCos is the score that decides.";
  $("#faces").hidden = failed;
  $(".overlay-choice").hidden = failed;
  $(".cell-panel").hidden = failed;
  $("#verify-result").hidden = false;
  if (failed) return;
  const imgs = await Promise.all(r.aligned_png.map(loadImage));
  const lower = r.contributions ? lowerKind() : "attention";
  document.querySelector('input[value="contributions"]').disabled = !r.contributions;
  for (const s of document.querySelectorAll(".lower-name")) s.textContent = lower === "attention" ? "attention" : "contribution";
  for (const h of document.querySelectorAll("#faces .grid-host")) {
    const face = +h.dataset.face;
    const upper = h.dataset.map === "cos_map";
    const key = upper ? "cos_map" : lower;
    const kind = upper ? "cosine" : lower === "attention" ? "attention" : "contribution";
    mount(h, imgs[face], flat(r[key]), kind, `Photo ${face + 1}, ${r.faces[face].path}, aligned, with the ${kind} of each cell`, showCell);
  }
  showCell(activeCell >= 0 ? activeCell : 24);
}

$("#verify-form").addEventListener("submit", async e => {
  e.preventDefault();
  const form = new FormData();
  form.append("image1", $("#image1").files[0]);
  form.append("image2", $("#image2").files[0]);
  const r = await post("/v1/verify", form, $("#verify-status"), $("#verify-button"));
  if (!r) return;
  verifyResult = r;
  await renderVerify();
});
for (const radio of document.querySelectorAll('input[name="lower"]')) radio.addEventListener("change", () => verifyResult && renderVerify());

// ---- identification
function showProbeCell(i) {
  activeCell = i;
  const m = identifyResult.matches[selectedMatch];
  const side = Math.round(Math.sqrt(m.cos_map.length));
  $("#identify-status").textContent = `Row ${Math.floor(i / side) + 1}, column ${(i % side) + 1}: patch cosine ${fmt(m.cos_map[i])}, attention ${fmt(m.attention[i], 4)}` +
    (m.contributions ? `, contribution ${fmt(m.contributions[i], 4)}` : "");
  draw($("#probe-host"));
}

async function renderIdentify() {
  const r = identifyResult;
  const v = $("#identify-verdict");
  const best = r.matches[0];
  v.className = "verdict " + (r.unknown ? "different" : "same");
  v.textContent = !best ? "Nobody is enrolled yet" : r.unknown ? `Unknown (nearest: ${best.identity}, cosine ${fmt(best.cosine, 4)} < ${fmt(r.threshold, 4)})` : best.identity;
  const body = $("#matches tbody");
  body.innerHTML = "";
  r.matches.forEach((m, i) => {
    const tr = document.createElement("tr");
    tr.tabIndex = 0;
    tr.setAttribute("aria-selected", i === selectedMatch);
    for (const text of [i + 1, m.identity, fmt(m.cosine, 4), fmt(m.score, 4)]) { const td = document.createElement("td"); td.textContent = text; tr.appendChild(td); }
    const pick = () => { selectedMatch = i; renderIdentify(); };
    tr.addEventListener("click", pick);
    tr.addEventListener("keydown", e => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(); } });
    body.appendChild(tr);
  });
  $("#identify-result").hidden = false;
  if (!best) return;
  const img = await loadImage(r.probe_png);
  const m = r.matches[selectedMatch];
  mount($("#probe-host"), img, m.cos_map, "cosine", `The probe, with its patch cosine against ${m.identity}`, showProbeCell);
}

$("#identify-form").addEventListener("submit", async e => {
  e.preventDefault();
  const form = new FormData();
  form.append("image", $("#probe").files[0]);
  const r = await post("/v1/identify", form, $("#identify-status"), $("#identify-button"));
  if (!r) return;
  identifyResult = r;
  selectedMatch = 0;
  await renderIdentify();
});

$("#api-key").addEventListener("change", loadInfo);
loadInfo();
