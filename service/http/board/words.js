// The board's one vocabulary: what the cards, the inspector, its diagram and its history call each
// status, action and export. The API's names (start_overlay_export, job_succeeded, …) stay in data
// attributes; a person reads these words. The status labels are the API's own `status_label`s.
"use strict";

const STATUS_LABELS = {
  not_started: "Not Started",
  in_progress: "In Progress",
  framed: "Framed",
  exporting_framing: "Framing…",
  exporting_overlay: "Overlay…",
  complete: "Complete",
};

const ACTION_WORDS = {
  project_created: "Project created",
  project_imported: "Project imported",
  project_synced: "Project synced",
  start_framing_export: "Start framing",
  start_overlay_export: "Start overlay",
  job_succeeded: "Export succeeded",
  job_failed: "Export failed",
  job_cancelled: "Export cancelled",
  job_timed_out: "Export timed out",
  clip_added: "Clip added",
  clip_changed: "Clip changed",
  clip_removed: "Clip removed",
};

const EXPORT_WORDS = { framing: "Framing export", overlay: "Overlay export" };

function statusLabel(status) {
  return STATUS_LABELS[status] || status;
}

function actionWords(action) {
  return ACTION_WORDS[action] || action;
}

// Several actions along one arrow, in words: "Export failed, cancelled or timed out".
function actionsInWords(actions) {
  const words = [...new Set(actions)].map(actionWords);
  const shared = words.every((w) => w.startsWith("Export ")) ? "Export " : words.every((w) => w.startsWith("Clip ")) ? "Clip " : "";
  const rest = words.map((w, i) => (i === 0 ? w : w.slice(shared.length)));
  return rest.length > 1 ? `${rest.slice(0, -1).join(", ")} or ${rest[rest.length - 1]}` : rest[0];
}
