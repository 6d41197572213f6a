import type { Problem } from "./types.js";

/**
 * A non-2xx answer. framestate answers every error with problem JSON (`problem`), whose `code`
 * says what went wrong in a way a program can test; `problem` is null only when something else
 * answered (a proxy's error page, say).
 */
export class FramestateError extends Error {
  override readonly name = "FramestateError";
  readonly status: number;
  readonly problem: Problem | null;
  /** The Response, its body already read. */
  readonly response: Response;

  constructor(response: Response, body: unknown) {
    const problem = isProblem(body) ? body : null;
    super(
      problem
        ? `${problem.status} ${problem.code}: ${problem.detail}`
        : `${response.status} ${response.statusText}`.trim(),
    );
    this.status = response.status;
    this.problem = problem;
    this.response = response;
  }

  /** The problem's machine-readable code (`not_found`, `transition_not_allowed`, ...), if any. */
  get code(): string | undefined {
    return this.problem?.code;
  }
}

export function isProblem(body: unknown): body is Problem {
  if (typeof body !== "object" || body === null) return false;
  const { status, code, title, detail } = body as Record<string, unknown>;
  return (
    typeof status === "number" && typeof code === "string" && typeof title === "string" && typeof detail === "string"
  );
}

/** An event stream that stopped sending: it ended, or went silent past its keep-alive comments. */
export class StreamDropped extends Error {
  override readonly name = "StreamDropped";
}

/** Any thrown value as an Error, so that every `onError` receives one. */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
