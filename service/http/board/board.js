// The framestate project board: cards kept live from /v1/events.
// It subscribes first, then reads the first page of projects, and keeps per project the card with
// the highest version it has seen, so that nothing is lost or shown out of order. Every text the
// page shows is set with textContent: nothing a user typed is ever parsed as HTML.
"use strict";

const PAGE_SIZE = 50;
const RECONNECT_MS = 3000;
const STALE_AFTER = 0.1; // of the job timeout: how long a running export may go unreported unmarked
const FRAMED_CLIP = { keyframes: [{ t: 0, x: 0.5, y: 0.5, zoom: 1 }] };
const EXPORT_TYPES = { start_framing_export: "framing", start_overlay_export: "overlay" };

const cards = new Map(); // project id -> { project, element }
let seenSinceOpen = new Set();
let nextCursor = null;
let source = null;
let signedIn = false;
let machine = null;
let clockOffsetMs = 0;

const $ = (id) => document.getElementById(id);

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.detail) || `${status}`);
    this.status = status;
    this.code = body && body.code;
  }
}

// Every request says it is JSON, a body or not: a write authenticated by the cookie must.
async function api(method, path, body, headers = {}) {
  const init = { method, headers: { "Content-Type": "application/json", ...headers }, credentials: "same-origin" };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(path, init);
  noteServerClock(response);
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: `${response.status} ${response.statusText}` };
  }
  if (response.status === 401 && signedIn) sessionEnded("Your session has ended (the token expired or was withdrawn). Sign in again.");
  if (!response.ok) throw new ApiError(response.status, data || { detail: `${response.status} ${response.statusText}` });
  return data;
}

// The machine, and with it the job timeout the stale marks are measured against; read once.
function stateMachine() {
  if (!machine) machine = api("GET", "/v1/state-machine").catch((error) => {
    machine = null;
    throw error;
  });
  return machine;
}

// Stale marks compare a job's last report with the service's clock: only a real skew is corrected
// (the Date header has a resolution of one second).
function noteServerClock(response) {
  const date = Date.parse(response.headers.get("Date") || "");
  if (Number.isNaN(date)) return;
  const offset = date - Date.now();
  clockOffsetMs = Math.abs(offset) > 5000 ? offset : 0;
}

function showNotice(message) {
  const notice = $("notice");
  notice.textContent = message;
  notice.hidden = !message;
}

function setLive(state) {
  const live = $("live");
  live.dataset.state = state;
  $("live-text").textContent = { live: "Live", connecting: "Reconnecting…", off: "Signed out" }[state];
}

// --- Cards.

function videoText(video) {
  return video ? `v${video.version}` : "—";
}

function renderExport(project, job) {
  const node = $("export-template").content.firstElementChild.cloneNode(true);
  const percent = Math.round(job.progress);
  node.dataset.jobId = job.id;
  node.dataset.status = job.status;
  node.dataset.reportedAt = job.updated_at;
  node.querySelector(".export-type").textContent = EXPORT_WORDS[job.type] || job.type;
  node.querySelector(".export-percent").textContent = job.status === "queued" ? "Queued" : `${percent}%`;
  node.querySelector(".fill").style.width = `${job.progress}%`;
  const bar = node.querySelector(".bar");
  bar.setAttribute("aria-valuenow", String(percent));
  bar.setAttribute("aria-label", `${EXPORT_WORDS[job.type] || job.type} progress`);
  node.querySelector(".export-message").textContent = job.message || "";
  node.querySelector(".cancel").addEventListener("click", () => openCancelDialog(project, job));
  return node;
}

function nextStep(project) {
  if (project.is_exporting || project.framed_clip_count > 0) return "";
  return project.clip_count === 0
    ? "No clips yet: add a framed clip to start framing."
    : "No clip is framed yet: add a framed clip to start framing.";
}

function button(label, className, onClick) {
  const node = document.createElement("button");
  node.type = "button";
  node.className = className;
  node.textContent = label;
  node.addEventListener("click", (event) => act(event.currentTarget, onClick));
  return node;
}

