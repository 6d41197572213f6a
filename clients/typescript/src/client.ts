import createClient, { type Client, type Middleware } from "openapi-fetch";
import { FramestateError } from "./errors.js";
import type { paths } from "./schema.js";

/** An openapi-fetch client typed by framestate's OpenAPI document: `GET`, `POST`, ... by path. */
export type FramestateClient = Client<paths>;

export interface ConnectionOptions {
  /**
   * Where framestate answers, such as `"https://framestate.example.com"`. In a browser page served
   * from framestate's own origin (behind one proxy), `""` means that origin.
   */
  baseUrl: string;
  /**
   * A client token, sent as `Authorization: Bearer`: for programs (Node, workers, server-side
   * rendering). Leave it out in a browser: the session cookie set by `POST /v1/session` is sent
   * by the browser itself, and no page script ever holds the token.
   */
  token?: string | undefined;
  /** The fetch to call (default `globalThis.fetch`), for a runtime or a test that brings its own. */
  fetch?: ((request: Request) => Promise<Response>) | undefined;
}

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * framestate refuses a write authenticated by the session cookie unless it says it is JSON, a body
 * or not (a form another site makes a browser post cannot); openapi-fetch sends the header only
 * with a body, so a body-less write (cancel, succeed, delete) gets it here.
 */
const writesAreJson: Middleware = {
  onRequest({ request }) {
    if (WRITES.has(request.method) && !request.headers.has("Content-Type")) {
      request.headers.set("Content-Type", "application/json");
    }
  },
};

/**
 * A typed client for every framestate operation. Each call answers `{ data, error, response }`
 * as openapi-fetch does: `error` is the problem JSON of a non-2xx answer, typed per operation;
 * `unwrap()` turns an answer into its data or a thrown FramestateError instead.
 */
export function createFramestate(options: ConnectionOptions): FramestateClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl,
    headers: options.token ? { Authorization: `Bearer ${options.token}` } : {},
    credentials: "same-origin",
    fetch: options.fetch,
  });
  client.use(writesAreJson);
  return client;
}

/**
 * The data of a 2xx answer, or a FramestateError (with the problem JSON) for any other; for code
 * that expects a throw, such as a TanStack Query `queryFn`:
 * `queryFn: () => unwrap(api.GET("/v1/projects/{project_id}", { params: { path: { project_id } } }))`.
 */
export async function unwrap<Data>(
  answer: Promise<{ data?: Data; error?: unknown; response: Response }>,
): Promise<Data> {
  const { data, error, response } = await answer;
  if (!response.ok) throw new FramestateError(response, error);
  return data as Data;
}
