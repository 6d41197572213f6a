// The inspector: a panel for one project with the state machine drawn from GET /v1/state-machine
// (its current state highlighted, the actions allowed now marked), its clips, and its history as a
// timeline. It follows the project through the board's own event stream (the `framestate:project`
// and `framestate:deleted` events board.js dispatches). Text is only ever set with textContent.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

// The diagram, laid out by hand in workflow order, left to right: the states a project rests in on
// the top row, the two export states below them inside their composite `exporting`, each under
// the gap between the resting states it leads from and to. An export that fails, is cancelled or
// times out falls back to what the facts say, from either export state alike: those moves are
// drawn once, from the composite's border. So no two arrows cross.
const BOX = { width: 112, height: 36 };
const LAYOUT = {
  not_started: { x: 16, y: 92 },
  in_progress: { x: 168, y: 92 },
  framed: { x: 336, y: 92 },
  complete: { x: 528, y: 92 },
  exporting_framing: { x: 251, y: 212 },
  exporting_overlay: { x: 432, y: 212 },
};
const COMPOSITE = { x: 235, y: 180, width: 325, height: 90, label: { x: 397, y: 262 } };
const VIEW = { width: 660, height: 284 };
const ENDINGS = new Set(["job_failed", "job_cancelled", "job_timed_out"]);
// Each arrow's points (source end first), by "source>dest" ("exporting>…" for the composite's).
const ARROWS = {
  "not_started>in_progress": [[128, 104], [167, 104]],
  "in_progress>not_started": [[168, 116], [129, 116]],
  "in_progress>exporting_framing": [[262, 128], [274, 211]],
  "framed>exporting_framing": [[346, 128], [338, 211]],
  "exporting_framing>framed": [[352, 212], [360, 129]],
  "complete>exporting_framing": [[566, 92], [566, 44], [307, 44], [307, 211]],
  "framed>exporting_overlay": [[428, 128], [448, 211]],
  "complete>exporting_overlay": [[540, 128], [520, 211]],
  "exporting_overlay>complete": [[530, 212], [550, 129]],
  "exporting_overlay>exporting_framing": [[432, 224], [364, 224]],
  "exporting_framing>exporting_overlay": [[363, 238], [431, 238]],
  "exporting>not_started": [[235, 252], [72, 252], [72, 129]],
  "exporting>in_progress": [[235, 200], [210, 200], [210, 129]],
  "exporting>framed": [[392, 180], [392, 129]],
  "exporting>complete": [[560, 244], [616, 244], [616, 129]],
};

