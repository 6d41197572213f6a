// A project card that is never stale: the status badge and a progress bar per running export,
// kept live by useLiveProject. In a browser page served from framestate's origin, the session
// cookie authenticates it: no token is handled here.
import type { ExportJob } from "@framestate/client";
import { useLiveProject } from "@framestate/client/react";

const EXPORT_LABELS: Record<ExportJob["type"], string> = {
  framing: "Framing export",
  overlay: "Overlay export",
};

function ExportProgress({ job }: { job: ExportJob }) {
  const label = EXPORT_LABELS[job.type];
  const percent = Math.round(job.progress);
  return (
    <li className="export" data-status={job.status}>
      <span>{label}</span> <span>{job.status === "queued" ? "Queued" : `${percent}%`}</span>
      <progress aria-label={`${label} progress`} max={100} value={job.progress} />
      {job.message ? <small>{job.message}</small> : null}
    </li>
  );
}

export function ProjectCard({ projectId, baseUrl = "" }: { projectId: string; baseUrl?: string }) {
  const { project, error, deleted } = useLiveProject(projectId, { baseUrl });
  if (deleted) return null;
  if (!project) {
    return (
      <article className="card" aria-busy="true">
        {error ? `Could not load the project: ${error.message}` : "Loading…"}
      </article>
    );
  }
  return (
    <article className="card" data-status={project.status}>
      <header>
        <h3>{project.name}</h3>
        <span className="badge" role="status" data-status={project.status}>
          {project.status_label}
        </span>
      </header>
      {project.active_exports.length > 0 ? (
        <ul className="exports">
          {project.active_exports.map((job) => (
            <ExportProgress key={job.id} job={job} />
          ))}
        </ul>
      ) : null}
      <dl>
        <dt>Working video</dt>
        <dd>{project.working_video ? `v${project.working_video.version}` : "—"}</dd>
        <dt>Final video</dt>
        <dd>{project.final_video ? `v${project.final_video.version}` : "—"}</dd>
      </dl>
      {error ? <p className="reconnecting">Reconnecting…</p> : null}
    </article>
  );
}
