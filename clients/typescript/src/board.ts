import { createFramestate, unwrap, type ConnectionOptions, type FramestateClient } from "./client.js";
import { FramestateError, StreamDropped } from "./errors.js";
import { deliver, keepFollowing, openStream, type Attempt, type LiveOptions, type Subscription } from "./live.js";
import type { ServerSentEvent } from "./sse.js";
import type { Project, ProjectPage, StatusFilter } from "./types.js";

export interface FollowBoardOptions extends ConnectionOptions, LiveOptions {
  /** Only the projects in this status (`exporting` for either export status); all when left out. */
  status?: StatusFilter | undefined;
  /** A project came onto the board or changed; never a lower `version` than one given before. */
  onCard: (project: Project) => void;
  /** A project on the board was deleted. */
  onDeleted?: ((id: string) => void) | undefined;
  /** A project on the board moved to a status outside `status` (only with `status`). */
  onLeave?: ((project: Project) => void) | undefined;
  /** How many projects each page of `GET /v1/projects` asks for (1..200, default 200). */
  pageSize?: number | undefined;
}

export interface BoardSubscription extends Subscription {
  /** The board now: every project on it by id, newest first (as `GET /v1/projects` lists them). */
  cards(): ReadonlyMap<string, Project>;
}

const EXPORTING = new Set<string>(["exporting_framing", "exporting_overlay"]);

function onBoard(filter: StatusFilter | undefined, project: Project): boolean {
  return filter === undefined || project.status === filter || (filter === "exporting" && EXPORTING.has(project.status));
}

/** An RFC 3339 UTC time that sorts as text, whatever number of fraction digits it was written with. */
function sortable(time: string): string {
  const [whole = "", fraction = ""] = time.replace(/(Z|[+-]00:?00)$/i, "").split(".");
  return `${whole}.${fraction.padEnd(9, "0")}`;
}

function newestFirst(a: Project, b: Project): number {
  const at = sortable(a.created_at);
  const bt = sortable(b.created_at);
  if (at !== bt) return at < bt ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** The cards, and per project the highest version seen, whatever the connection that brought it. */
class Board {
  private readonly byId = new Map<string, Project>();
  private readonly versions = new Map<string, number>();
  private ordered: ReadonlyMap<string, Project> | null = null;

  constructor(private readonly options: FollowBoardOptions) {}

  has(id: string): boolean {
    return this.byId.has(id);
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }

  /** A new connection: what it reads is newer than anything known of projects off the board. */
  forgetOffBoard(): void {
    for (const id of this.versions.keys()) if (!this.byId.has(id)) this.versions.delete(id);
  }

  accept(project: Project): void {
    if ((this.versions.get(project.id) ?? 0) >= project.version) return;
    this.versions.set(project.id, project.version);
    if (onBoard(this.options.status, project)) {
      this.byId.set(project.id, project);
      this.ordered = null;
      deliver(this.options.onCard, project);
    } else if (this.byId.delete(project.id)) {
      this.ordered = null;
      deliver(this.options.onLeave, project);
    }
  }

  remove(id: string): void {
    this.versions.delete(id);
    if (this.byId.delete(id)) {
      this.ordered = null;
      deliver(this.options.onDeleted, id);
    }
  }

  cards(): ReadonlyMap<string, Project> {
    this.ordered ??= new Map([...this.byId.values()].sort(newestFirst).map((project) => [project.id, project]));
    return this.ordered;
  }
}

/** What one connection learnt from its events, to tell a stale page of the snapshot from news. */
class Connection {
  readonly seen = new Set<string>();
  readonly deleted = new Set<string>();

  constructor(private readonly board: Board) {}

  onEvent(event: ServerSentEvent): void {
    if (event.event === "project") {
      const project = JSON.parse(event.data) as Project;
      this.seen.add(project.id);
      this.board.accept(project);
    } else if (event.event === "deleted") {
      const { id } = JSON.parse(event.data) as { id: string };
      this.seen.add(id);
      this.deleted.add(id);
      this.board.remove(id);
    }
  }

  /** Reads every page of `GET /v1/projects`, then drops the cards the snapshot says are gone. */
  async readSnapshot(api: FramestateClient, attempt: Attempt, options: FollowBoardOptions): Promise<void> {
    const listed = new Set<string>();
    let cursor: string | null = null;
    do {
      const page: ProjectPage = await unwrap(
        api.GET("/v1/projects", {
          params: { query: { limit: options.pageSize ?? 200, cursor, status: options.status } },
          signal: attempt.signal,
        }),
      );
      for (const project of page.items) {
        listed.add(project.id);
        if (!this.deleted.has(project.id)) this.board.accept(project);
      }
      cursor = page.next_cursor;
    } while (cursor !== null);
    const missing = this.board.ids().filter((id) => !listed.has(id) && !this.seen.has(id));
    // Without a filter, a card the snapshot lacks was deleted while no stream was open; with one,
    // it may also have moved to another status: its own answer says which.
    await Promise.all(
      missing.map((id) => (options.status === undefined ? this.board.remove(id) : this.recheck(api, attempt, id))),
    );
  }

  private async recheck(api: FramestateClient, attempt: Attempt, id: string): Promise<void> {
    const { data, error, response } = await api.GET("/v1/projects/{project_id}", {
      params: { path: { project_id: id } },
      signal: attempt.signal,
    });
    if (this.deleted.has(id)) return;
    if (data) this.board.accept(data);
    else if (response.status === 404) this.board.remove(id);
    else throw new FramestateError(response, error);
  }
}

/**
 * Follows every project (or those in `status`) as a board does: it subscribes to `GET /v1/events`
 * first, then reads every page of `GET /v1/projects`, and keeps per project the card with the
 * highest `version`, so that a change made while the pages were read is neither lost nor undone by
 * an older page. After a dropped connection it does the same again: a fresh snapshot.
 */
export function followBoard(options: FollowBoardOptions): BoardSubscription {
  const api = createFramestate(options);
  const board = new Board(options);
  const subscription = keepFollowing(async (attempt) => {
    const body = await openStream(
      api.GET("/v1/events", { parseAs: "stream", headers: { Accept: "text/event-stream" }, signal: attempt.signal }),
    );
    board.forgetOffBoard();
    const connection = new Connection(board);
    const reading = attempt.read(body, (event) => {
      connection.onEvent(event);
      return true;
    });
    try {
      await Promise.race([
        connection.readSnapshot(api, attempt, options),
        reading.then(() => {
          throw new StreamDropped("the event stream ended");
        }),
      ]);
    } catch (error) {
      attempt.abort(error instanceof Error ? error : new StreamDropped(String(error)));
      await reading.catch(() => {});
      throw error;
    }
    attempt.live();
    await reading;
    return "reconnect";
  }, options);
  return { close: () => subscription.close(), cards: () => board.cards() };
}