function renderCard(project) {
  const node = $("card-template").content.firstElementChild.cloneNode(true);
  node.dataset.projectId = project.id;
  node.dataset.status = project.status;
  node.tabIndex = 0;
  node.title = "Open the inspector (Enter)";
  node.addEventListener("click", (event) => {
    if (!event.target.closest("button")) openInspector(cards.get(project.id).project, node);
  });
  node.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.target !== node) return;
    event.preventDefault(); // else the Enter that opens the panel also presses its focused Close button
    openInspector(cards.get(project.id).project, node);
  });
  node.querySelector(".name").textContent = project.name;
  const badge = node.querySelector(".badge");
  badge.textContent = project.status_label;
  badge.dataset.status = project.status;
  node.querySelector(".clips").textContent = String(project.clip_count);
  node.querySelector(".framed").textContent = String(project.framed_clip_count);
  node.querySelector(".working").textContent = videoText(project.working_video);
  node.querySelector(".final").textContent = videoText(project.final_video);
  const exports = node.querySelector(".exports");
  for (const job of project.active_exports) exports.append(renderExport(project, job));
  const hint = nextStep(project);
  node.querySelector(".next-step").textContent = hint;
  node.querySelector(".next-step").hidden = !hint;
  const actions = node.querySelector(".actions");
  for (const action of project.allowed_actions) {
    const start = button(actionWords(action), "button", () =>
      api("POST", `/v1/projects/${encodeURIComponent(project.id)}/exports`, { type: EXPORT_TYPES[action] }, {
        "Idempotency-Key": crypto.randomUUID(),
      }),
    );
    start.dataset.action = action;
    actions.append(start);
  }
  if (hint) {
    const add = button("Add a framed clip", "button", () => addFramedClip(project.id));
    add.dataset.action = "add_framed_clip";
    actions.append(add);
  }
  return node;
}

function addFramedClip(projectId) {
  return api("POST", `/v1/projects/${encodeURIComponent(projectId)}/clips`, { crop_data: FRAMED_CLIP });
}

async function act(node, request) {
  node.disabled = true;
  showNotice("");
  try {
    await request();
  } catch (error) {
    showNotice(error.message);
    node.disabled = false;
  }
}

// A running export whose last report (as the board last saw it) is older than a tenth of the job
// timeout is marked: its worker may have died, and the service fails it once the timeout is out.
async function markStale() {
  const timeout = machine && (await machine).job_timeout_s;
  if (!timeout) return;
  const now = Date.now() + clockOffsetMs;
  for (const node of document.querySelectorAll(".export[data-reported-at]")) {
    const silent = Math.floor((now - Date.parse(node.dataset.reportedAt)) / 1000);
    const stale = silent > timeout * STALE_AFTER;
    const mark = node.querySelector(".export-stale");
    node.classList.toggle("stale", stale);
    mark.hidden = !stale;
    if (!stale) continue;
    mark.textContent = `no report for ${silent} s`;
    mark.title = `Its worker has not reported for ${silent} s. framestate fails an export after ${timeout} s without a report.`;
  }
}

function upsert(project) {
  const known = cards.get(project.id);
  if (known && known.project.version > project.version) return;
  const element = renderCard(project);
  const hadFocus = known && document.activeElement === known.element;
  if (known) {
    known.element.replaceWith(element);
  } else {
    const container = $("cards");
    const later = [...cards.values()]
      .filter((c) => c.project.created_at < project.created_at || (c.project.created_at === project.created_at && c.project.id < project.id))
      .sort((a, b) => (a.project.created_at < b.project.created_at ? 1 : -1))[0];
    container.insertBefore(element, later ? later.element : null);
  }
  cards.set(project.id, { project, element });
  if (hadFocus) element.focus();
  updateCounts();
  markStale();
  document.dispatchEvent(new CustomEvent("framestate:project", { detail: project }));
}

function remove(projectId) {
  const known = cards.get(projectId);
  if (!known) return;
  known.element.remove();
  cards.delete(projectId);
  updateCounts();
  document.dispatchEvent(new CustomEvent("framestate:deleted", { detail: { id: projectId } }));
}

function updateCounts() {
  const all = [...cards.values()];
  const exporting = all.filter((c) => c.project.is_exporting).length;
  $("counts").textContent = `${all.length} project${all.length === 1 ? "" : "s"} · ${exporting} exporting`;
  $("empty").hidden = all.length > 0;
}

