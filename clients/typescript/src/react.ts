// React hooks over followProject and followBoard: a component renders what the service says now,
// and renders again on every change, with no code of its own for streams or reconnections.
import { useEffect, useState } from "react";
import { followBoard, type FollowBoardOptions } from "./board.js";
import type { ConnectionOptions } from "./client.js";
import { followProject } from "./project.js";
import type { Project, StatusFilter } from "./types.js";

export interface LiveHookOptions extends ConnectionOptions {
  /** Set it to false to hold the stream closed (default true), as TanStack Query's `enabled`. */
  enabled?: boolean | undefined;
}

export interface LiveProject {
  /** The project as it is now; null until its first card has come (and after it was deleted). */
  project: Project | null;
  /**
   * Why the stream is not live: null while it is. The last card stays in `project` while the
   * follow reconnects, and the error goes back to null once it is live again; an error that
   * stops the follow (a 401 or a 404, say) stays.
   */
  error: Error | null;
  /** The project was deleted. */
  deleted: boolean;
}

export interface LiveBoard {
  /** The cards by project id, newest first; empty until the snapshot has been read. */
  cards: ReadonlyMap<string, Project>;
  /** As for useLiveProject: null while the board is live. */
  error: Error | null;
}

export interface LiveBoardOptions extends LiveHookOptions {
  /** Only the projects in this status (`exporting` for either export status). */
  status?: StatusFilter | undefined;
  pageSize?: FollowBoardOptions["pageSize"];
}

const NO_CARDS: ReadonlyMap<string, Project> = new Map();

/** What a hook's state belongs to: state kept for other arguments is never shown. */
function keyOf(...parts: (string | number | boolean | null | undefined)[]): string {
  return JSON.stringify(parts);
}

/**
 * The live card of project `id`: `{ project, error, deleted }`, rendered again on every change.
 * With no `id` (null or undefined) or `enabled: false`, nothing is opened.
 */
export function useLiveProject(id: string | null | undefined, options: LiveHookOptions): LiveProject {
  const { baseUrl, token, fetch, enabled = true } = options;
  const key = keyOf(id, baseUrl, token);
  const [state, setState] = useState<LiveProject & { key: string }>({
    key,
    project: null,
    error: null,
    deleted: false,
  });
  useEffect(() => {
    if (!id || !enabled) return undefined;
    const update = (change: Partial<LiveProject>) =>
      setState((now) => ({
        ...(now.key === key ? now : { project: null, error: null, deleted: false }),
        ...change,
        key,
      }));
    const follow = followProject({
      baseUrl,
      token,
      fetch,
      id,
      onCard: (project) => update({ project }),
      onDeleted: () => update({ project: null, deleted: true }),
      onError: (error) => update({ error }),
      onLive: () => update({ error: null }),
    });
    return () => follow.close();
  }, [id, baseUrl, token, fetch, enabled, key]);
  return state.key === key
    ? { project: state.project, error: state.error, deleted: state.deleted }
    : { project: null, error: null, deleted: false };
}

/** The live board, `{ cards, error }`: every project (or those in `status`), newest first. */
export function useLiveBoard(options: LiveBoardOptions): LiveBoard {
  const { baseUrl, token, fetch, status, pageSize, enabled = true } = options;
  const key = keyOf(baseUrl, token, status, pageSize);
  const [state, setState] = useState<LiveBoard & { key: string }>({ key, cards: NO_CARDS, error: null });
  useEffect(() => {
    if (!enabled) return undefined;
    const update = (change: () => Partial<LiveBoard>) =>
      setState((now) => ({ ...(now.key === key ? now : { cards: NO_CARDS, error: null }), ...change(), key }));
    // The cards are read when React renders, once for all the changes since the last render.
    const changed = () => update(() => ({ cards: board.cards() }));
    const board = followBoard({
      baseUrl,
      token,
      fetch,
      status,
      pageSize,
      onCard: changed,
      onLeave: changed,
      onDeleted: changed,
      onError: (error) => update(() => ({ error })),
      onLive: () => update(() => ({ cards: board.cards(), error: null })),
    });
    return () => board.close();
  }, [baseUrl, token, fetch, status, pageSize, enabled, key]);
  return state.key === key ? { cards: state.cards, error: state.error } : { cards: NO_CARDS, error: null };
}

export type { Project, StatusFilter } from "./types.js";
