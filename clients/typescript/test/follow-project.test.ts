// followProject against a real framestate: every change in order, a dropped connection resumed
// with a fresh snapshot, deletion, and the answers that stop a follow.
import { afterAll, describe, expect, test } from "vitest";
import { FramestateError, followProject, StreamDropped, type Project, type Subscription } from "@framestate/client";
import { Relay } from "./relay.js";
import { BASE_URL, signal, tokenOf, until, World } from "./service.js";

const world = new World("follow");
const token = tokenOf("follow");
const open: (Subscription | Relay)[] = [];

afterAll(async () => {
  for (const thing of open.splice(0)) await thing.close();
});

/** Follows `id`, recording every card and error, with promises for what the test waits on. */
function watch(id: string, baseUrl = BASE_URL) {
  const cards: Project[] = [];
  const errors: [Error, boolean][] = [];
  const deleted = signal<string>();
  const stopped = signal<Error>();
  let lives = 0;
  let waiting: { done: Promise<void>; check: () => void } | null = null;
  let live = signal();
  const follow = followProject({
    baseUrl,
    token,
    id,
    onCard: (project) => {
      cards.push(project);
      waiting?.check();
    },
    onDeleted: deleted.resolve,
    onLive: () => {
      lives += 1;
      live.resolve();
    },
    onError: (error, { retrying }) => {
      errors.push([error, retrying]);
      if (!retrying) stopped.resolve(error);
    },
  });
  open.push(follow);
  return {
    cards,
    errors,
    deleted: deleted.promise,
    stopped: stopped.promise,
    lives: () => lives,
    /** Resolves on the next time the follow is live (the first, then after each reconnection). */
    live: () =>
      live.promise.then(() => {
        live = signal();
      }),
    /** Resolves once a card satisfies `predicate`. */
    sees(predicate: (card: Project) => boolean) {
      waiting = until(() => cards.some(predicate));
      waiting.check();
      return waiting.done;
    },
  };
}

// Concurrent: most of these wait for the service's reconnection delay (`retry: 1000`).
describe.concurrent("followProject", () => {
  test("sees each status of a re-frame, in order, every version once", async () => {
    const project = await world.completeProject("Re-frame");
    const seen = watch(project.id);
    await seen.live();
    // Each change's card is awaited before the next change: the service may fold changes that
    // arrive while it loads a card into one card (versions only go up), which is not this test's.
    let version = project.version;
    const shown = () => {
      const next = ++version;
      return seen.sees((card) => card.version === next);
    };
    const failed = await world.start(project.id, "framing");
    await shown();
    await world.progress(failed.id, 30);
    await shown();
    await world.progress(failed.id, 60);
    await shown();
    await world.fail(failed.id);
    await shown();
    const job = await world.start(project.id, "framing");
    await shown();
    await world.progress(job.id, 80);
    await shown();
    await world.succeed(job.id);
    await seen.sees((card) => card.status === "framed");

    expect(seen.cards.map((card) => [card.status, card.active_exports[0]?.progress ?? null])).toEqual([
      ["complete", null],
      ["exporting_framing", 0],
      ["exporting_framing", 30],
      ["exporting_framing", 60],
      ["complete", null],
      ["exporting_framing", 0],
      ["exporting_framing", 80],
      ["framed", null],
    ]);
    const versions = seen.cards.map((card) => card.version);
    expect(versions).toEqual(versions.map((_, index) => project.version + index));
    expect(seen.errors).toEqual([]);
  });

  test("resumes a dropped connection with a fresh snapshot", async () => {
    const relay = await Relay.start(BASE_URL);
    open.push(relay);
    const project = await world.framedProject("Dropped");
    const seen = watch(project.id, relay.url);
    await seen.live();

    relay.hold();
    relay.cut();
    const job = await world.start(project.id, "framing");
    await world.progress(job.id, 40);
    relay.release();
    await seen.sees((card) => card.active_exports[0]?.progress === 40);
    await world.progress(job.id, 70);
    await seen.sees((card) => card.active_exports[0]?.progress === 70);

    // What changed while no stream was open came in one card: the snapshot of the new stream.
    expect(seen.cards.map((card) => [card.status, card.version])).toEqual([
      ["in_progress", project.version + 1],
      ["exporting_framing", project.version + 3],
      ["exporting_framing", project.version + 4],
    ]);
    expect(seen.lives()).toBe(2);
    expect(relay.accepted).toBe(2);
    expect(seen.errors).toHaveLength(1);
    expect(seen.errors[0]?.[1]).toBe(true);
  });

  test("reports a deletion, and the stream ends there", async () => {
    const project = await world.createProject("Deleted");
    const seen = watch(project.id);
    await seen.live();
    await world.remove(project.id);
    expect(await seen.deleted).toBe(project.id);
    expect(seen.errors).toEqual([]);
  });

  test("reports a deletion made while the connection was down", async () => {
    const relay = await Relay.start(BASE_URL);
    open.push(relay);
    const project = await world.createProject("Deleted unseen");
    const seen = watch(project.id, relay.url);
    await seen.live();
    relay.hold();
    relay.cut();
    await world.remove(project.id);
    relay.release();
    expect(await seen.deleted).toBe(project.id);
    expect(seen.errors.map(([, retrying]) => retrying)).toEqual([true]);
  });

  test("stops on an unknown project with its 404 problem", async () => {
    const seen = watch("f".repeat(32));
    const error = await seen.stopped;
    expect(error).toBeInstanceOf(FramestateError);
    expect(error).toMatchObject({ status: 404, code: "not_found" });
    expect(seen.cards).toEqual([]);
  });

  test("stops when the token is refused: 401", async () => {
    const project = await world.createProject("Refused");
    const errors: [Error, boolean][] = [];
    const stopped = signal();
    const follow = followProject({
      baseUrl: BASE_URL,
      token: "not-a-token",
      id: project.id,
      onCard: () => {},
      onError: (error, { retrying }) => {
        errors.push([error, retrying]);
        stopped.resolve();
      },
    });
    open.push(follow);
    await stopped.promise;
    expect(errors).toEqual([[expect.objectContaining({ status: 401, code: "unauthorized" }), false]]);
  });

  test("counts a silent stream as dropped, and reconnects", async () => {
    const project = await world.createProject("Silent");
    const errors: Error[] = [];
    let lives = 0;
    const twice = signal();
    const follow = followProject({
      baseUrl: BASE_URL,
      token,
      id: project.id,
      idleTimeoutMs: 300,
      onCard: () => {},
      onLive: () => {
        if (++lives === 2) twice.resolve();
      },
      onError: (error) => errors.push(error),
    });
    open.push(follow);
    await twice.promise;
    expect(errors[0]).toBeInstanceOf(StreamDropped);
    expect(errors[0]?.message).toMatch(/sent nothing for 300 ms/);
  });
});