async function loadPage(cursor) {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (cursor) query.set("cursor", cursor);
  const page = await api("GET", `/v1/projects?${query}`);
  for (const project of page.items) upsert(project);
  nextCursor = page.next_cursor;
  $("more").hidden = !nextCursor;
  return page.items;
}

async function reload() {
  const items = await loadPage(null);
  const listed = new Set(items.map((p) => p.id));
  const oldest = items.length ? items[items.length - 1].created_at : "";
  for (const [id, card] of [...cards]) {
    const onFirstPage = card.project.created_at >= oldest;
    if (onFirstPage && !listed.has(id) && !seenSinceOpen.has(id)) remove(id);
    if (!onFirstPage && !seenSinceOpen.has(id)) remove(id);
  }
  updateCounts();
}

async function connect() {
  if (!signedIn) return;
  // A first read settles the session (a 401 shows the sign-in form) before the stream opens.
  try {
    await api("GET", "/v1/projects?limit=1");
  } catch (error) {
    if (error.status === 401) return;
    showNotice(error.message);
  }
  if (!signedIn) return;
  const stream = new EventSource("/v1/events");
  source = stream;
  stream.addEventListener("open", () => {
    seenSinceOpen = new Set();
    setLive("live");
    reload().catch((error) => showNotice(`Could not load projects: ${error.message}`));
  });
  stream.addEventListener("project", (event) => {
    const project = JSON.parse(event.data);
    seenSinceOpen.add(project.id);
    upsert(project);
  });
  stream.addEventListener("deleted", (event) => {
    const { id } = JSON.parse(event.data);
    seenSinceOpen.add(id);
    remove(id);
  });
  stream.addEventListener("error", () => {
    if (source !== stream) return; // signed out meanwhile
    setLive("connecting");
    // The browser retries a dropped stream by itself, but not one refused with an error status
    // (too many streams, a token gone): start again, a little later.
    if (stream.readyState === EventSource.CLOSED) setTimeout(connect, RECONNECT_MS);
  });
  // Leaving the page gives the stream back at once, so reloads never pile up streams.
  window.addEventListener("pagehide", () => stream.close(), { once: true });
}

// --- Dialogs: cancelling an export (with an optional reason) and deleting a project.

function openDialog(id, title, errorId) {
  $(`${id}-title`).textContent = title;
  $(errorId).hidden = true;
  $(`${id}-dialog`).showModal();
}

function refusal(error) {
  if (error.code === "project_busy") {
    return "It has an export running: cancel the export (or let it end) first, then delete the project.";
  }
  if (error.code === "job_not_active") return "This export has ended already.";
  return error.message;
}

async function submitDialog(id, errorId, request) {
  try {
    await request();
    $(`${id}-dialog`).close();
  } catch (error) {
    $(errorId).textContent = refusal(error);
    $(errorId).hidden = false;
  }
}

let cancelling = null;

function openCancelDialog(project, job) {
  cancelling = job;
  $("cancel-reason").value = "";
  openDialog("cancel", `Cancel the ${(EXPORT_WORDS[job.type] || job.type).toLowerCase()} of “${project.name}”?`, "cancel-error");
  $("cancel-reason").focus();
}

$("cancel-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const reason = $("cancel-reason").value.trim();
  const path = `/v1/exports/${encodeURIComponent(cancelling.id)}/cancel`;
  submitDialog("cancel", "cancel-error", () => api("POST", path, reason ? { reason } : undefined));
});

let deleting = null;

function openDeleteDialog(project) {
  deleting = project;
  openDialog("delete", `Delete “${project.name}”?`, "delete-error");
}

$("delete-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const id = deleting.id;
  submitDialog("delete", "delete-error", async () => {
    await api("DELETE", `/v1/projects/${encodeURIComponent(id)}`);
    remove(id);
  });
});

for (const close of document.querySelectorAll("dialog [data-close]")) {
  close.addEventListener("click", (event) => event.currentTarget.closest("dialog").close());
}

$("new-project").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("new-name");
  const name = input.value;
  if (!name.trim()) return;
  try {
    showNotice("");
    upsert(await api("POST", "/v1/projects", { name }));
    input.value = "";
  } catch (error) {
    showNotice(error.message);
  }
});
$("more").addEventListener("click", () => loadPage(nextCursor).catch((error) => showNotice(error.message)));

setInterval(markStale, 1000);
