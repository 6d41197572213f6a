// The inspector: a panel for one project with the state machine drawn from GET /v1/state-machine
// (its current state highlighted, the actions allowed now marked) and its history as a timeline.
// It follows the project through the board's own event stream (the `framestate:project` and
// `framestate:deleted` events board.js dispatches). Text is only ever set with textContent.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const STATE_LABELS = {
  not_started: "Not Started",
  in_progress: "In Progress",
  framed: "Framed",
  exporting_framing: "Framing…",
  exporting_overlay: "Overlay…",
  complete: "Complete",
};
// A hand-made layout of the six states (boxes: x, y of the top-left corner).
const BOX = { width: 124, height: 40 };
const LAYOUT = {
  not_started: { x: 24, y: 150 },
  in_progress: { x: 184, y: 150 },
  framed: { x: 344, y: 60 },
  complete: { x: 344, y: 240 },
  exporting_framing: { x: 528, y: 80 },
  exporting_overlay: { x: 528, y: 220 },
};
const VIEW = { width: 700, height: 320 };

const inspector = {
  projectId: null,
  project: null,
  machine: null,
  historyVersion: -1,
  historyStatus: null,
  opener: null,
};

function svg(tag, attributes = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

function center(state) {
  const box = LAYOUT[state];
  return { x: box.x + BOX.width / 2, y: box.y + BOX.height / 2 };
}

// Where the segment from the centre of `state`'s box towards `toward` leaves the box.
function edgePoint(state, toward) {
  const c = center(state);
  const dx = toward.x - c.x;
  const dy = toward.y - c.y;
  const scale = 1 / Math.max(Math.abs(dx) / (BOX.width / 2 + 4), Math.abs(dy) / (BOX.height / 2 + 4), 1e-9);
  return { x: c.x + dx * scale, y: c.y + dy * scale };
}

// The two ends of the arrow source → dest; an arrow with one back the other way is moved aside.
function ends(source, dest, transitions) {
  const from = edgePoint(source, center(dest));
  const to = edgePoint(dest, center(source));
  if (!transitions.some((t) => t.source === dest && t.dest === source)) return [from, to];
  const length = Math.hypot(to.x - from.x, to.y - from.y) || 1;
  const nx = ((to.y - from.y) / length) * 4;
  const ny = (-(to.x - from.x) / length) * 4;
  return [{ x: from.x + nx, y: from.y + ny }, { x: to.x + nx, y: to.y + ny }];
}

function drawDiagram(machine) {
  const root = svg("svg", {
    viewBox: `0 0 ${VIEW.width} ${VIEW.height}`,
    role: "img",
    class: "machine",
    "aria-labelledby": "machine-title",
  });
  const title = svg("title", { id: "machine-title" });
  title.textContent = "The state machine, with the project's current state highlighted";
  root.append(title);
  const defs = svg("defs");
  for (const [id, cls] of [["arrow", "arrowhead"], ["arrow-allowed", "arrowhead allowed"]]) {
    const marker = svg("marker", {
      id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse",
    });
    marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", class: cls }));
    defs.append(marker);
  }
  root.append(defs);

  for (const [composite, children] of Object.entries(machine.composite)) {
    const xs = children.map((s) => LAYOUT[s].x);
    const ys = children.map((s) => LAYOUT[s].y);
    const group = svg("g", { class: "composite", "data-composite": composite });
    group.append(svg("rect", {
      x: Math.min(...xs) - 18, y: Math.min(...ys) - 42, rx: 14,
      width: BOX.width + 36, height: Math.max(...ys) - Math.min(...ys) + BOX.height + 60,
    }));
    const label = svg("text", { x: Math.min(...xs) - 6, y: Math.min(...ys) - 22, class: "composite-label" });
    label.textContent = composite;
    group.append(label);
    root.append(group);
  }

  const edges = svg("g", { class: "edges" });
  const drawn = new Set();
  for (const t of machine.transitions) {
    const key = `${t.source}->${t.dest}`;
    if (t.source === t.dest || drawn.has(key)) continue;
    drawn.add(key);
    const [from, to] = ends(t.source, t.dest, machine.transitions);
    const line = svg("line", { x1: from.x, y1: from.y, x2: to.x, y2: to.y, "marker-end": "url(#arrow)" });
    line.dataset.source = t.source;
    line.dataset.dest = t.dest;
    edges.append(line);
  }
  root.append(edges);

  const start = center("not_started");
  root.append(svg("circle", { cx: 8, cy: start.y, r: 5, class: "initial" }));
  root.append(svg("line", {
    x1: 13, y1: start.y, x2: LAYOUT.not_started.x - 1, y2: start.y, "marker-end": "url(#arrow)", class: "initial-edge",
  }));

  for (const state of machine.states) {
    const box = LAYOUT[state];
    const group = svg("g", { class: "state", "data-state": state });
    group.append(svg("rect", { x: box.x, y: box.y, width: BOX.width, height: BOX.height, rx: 9 }));
    const text = svg("text", { x: box.x + BOX.width / 2, y: box.y + BOX.height / 2 + 4.5, "text-anchor": "middle" });
    text.textContent = STATE_LABELS[state] || state;
    group.append(text);
    root.append(group);
  }
  root.append(svg("g", { class: "allowed-edges" }));
  return root;
}

// The transition an allowed action takes from `status`: the first row of the table that matches.
function allowedMoves(project) {
  const moves = [];
  for (const action of project.allowed_actions) {
    const row = inspector.machine.transitions.find((t) => t.action === action && t.source === project.status);
    if (row) moves.push(row);
  }
  return moves;
}

function showState(project) {
  const root = document.querySelector("#inspector .machine");
  if (!root) return;
  for (const group of root.querySelectorAll(".state")) {
    const current = group.dataset.state === project.status;
    group.classList.toggle("current", current);
    if (current) group.setAttribute("aria-current", "step");
    else group.removeAttribute("aria-current");
  }
  const composite = root.querySelector(".composite");
  if (composite) composite.classList.toggle("current", project.is_exporting);
  const layer = root.querySelector(".allowed-edges");
  layer.replaceChildren();
  const moves = allowedMoves(project);
  for (const line of root.querySelectorAll(".edges line")) line.classList.remove("allowed");
  for (const move of moves) {
    const group = svg("g", { class: "allowed-edge", "data-action": move.action });
    if (move.source === move.dest) {
      const box = LAYOUT[move.source];
      const x = box.x + BOX.width;
      const y = box.y + BOX.height / 2;
      group.append(svg("path", {
        d: `M${x},${y - 12} C${x + 34},${y - 30} ${x + 34},${y + 30} ${x + 2},${y + 12}`,
        "marker-end": "url(#arrow-allowed)",
      }));
    } else {
      const [from, to] = ends(move.source, move.dest, inspector.machine.transitions);
      group.append(svg("line", { x1: from.x, y1: from.y, x2: to.x, y2: to.y, "marker-end": "url(#arrow-allowed)" }));
    }
    root.querySelector(".allowed-edges").append(group);
  }
  const list = document.getElementById("inspector-actions");
  list.replaceChildren();
  for (const move of moves) {
    const item = document.createElement("li");
    item.dataset.action = move.action;
    item.textContent = `${move.action} → ${STATE_LABELS[move.dest] || move.dest}`;
    list.append(item);
  }
  if (!moves.length) {
    const item = document.createElement("li");
    item.className = "none";
    item.textContent = "No export can start now";
    list.append(item);
  }
  document.getElementById("inspector-title").textContent = project.name;
  const status = document.getElementById("inspector-status");
  status.textContent = `${project.status_label} · version ${project.version}`;
  status.dataset.status = project.status;
}

function timeOf(at) {
  const moment = new Date(at);
  return {
    short: moment.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }),
    full: moment.toISOString(),
  };
}

