// What a live follow does between its connections: read a stream's events, notice a stream that
// went silent, and reconnect after the delay the service asks for (`retry:`), backing off while
// attempts keep failing. followProject and followBoard say what one connection does.
import { asError, FramestateError, StreamDropped } from "./errors.js";
import { EventStreamParser, type ServerSentEvent } from "./sse.js";

export interface Subscription {
  /** Stops following: the stream is closed and no callback is called any more. */
  close(): void;
}

export interface LiveOptions {
  /**
   * A connection failed or dropped. `retrying` is true when the follow connects again by itself
   * (a network error, a stream that ended, a 5xx or 429 answer), false when it has stopped for
   * good (any other 4xx answer, such as 401 or 404: trying again would not change it).
   */
  onError?: ((error: Error, info: { retrying: boolean }) => void) | undefined;
  /** The follow is live: its stream is open and what it missed is read. Called after each (re)connection. */
  onLive?: (() => void) | undefined;
  /**
   * How long a stream may stay silent before it counts as dropped (default 45000 ms). framestate
   * sends a comment every 15 s while idle, so only a dead connection stays silent this long.
   */
  idleTimeoutMs?: number | undefined;
  /** The longest wait between two failed attempts (default 30000 ms). */
  maxRetryDelayMs?: number | undefined;
}

/** One connection of a follow: its signal, and the means to read its stream. */
export interface Attempt {
  readonly signal: AbortSignal;
  /** Ends this connection (whatever is reading from it fails). */
  abort(reason: Error): void;
  /**
   * Reads `body` as an event stream, handing each event to `handle` until the stream ends
   * ("ended") or `handle` answers false ("stopped"); fails when the connection fails or is silent.
   */
  read(body: ReadableStream<Uint8Array>, handle: (event: ServerSentEvent) => boolean): Promise<"ended" | "stopped">;
  /** What was missed is read: the follow is live again (resets the back-off, calls onLive). */
  live(): void;
}

/** What a connection ended with: connect again, or the follow is over (a project deleted). */
export type Outcome = "reconnect" | "done";

const DEFAULT_RETRY_MS = 1000;
const DEFAULT_IDLE_TIMEOUT_MS = 45_000;
const DEFAULT_MAX_RETRY_DELAY_MS = 30_000;

/** The status of an answer that the same request could get right later. */
function retryable(error: unknown): boolean {
  if (!(error instanceof FramestateError)) return true;
  return error.status >= 500 || [408, 425, 429].includes(error.status);
}

/** A Retry-After header in milliseconds (seconds or an HTTP date), if the answer had one. */
function retryAfterMs(error: unknown): number {
  const header = error instanceof FramestateError ? error.response.headers.get("Retry-After") : null;
  if (!header) return 0;
  const seconds = /^\d+$/.test(header.trim()) ? Number(header) : (Date.parse(header) - Date.now()) / 1000;
  return Number.isFinite(seconds) ? Math.max(0, seconds * 1000) : 0;
}

/**
 * Calls a user's callback so that its exception is reported as uncaught (as a DOM event
 * listener's is) instead of breaking the follow that called it.
 */
export function deliver<Args extends unknown[]>(callback: ((...args: Args) => void) | undefined, ...args: Args): void {
  if (!callback) return;
  try {
    callback(...args);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/** Runs `connect` again and again until it says "done", it fails for good, or close() is called. */
export function keepFollowing(connect: (attempt: Attempt) => Promise<Outcome>, options: LiveOptions): Subscription {
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? DEFAULT_MAX_RETRY_DELAY_MS;
  let closed = false;
  let current: AbortController | null = null;
  let wake: (() => void) | null = null;
  let retryMs = DEFAULT_RETRY_MS;
  let failures = 0;

  const attempt = (controller: AbortController): Attempt => {
    let isLive = false;
    return {
      signal: controller.signal,
      abort: (reason) => controller.abort(reason),
      live() {
        if (isLive || closed || controller.signal.aborted) return;
        isLive = true;
        failures = 0;
        deliver(options.onLive);
      },
      async read(body, handle) {
        const reader = body.getReader();
        const decoder = new TextDecoder();
        let stopped = false;
        const parser = new EventStreamParser(
          (event) => {
            if (!stopped && !closed && !controller.signal.aborted) stopped = !handle(event);
          },
          (milliseconds) => {
            retryMs = milliseconds;
          },
        );
        let idle: ReturnType<typeof setTimeout> | undefined;
        const silence = () =>
          controller.abort(new StreamDropped(`the event stream sent nothing for ${idleTimeoutMs} ms`));
        try {
          for (;;) {
            clearTimeout(idle);
            idle = setTimeout(silence, idleTimeoutMs);
            const { done, value } = await reader.read();
            if (done) return "ended";
            parser.push(decoder.decode(value, { stream: true }));
            if (stopped || closed) return "stopped";
          }
        } catch (error) {
          throw controller.signal.aborted ? asError(controller.signal.reason) : error;
        } finally {
          clearTimeout(idle);
          reader.cancel().catch(() => {});
        }
      },
    };
  };

  const pause = (milliseconds: number) =>
    new Promise<void>((done) => {
      const timer = setTimeout(done, milliseconds);
      wake = () => {
        clearTimeout(timer);
        done();
      };
    });

  const run = async () => {
    while (!closed) {
      const controller = new AbortController();
      current = controller;
      let error: unknown = null;
      let outcome: Outcome;
      try {
        outcome = await connect(attempt(controller));
      } catch (thrown) {
        error = thrown;
        outcome = retryable(thrown) ? "reconnect" : "done";
      } finally {
        controller.abort(new StreamDropped("the connection was closed"));
      }
      if (closed) return;
      if (outcome === "done" && error === null) return;
      const retrying = outcome === "reconnect";
      deliver(options.onError, asError(error ?? new StreamDropped("the event stream ended")), { retrying });
      if (!retrying || closed) return;
      const backoff = Math.min(maxRetryDelayMs, retryMs * 2 ** failures);
      failures += 1;
      // After a live stream drops, the service's own delay; while attempts fail, a growing one
      // with jitter, so that clients cut off together do not all come back at the same moment.
      const delay = failures === 1 ? retryMs : backoff / 2 + Math.random() * (backoff / 2);
      await pause(Math.max(delay, retryAfterMs(error)));
    }
  };

  run().catch((error: unknown) => {
    queueMicrotask(() => {
      throw error;
    });
  });
  return {
    close() {
      if (closed) return;
      closed = true;
      current?.abort(new StreamDropped("the follow was closed"));
      wake?.();
    },
  };
}

/** The body of an event stream's answer, or a FramestateError for an error answer. */
export async function openStream(
  answer: Promise<{ data?: ReadableStream<Uint8Array> | null; error?: unknown; response: Response }>,
): Promise<ReadableStream<Uint8Array>> {
  const { data, error, response } = await answer;
  if (!response.ok) throw new FramestateError(response, error);
  if (!data) throw new StreamDropped("the event stream answered without a body");
  return data;
}