const inspector = {
  projectId: null,
  project: null,
  machine: null,
  historyVersion: -1,
  historyStatus: null,
  clipCounts: null,
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

// The arrow a transition is drawn along.
function arrowOf(transition, machine) {
  const inComposite = (state) => Object.values(machine.composite).some((children) => children.includes(state));
  if (ENDINGS.has(transition.action) && inComposite(transition.source) && !inComposite(transition.dest)) {
    return `exporting>${transition.dest}`;
  }
  return `${transition.source}>${transition.dest}`;
}

function pointsOf(key) {
  const [source, dest] = key.split(">");
  return ARROWS[key] || [[center(source).x, center(source).y], [center(dest).x, center(dest).y]];
}

function pathOf(key) {
  const [source, dest] = key.split(">");
  if (source === dest) {
    const box = LAYOUT[source];
    const x = box.x + BOX.width / 2;
    const below = source.startsWith("exporting");
    const y = below ? box.y + BOX.height : box.y;
    const bend = below ? 24 : -24;
    return `M${x - 16},${y} C${x - 16},${y + bend} ${x + 16},${y + bend} ${x + 16},${y + (below ? 1 : -1)}`;
  }
  return pointsOf(key).map(([x, y], i) => `${i ? "L" : "M"}${x},${y}`).join(" ");
}

// Where an arrow's label goes: beside the middle of its longest stretch (below a loop).
function labelPlace(key) {
  const [source, dest] = key.split(">");
  if (source === dest) {
    const c = center(source);
    return { x: c.x, y: c.y + (source.startsWith("exporting") ? 46 : -34), anchor: "middle" };
  }
  const points = pointsOf(key);
  let longest = 1;
  const length = (i) => Math.hypot(points[i][0] - points[i - 1][0], points[i][1] - points[i - 1][1]);
  for (let i = 2; i < points.length; i += 1) if (length(i) > length(longest)) longest = i;
  const [[x1, y1], [x2, y2]] = [points[longest - 1], points[longest]];
  const x = (x1 + x2) / 2;
  const y = (y1 + y2) / 2;
  if (Math.abs(x2 - x1) > Math.abs(y2 - y1)) return { x, y: y - 7, anchor: "middle" };
  return { x: x + 8, y: y + 4, anchor: "start" };
}

function arrowWords(key, rows) {
  const [source, dest] = key.split(">");
  const from = source === "exporting" ? "Framing… or Overlay…" : statusLabel(source);
  const guards = [...new Set(rows.map((row) => row.guard).filter(Boolean))];
  return {
    label: actionsInWords(rows.map((row) => row.action)),
    move: `${from} → ${statusLabel(dest)}`,
    when: guards.length ? `when ${guards.join("; or when ")}` : "",
  };
}

function showArrow(group) {
  const label = group.ownerSVGElement.querySelector(".edge-label");
  const words = group.words;
  label.textContent = words.label;
  const place = labelPlace(group.dataset.arrow);
  const width = label.getComputedTextLength();
  let { x, anchor } = place;
  if (anchor === "start" && x + width > VIEW.width - 4) [x, anchor] = [x - 16, "end"];
  if (anchor === "middle") x = Math.min(Math.max(x, width / 2 + 4), VIEW.width - width / 2 - 4);
  label.setAttribute("x", String(x));
  label.setAttribute("y", String(place.y));
  label.setAttribute("text-anchor", anchor);
  label.classList.add("shown");
  document.getElementById("inspector-edge").textContent = `${words.label}: ${words.move}${words.when ? `, ${words.when}` : ""}.`;
}

const EDGE_HINT = document.getElementById("inspector-edge").textContent;

function hideArrow(group) {
  group.ownerSVGElement.querySelector(".edge-label").classList.remove("shown");
  document.getElementById("inspector-edge").textContent = EDGE_HINT;
}

function drawArrow(key, rows) {
  const group = svg("g", { class: "edge", tabindex: 0, "data-arrow": key, role: "img" });
  group.words = arrowWords(key, rows);
  group.setAttribute("aria-label", `${group.words.label}: ${group.words.move}`);
  const title = svg("title");
  title.textContent = `${group.words.label}: ${group.words.move}${group.words.when ? `, ${group.words.when}` : ""}`;
  group.append(title);
  group.append(svg("path", { d: pathOf(key), class: "hit" }));
  group.append(svg("path", { d: pathOf(key), class: "line", "marker-end": "url(#arrow)" }));
  for (const [event, handler] of [["mouseenter", showArrow], ["focus", showArrow], ["mouseleave", hideArrow], ["blur", hideArrow]]) {
    group.addEventListener(event, () => handler(group));
  }
  return group;
}

function drawDiagram(machine) {
  const root = svg("svg", {
    viewBox: `0 0 ${VIEW.width} ${VIEW.height}`,
    role: "group",
    class: "machine",
    "aria-labelledby": "machine-title",
  });
  const title = svg("title", { id: "machine-title" });
  title.textContent = "The state machine, in workflow order, with the project's current state highlighted";
  root.append(title);
  const defs = svg("defs");
  for (const [id, cls] of [["arrow", "arrowhead"], ["arrow-allowed", "arrowhead allowed"]]) {
    const marker = svg("marker", {
      id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, markerUnits: "userSpaceOnUse",
      orient: "auto-start-reverse",
    });
    marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", class: cls }));
    defs.append(marker);
  }
  root.append(defs);

  for (const composite of Object.keys(machine.composite)) {
    const group = svg("g", { class: "composite", "data-composite": composite });
    group.append(svg("rect", { x: COMPOSITE.x, y: COMPOSITE.y, width: COMPOSITE.width, height: COMPOSITE.height, rx: 14 }));
    const label = svg("text", { ...COMPOSITE.label, "text-anchor": "middle", class: "composite-label" });
    label.textContent = composite;
    group.append(label);
    root.append(group);
  }

  const rows = new Map();
  for (const t of machine.transitions) {
    const key = arrowOf(t, machine);
    if (!rows.has(key)) rows.set(key, []);
    rows.get(key).push(t);
  }
  const edges = svg("g", { class: "edges" });
  for (const [key, arrowRows] of rows) {
    const [source, dest] = key.split(">");
    if (source !== dest) edges.append(drawArrow(key, arrowRows));
  }
  root.append(edges);

  const start = center("not_started");
  root.append(svg("circle", { cx: 5, cy: start.y, r: 4, class: "initial" }));
  root.append(svg("line", {
    x1: 9, y1: start.y, x2: LAYOUT.not_started.x - 1, y2: start.y, "marker-end": "url(#arrow)", class: "initial-edge",
  }));

  for (const state of machine.states) {
    const box = LAYOUT[state];
    const group = svg("g", { class: "state", "data-state": state });
    group.append(svg("rect", { x: box.x, y: box.y, width: BOX.width, height: BOX.height, rx: 9 }));
    const text = svg("text", { x: box.x + BOX.width / 2, y: box.y + BOX.height / 2 + 4.5, "text-anchor": "middle" });
    text.textContent = statusLabel(state);
    group.append(text);
    root.append(group);
  }
  root.append(svg("g", { class: "loops" }));
  root.append(svg("text", { class: "edge-label", "text-anchor": "middle", x: 0, y: 0 }));
  root.rows = rows;
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
  for (const edge of root.querySelectorAll(".edge.allowed-edge")) {
    edge.classList.remove("allowed-edge");
    edge.querySelector(".line").setAttribute("marker-end", "url(#arrow)");
  }
  root.querySelector(".loops").replaceChildren();
  const moves = allowedMoves(project);
  for (const move of moves) {
    const key = arrowOf(move, inspector.machine);
    let edge = root.querySelector(`.edge[data-arrow="${key}"]`);
    if (!edge) {
      edge = drawArrow(key, root.rows.get(key) || [move]);
      edge.classList.add("loop");
      root.querySelector(".loops").append(edge);
    }
    edge.classList.add("allowed-edge");
    edge.dataset.action = move.action;
    edge.querySelector(".line").setAttribute("marker-end", "url(#arrow-allowed)");
  }
  const list = document.getElementById("inspector-actions");
  list.replaceChildren();
  for (const move of moves) {
    const item = document.createElement("li");
    item.dataset.action = move.action;
    item.textContent = `${actionWords(move.action)} → ${statusLabel(move.dest)}`;
    list.append(item);
  }
  if (!moves.length) {
    const item = document.createElement("li");
    item.className = "none";
    item.textContent = nextStep(project) || "No export can start now";
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
    cell(item, "action", actionWords(entry.action));
    const move = cell(item, "move", `${entry.from_status ? statusLabel(entry.from_status) : "·"} → ${statusLabel(entry.to_status)}`);
    move.dataset.to = entry.to_status;
    cell(item, "actor", entry.actor || "—", "who");
    if (entry.job_id) cell(item, "job", `job ${entry.job_id.slice(0, 8)}`, entry.job_id);
    if (entry.reason) cell(item, "reason", entry.reason, "why");
    list.prepend(item); // newest first
  }
}

async function refreshHistory(project) {
  inspector.historyVersion = project.version;
  inspector.historyStatus = project.status;
  const rows = await api("GET", `/v1/projects/${encodeURIComponent(project.id)}/history`);
  if (inspector.projectId === project.id) showHistory(rows);
}

async function refreshClips(project) {
  inspector.clipCounts = `${project.clip_count}/${project.framed_clip_count}`;
  const clips = await api("GET", `/v1/projects/${encodeURIComponent(project.id)}/clips`);
  if (inspector.projectId !== project.id) return;
  const list = document.getElementById("inspector-clips");
  list.replaceChildren();
  clips.forEach((clip, index) => {
    const item = document.createElement("li");
    item.dataset.clipId = clip.id;
    cell(item, "clip-name", `Clip ${index + 1}`);
    cell(item, clip.crop_data ? "clip-framed" : "clip-unframed", clip.crop_data ? "framed" : "not framed");
    const path = `/v1/projects/${encodeURIComponent(project.id)}/clips/${encodeURIComponent(clip.id)}`;
    item.append(button("Remove", "button small", () => api("DELETE", path)));
    list.append(item);
  });
  const framed = clips.filter((clip) => clip.crop_data).length;
  document.getElementById("inspector-clip-count").textContent = clips.length ? `${clips.length}, ${framed} framed` : "none yet";
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
  if (`${project.clip_count}/${project.framed_clip_count}` !== inspector.clipCounts) {
    refreshClips(project).catch((error) => showNotice(error.message));
  }
}

async function openInspector(project, opener) {
  const panel = document.getElementById("inspector");
  inspector.projectId = project.id;
  inspector.project = null;
  inspector.historyStatus = null;
  inspector.historyVersion = -1;
  inspector.clipCounts = null;
  inspector.opener = opener || null;
  if (!inspector.machine) inspector.machine = await stateMachine();
  const diagram = document.getElementById("inspector-diagram");
  if (!diagram.firstElementChild) diagram.append(drawDiagram(inspector.machine));
  document.getElementById("inspector-history").replaceChildren();
  document.getElementById("inspector-clips").replaceChildren();
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
document.addEventListener("framestate:signed-out", closeInspector);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !document.querySelector("dialog[open]")) closeInspector();
});
document.getElementById("inspector-close").addEventListener("click", closeInspector);
document.getElementById("inspector-add-clip").addEventListener("click", (event) => {
  const add = event.currentTarget;
  act(add, async () => {
    await addFramedClip(inspector.projectId);
    add.disabled = false;
  });
});
document.getElementById("inspector-delete").addEventListener("click", () => {
  if (inspector.project) openDeleteDialog(inspector.project);
});