function cell(row, className, text, title) {
  const node = document.createElement("span");
  node.className = className;
  node.textContent = text;
  if (title) node.title = title;
  row.append(node);
  return node;
}

function showHistory(rows) {
  const list = document.getElementById("inspector-history");
  list.replaceChildren();
  for (const entry of rows) {
    const item = document.createElement("li");
    item.dataset.action = entry.action;
    const when = timeOf(entry.at);
    const time = document.createElement("time");
    time.dateTime = when.full;
    time.title = when.full;
    time.textContent = when.short;
    time.className = "when";
    item.append(time);
    cell(item, "action", entry.action);
    const move = cell(item, "move", `${entry.from_status ? STATE_LABELS[entry.from_status] : "·"} → ${STATE_LABELS[entry.to_status]}`);
    move.dataset.to = entry.to_status;
    cell(item, "actor", entry.actor || "—", "actor");
    if (entry.job_id) cell(item, "job", `job ${entry.job_id.slice(0, 8)}`, entry.job_id);
    if (entry.reason) cell(item, "reason", entry.reason, "reason");
    list.prepend(item); // newest first
  }
}

async function refreshHistory(project) {
  inspector.historyVersion = project.version;
  inspector.historyStatus = project.status;
  const rows = await api("GET", `/v1/projects/${encodeURIComponent(project.id)}/history`);
  if (inspector.projectId === project.id) showHistory(rows);
}

function follow(project) {
  if (project.id !== inspector.projectId) return;
  if (inspector.project && inspector.project.version > project.version) return;
  inspector.project = project;
  showState(project);
  // History rows come only with a change of status; a gap in versions may hide one.
  if (project.status !== inspector.historyStatus || project.version > inspector.historyVersion + 1) {
    refreshHistory(project).catch((error) => showNotice(error.message));
  } else {
    inspector.historyVersion = project.version;
  }
}

async function openInspector(project, opener) {
  const panel = document.getElementById("inspector");
  inspector.projectId = project.id;
  inspector.project = null;
  inspector.historyStatus = null;
  inspector.historyVersion = -1;
  inspector.opener = opener || null;
  if (!inspector.machine) inspector.machine = await api("GET", "/v1/state-machine");
  const diagram = document.getElementById("inspector-diagram");
  if (!diagram.firstElementChild) diagram.append(drawDiagram(inspector.machine));
  document.getElementById("inspector-history").replaceChildren();
  panel.hidden = false;
  document.body.classList.add("inspecting");
  follow(project);
  document.getElementById("inspector-close").focus();
}

function closeInspector() {
  const panel = document.getElementById("inspector");
  if (panel.hidden) return;
  panel.hidden = true;
  document.body.classList.remove("inspecting");
  const id = inspector.projectId;
  inspector.projectId = null;
  const card = id && document.querySelector(`.card[data-project-id="${CSS.escape(id)}"]`);
  if (card) card.focus();
}

document.addEventListener("framestate:project", (event) => follow(event.detail));
document.addEventListener("framestate:deleted", (event) => {
  if (event.detail.id === inspector.projectId) closeInspector();
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") closeInspector();
});
document.getElementById("inspector-close").addEventListener("click", closeInspector);
