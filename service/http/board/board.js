// The framestate project board: cards kept live from /v1/events.
// It subscribes first, then reads the first page of projects, and keeps per project the card with
// the highest version it has seen, so that nothing is lost or shown out of order. Every text the
// page shows is set with textContent: nothing a user typed is ever parsed as HTML.
"use strict";

const PAGE_SIZE = 50;
const JOB_LABELS = { framing: "Framing export", overlay: "Overlay export" };
const ACTION_LABELS = { start_framing_export: "Start framing", start_overlay_export: "Start overlay" };
const ACTION_TYPES = { start_framing_export: "framing", start_overlay_export: "overlay" };

const cards = new Map(); // project id -> { project, element }
let seenSinceOpen = new Set();
let nextCursor = null;

const $ = (id) => document.getElementById(id);

// With auth on, the board acts with a client token, asked for once. It hands the token to
// POST /v1/session, which keeps it in an HttpOnly cookie: the browser sends it with every request
// and the event stream (an EventSource cannot send an Authorization header), and no script of any
// page, this one included, can read it. The board never writes a cookie itself.
async function askForToken(reason) {
  const token = window.prompt(`${reason}\nPaste a client token (framestate token --sub NAME --role client):`);
  if (!token) return false;
  const response = await fetch("/v1/session", {
    method: "POST",
    headers: { Authorization: `Bearer ${token.trim()}`, "Content-Type": "application/json" },
    credentials: "same-origin",
  });
  return response.ok;
}

// Every request says it is JSON, a body or not: a write authenticated by the cookie must.
async function api(method, path, body, headers = {}, retried = false) {
  const init = { method, headers: { "Content-Type": "application/json", ...headers }, credentials: "same-origin" };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(path, init);
  if (response.status === 401 && !retried && (await askForToken("framestate needs a token."))) {
    return api(method, path, body, headers, true);
  }
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    throw new Error((data && data.detail) || `${response.status} ${response.statusText}`);
  }
  return data;
}

function showNotice(message) {
  const notice = $("notice");
  notice.textContent = message;
  notice.hidden = !message;
}

function setLive(state) {
  const live = $("live");
  live.dataset.state = state;
  $("live-text").textContent = state === "live" ? "Live" : "Reconnecting…";
}

function videoText(video) {
  return video ? `v${video.version}` : "—";
}

function renderExport(job) {
  const node = $("export-template").content.firstElementChild.cloneNode(true);
  const percent = Math.round(job.progress);
  node.dataset.jobId = job.id;
  node.dataset.status = job.status;
  node.querySelector(".export-type").textContent = JOB_LABELS[job.type] || job.type;
  node.querySelector(".export-percent").textContent = job.status === "queued" ? "Queued" : `${percent}%`;
  node.querySelector(".fill").style.width = `${job.progress}%`;
  const bar = node.querySelector(".bar");
  bar.setAttribute("aria-valuenow", String(percent));
  bar.setAttribute("aria-label", `${JOB_LABELS[job.type] || job.type} progress`);
  node.querySelector(".export-message").textContent = job.message || "";
  node.querySelector(".cancel").addEventListener("click", (event) =>
    act(event.currentTarget, () => api("POST", `/v1/exports/${encodeURIComponent(job.id)}/cancel`)),
  );
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
  for (const job of project.active_exports) exports.append(renderExport(job));
  const actions = node.querySelector(".actions");
  for (const action of project.allowed_actions) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button";
    button.dataset.action = action;
    button.textContent = ACTION_LABELS[action] || action;
    button.addEventListener("click", (event) =>
      act(event.currentTarget, () =>
        api("POST", `/v1/projects/${encodeURIComponent(project.id)}/exports`, { type: ACTION_TYPES[action] }, {
          "Idempotency-Key": crypto.randomUUID(),
        }),
      ),
    );
    actions.append(button);
  }
  return node;
}

async function act(button, request) {
  button.disabled = true;
  showNotice("");
  try {
    await request();
  } catch (error) {
    showNotice(error.message);
    button.disabled = false;
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

const RECONNECT_MS = 3000;

async function connect() {
  // A first read settles the token (asking for one where needed) before the stream opens.
  await api("GET", "/v1/projects?limit=1").catch((error) => showNotice(error.message));
  const source = new EventSource("/v1/events");
  source.addEventListener("open", () => {
    seenSinceOpen = new Set();
    setLive("live");
    reload().catch((error) => showNotice(`Could not load projects: ${error.message}`));
  });
  source.addEventListener("project", (event) => {
    const project = JSON.parse(event.data);
    seenSinceOpen.add(project.id);
    upsert(project);
  });
  source.addEventListener("deleted", (event) => {
    const { id } = JSON.parse(event.data);
    seenSinceOpen.add(id);
    remove(id);
  });
  source.addEventListener("error", () => {
    setLive("connecting");
    // The browser retries a dropped stream by itself, but not one refused with an error status
    // (too many streams, a token gone): start again, a little later.
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, RECONNECT_MS);
  });
  // Leaving the page gives the stream back at once, so reloads never pile up streams.
  window.addEventListener("pagehide", () => source.close(), { once: true });
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

connect();
