import { createFramestate, type ConnectionOptions } from "./client.js";
import { FramestateError } from "./errors.js";
import { deliver, keepFollowing, openStream, type LiveOptions, type Subscription } from "./live.js";
import type { Project } from "./types.js";

export interface FollowProjectOptions extends ConnectionOptions, LiveOptions {
  /** The project to follow. */
  id: string;
  /** The project as it is now, then after every change; never a lower `version` than one given before. */
  onCard: (project: Project) => void;
  /** The project was deleted; the follow is over. */
  onDeleted?: ((id: string) => void) | undefined;
}

/**
 * Follows one project's event stream (`GET /v1/projects/{id}/events`): the card as it is, then
 * every change, progress included. A dropped connection is opened again, and its first event is
 * the card as it is then, so nothing missed meanwhile is lost; a card no newer than the last one
 * given is not given again. A project deleted while the connection was down is reported to
 * `onDeleted` when the next connection is answered 404.
 */
export function followProject(options: FollowProjectOptions): Subscription {
  const api = createFramestate(options);
  const { id } = options;
  let version = 0;
  return keepFollowing(async (attempt) => {
    let body: ReadableStream<Uint8Array>;
    try {
      body = await openStream(
        api.GET("/v1/projects/{project_id}/events", {
          params: { path: { project_id: id } },
          parseAs: "stream",
          headers: { Accept: "text/event-stream" },
          signal: attempt.signal,
        }),
      );
    } catch (error) {
      if (version > 0 && error instanceof FramestateError && error.status === 404) {
        deliver(options.onDeleted, id);
        return "done";
      }
      throw error;
    }
    let deleted = false;
    await attempt.read(body, (event) => {
      if (event.event === "project") {
        const project = JSON.parse(event.data) as Project;
        if (project.version > version) {
          version = project.version;
          deliver(options.onCard, project);
        }
        attempt.live();
      } else if (event.event === "deleted") {
        deleted = true;
        deliver(options.onDeleted, id);
      }
      return !deleted;
    });
    return deleted ? "done" : "reconnect";
  }, options);
}
