// followBoard against a real framestate: the board agrees with GET /v1/projects after many
// concurrent changes made while it reads its snapshot, after a dropped connection, and filtered.
import { afterEach, describe, expect, test } from "vitest";
import { followBoard, type BoardSubscription, type FollowBoardOptions, type Project } from "@framestate/client";
import { Relay } from "./relay.js";
import { BASE_URL, signal, tokenOf, until, World } from "./service.js";

const world = new World("board");
const open: (BoardSubscription | Relay)[] = [];

afterEach(async () => {
  for (const thing of open.splice(0)) await thing.close();
});

function follow(options: Partial<FollowBoardOptions> = {}) {
  const deleted: string[] = [];
  const left: Project[] = [];
  const errors: Error[] = [];
  let live = signal();
  let waiting: { done: Promise<void>; check: () => void } | null = null;
  const board = followBoard({
    baseUrl: BASE_URL,
    token: tokenOf("board"),
    onCard: () => waiting?.check(),
    onDeleted: (id) => {
      deleted.push(id);
      waiting?.check();
    },
    onLeave: (project) => {
      left.push(project);
      waiting?.check();
    },
    onLive: () => live.resolve(),
    onError: (error) => errors.push(error),
    ...options,
  });
  open.push(board);
  return {
    board,
    deleted,
    left,
    errors,
    live: () =>
      live.promise.then(() => {
        live = signal();
      }),
    /** Resolves once `predicate` holds for the board's cards. */
    sees(predicate: (cards: ReadonlyMap<string, Project>) => boolean) {
      waiting = until(() => predicate(board.cards()));
      waiting.check();
      return waiting.done;
    },
  };
}

/** A change made after every other one: once the board has it, it has seen all before it. */
async function settle(watched: ReturnType<typeof follow>): Promise<void> {
  const marker = await world.createProject("marker");
  await watched.sees((cards) => cards.has(marker.id));
  await world.remove(marker.id);
  await watched.sees((cards) => !cards.has(marker.id));
  watched.deleted.splice(watched.deleted.indexOf(marker.id), 1);
}

/**
 * 200 changes at once, every one of which commits: 60 projects made; on each of 30 projects a
 * clip added and an export started, reported on and finished (5 changes); 10 given a clip, then
 * deleted (2 changes).
 */
function twoHundredChanges(projects: Project[]): Promise<unknown>[] {
  const exporting = projects.slice(0, 30);
  const deleting = projects.slice(30, 40);
  return [
    ...Array.from({ length: 60 }, (_, index) => world.createProject(`new ${index}`)),
    ...exporting.map((project) => world.addClip(project.id)),
    ...exporting.map(async (project, index) => {
      const job = await world.start(project.id, "framing");
      await world.progress(job.id, index);
      await world.succeed(job.id);
    }),
    ...deleting.map(async (project) => {
      await world.addClip(project.id);
      await world.remove(project.id);
    }),
  ];
}

describe("followBoard", () => {
  test("agrees with GET /v1/projects after 200 concurrent changes made while it reads its pages", async () => {
    const projects = await Promise.all(Array.from({ length: 40 }, (_, index) => world.framedProject(`board ${index}`)));
    const before = await world.listing();
    // The first page is read before the changes and handed over after them, so that it is stale
    // for every project they touch: the board must keep the newer cards its events brought, and
    // not bring back the projects deleted meanwhile.
    const firstPage = signal();
    const changed = signal();
    let pages = 0;
    const watched = follow({
      pageSize: 16,
      fetch: async (request) => {
        const response = await fetch(request);
        if (new URL(request.url).pathname === "/v1/projects" && ++pages === 1) {
          firstPage.resolve();
          await changed.promise;
        }
        return response;
      },
    });
    await firstPage.promise;
    await Promise.all(twoHundredChanges(projects));
    changed.resolve();
    await watched.live();
    await settle(watched);

    const listing = await world.listing();
    expect([...watched.board.cards().values()]).toEqual(listing);
    expect(listing.length).toBe(before.length + 60 - 10);
    expect(new Set(watched.deleted)).toEqual(new Set(projects.slice(30, 40).map((project) => project.id)));
    expect(pages).toBeGreaterThan(1);
    expect(watched.errors).toEqual([]);
  });

  test("after a dropped connection, a fresh snapshot: what changed, was made or deleted meanwhile", async () => {
    const relay = await Relay.start(BASE_URL);
    open.push(relay);
    const [kept, changed, gone] = await Promise.all([
      world.createProject("kept"),
      world.framedProject("changed"),
      world.createProject("gone"),
    ]);
    const watched = follow({ baseUrl: relay.url });
    await watched.live();

    relay.hold();
    relay.cut();
    await world.start(changed.id, "framing");
    await world.remove(gone.id);
    const made = await world.createProject("made");
    relay.release();
    await watched.live();

    const cards = watched.board.cards();
    expect([...cards.values()]).toEqual(await world.listing());
    expect([cards.has(kept.id), cards.get(changed.id)?.status, cards.has(gone.id), cards.has(made.id)]).toEqual([
      true,
      "exporting_framing",
      false,
      true,
    ]);
    expect(watched.deleted).toEqual([gone.id]);
    expect(watched.errors).toHaveLength(1);
  });

  test("with a status, holds what GET /v1/projects?status= lists, and tells who leaves", async () => {
    const framed = await world.framedProject("exporting");
    const watched = follow({ status: "exporting" });
    await watched.live();
    const job = await world.start(framed.id, "framing");
    await watched.sees((cards) => cards.get(framed.id)?.status === "exporting_framing");
    expect([...watched.board.cards().values()]).toEqual(await world.listing({ status: "exporting" }));

    await world.succeed(job.id);
    await watched.sees((cards) => !cards.has(framed.id));
    expect(watched.left.map((project) => [project.id, project.status])).toEqual([[framed.id, "framed"]]);
    expect(watched.deleted).toEqual([]);
  });
});
