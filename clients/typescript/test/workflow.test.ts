// The contract's walk through a project's life, one row a step, played through createFramestate:
// each row's status, label and allowed actions are written out by hand, as the contract states them.
import { describe, expect, test } from "vitest";
import { createFramestate, FramestateError, unwrap, type Action, type Project, type Status } from "@framestate/client";
import { BASE_URL, World } from "./service.js";

const world = new World("workflow");
const BOTH: Action[] = ["start_framing_export", "start_overlay_export"];

interface Step {
  does: string;
  act: (state: Walk) => Promise<void>;
  status: Status;
  label: string;
  allowed: Action[];
  then?: (card: Project, state: Walk) => void;
}

interface Walk {
  id: string;
  clips: string[];
  job: string;
  before: Project | null;
}

const SEED: Step[] = [
  { does: "a new project", act: async () => {}, status: "not_started", label: "Not Started", allowed: [] },
  {
    does: "two clips without crop data",
    act: async (walk) => {
      walk.clips.push(await world.addClip(walk.id, null), await world.addClip(walk.id, null));
    },
    status: "not_started",
    label: "Not Started",
    allowed: [],
    then: (card) => expect([card.clip_count, card.framed_clip_count]).toEqual([2, 0]),
  },
  {
    does: "one clip given crop data",
    act: async (walk) => {
      await unwrap(
        world.api.PATCH("/v1/projects/{project_id}/clips/{clip_id}", {
          params: { path: { project_id: walk.id, clip_id: walk.clips[0] ?? "" } },
          body: { crop_data: { keyframes: [{ t: 0, x: 0.4 }] } },
        }),
      );
    },
    status: "in_progress",
    label: "In Progress",
    allowed: ["start_framing_export"],
    then: (card) => expect([card.clip_count, card.framed_clip_count]).toEqual([2, 1]),
  },
  {
    does: "a framing export started",
    act: async (walk) => {
      walk.job = (await world.start(walk.id, "framing")).id;
    },
    status: "exporting_framing",
    label: "Framing…",
    allowed: [],
    then: (card, walk) => {
      expect(card.is_exporting).toBe(true);
      expect(card.active_exports.map((job) => [job.id, job.status, job.progress])).toEqual([[walk.job, "queued", 0]]);
    },
  },
  {
    does: "the framing job reports and succeeds",
    act: async (walk) => {
      expect((await world.progress(walk.job, 40)).status).toBe("running");
      expect((await world.succeed(walk.job)).progress).toBe(100);
    },
    status: "framed",
    label: "Framed",
    allowed: BOTH,
    then: (card) =>
      expect([card.working_video?.version, card.final_video, card.is_exporting]).toEqual([1, null, false]),
  },
  {
    does: "an overlay export started",
    act: async (walk) => {
      const job = await world.start(walk.id, "overlay");
      expect(job.input_video_id).toBe((await world.card(walk.id)).working_video?.id);
      walk.job = job.id;
    },
    status: "exporting_overlay",
    label: "Overlay…",
    allowed: ["start_framing_export"],
  },
  {
    does: "the overlay job succeeds",
    act: async (walk) => void (await world.succeed(walk.job)),
    status: "complete",
    label: "Complete",
    allowed: BOTH,
    then: (card) => expect([card.final_video?.kind, card.final_video?.version]).toEqual(["final", 1]),
  },
  {
    does: "the complete project re-framed",
    act: async (walk) => {
      walk.before = await world.card(walk.id);
      walk.job = (await world.start(walk.id, "framing")).id;
    },
    status: "exporting_framing",
    label: "Framing…",
    allowed: ["start_overlay_export"],
    then: (card, walk) =>
      expect([card.working_video, card.final_video]).toEqual([walk.before?.working_video, walk.before?.final_video]),
  },
  {
    does: "that re-frame fails: complete again",
    act: async (walk) => {
      expect((await world.fail(walk.job, "out of disk")).error).toBe("out of disk");
    },
    status: "complete",
    label: "Complete",
    allowed: BOTH,
    then: (card, walk) => expect(card.final_video).toEqual(walk.before?.final_video),
  },
  {
    does: "re-framed again, and it succeeds: the final video is gone",
    act: async (walk) => void (await world.runExport(walk.id, "framing")),
    status: "framed",
    label: "Framed",
    allowed: BOTH,
    then: (card) => expect([card.working_video?.version, card.final_video]).toEqual([2, null]),
  },
  {
    does: "a new overlay: the final video's version does not repeat",
    act: async (walk) => void (await world.runExport(walk.id, "overlay")),
    status: "complete",
    label: "Complete",
    allowed: BOTH,
    then: (card) => expect([card.working_video?.version, card.final_video?.version]).toEqual([2, 2]),
  },
  {
    does: "a re-overlay of the complete project",
    act: async (walk) => {
      walk.job = (await world.start(walk.id, "overlay")).id;
    },
    status: "exporting_overlay",
    label: "Overlay…",
    allowed: ["start_framing_export"],
    then: (card) => expect(card.final_video?.version).toBe(2),
  },
  {
    does: "a framing export while the overlay runs: framing takes precedence",
    act: async (walk) => {
      walk.before = await world.card(walk.id);
      walk.job = (await world.start(walk.id, "framing")).id;
    },
    status: "exporting_framing",
    label: "Framing…",
    allowed: [],
    then: (card) => expect(card.active_exports.map((job) => job.type)).toEqual(["framing", "overlay"]),
  },
  {
    does: "the framing job succeeds: the running overlay is superseded",
    act: async (walk) => {
      const overlay = walk.before?.active_exports[0]?.id ?? "";
      await world.succeed(walk.job);
      expect(
        (await unwrap(world.api.GET("/v1/exports/{job_id}", { params: { path: { job_id: overlay } } }))).status,
      ).toBe("superseded");
    },
    status: "framed",
    label: "Framed",
    allowed: BOTH,
    then: (card) => expect([card.working_video?.version, card.final_video]).toEqual([3, null]),
  },
  {
    does: "an export cancelled: back to what the facts say",
    act: async (walk) => {
      const job = await world.start(walk.id, "overlay");
      expect((await world.cancel(job.id)).status).toBe("cancelled");
    },
    status: "framed",
    label: "Framed",
    allowed: BOTH,
  },
  {
    does: "every clip removed: the videos stay",
    act: async (walk) => {
      for (const clip of walk.clips) {
        await unwrap(
          world.api.DELETE("/v1/projects/{project_id}/clips/{clip_id}", {
            params: { path: { project_id: walk.id, clip_id: clip } },
          }),
        );
      }
    },
    status: "framed",
    label: "Framed",
    allowed: ["start_overlay_export"],
    then: (card) => expect([card.clip_count, card.framed_clip_count, card.working_video?.version]).toEqual([0, 0, 3]),
  },
];

describe("the seed walk, through createFramestate", () => {
  const walk: Walk = { id: "", clips: [], job: "", before: null };
  let version = 0;

  test.each(SEED.map((step, index) => [index + 1, step.does, step] as const))("%i. %s", async (_, __, step) => {
    if (!walk.id) walk.id = (await world.createProject("Surf trip")).id;
    await step.act(walk);
    const card = await world.card(walk.id);
    expect([card.status, card.status_label, card.allowed_actions]).toEqual([step.status, step.label, step.allowed]);
    expect(card.version).toBeGreaterThan(version);
    version = card.version;
    step.then?.(card, walk);
  });

  test("the history has a row for every change of status, oldest first", async () => {
    const history = await unwrap(
      world.api.GET("/v1/projects/{project_id}/history", { params: { path: { project_id: walk.id } } }),
    );
    expect(history[0]).toMatchObject({ action: "project_created", from_status: null, to_status: "not_started" });
    const moves = history.map((row) => row.to_status);
    expect(moves).toEqual([
      "not_started",
      "in_progress",
      "exporting_framing",
      "framed",
      "exporting_overlay",
      "complete",
      "exporting_framing",
      "complete",
      "exporting_framing",
      "framed",
      "exporting_overlay",
      "complete",
      "exporting_overlay",
      "exporting_framing",
      "framed",
      "exporting_overlay",
      "framed",
    ]);
  });

  test("the project deleted: its card is a 404 not_found problem", async () => {
    const { response } = await world.api.DELETE("/v1/projects/{project_id}", {
      params: { path: { project_id: walk.id } },
    });
    expect(response.status).toBe(204);
    const { data, error } = await world.api.GET("/v1/projects/{project_id}", {
      params: { path: { project_id: walk.id } },
    });
    expect(data).toBeUndefined();
    expect(error).toMatchObject({ status: 404, code: "not_found" });
  });
});

describe("every error answer is the contract's problem JSON, typed", () => {
  test("a refused start says which job is active, and what is allowed", async () => {
    const project = await world.framedProject();
    const job = await world.start(project.id, "framing");
    const again = await world.api.POST("/v1/projects/{project_id}/exports", {
      params: { path: { project_id: project.id } },
      body: { type: "framing" },
    });
    expect(again.response.status).toBe(409);
    expect(again.response.headers.get("Content-Type")).toBe("application/problem+json");
    expect(again.error).toMatchObject({ code: "export_already_active", job_id: job.id });
    const overlay = await world.api.POST("/v1/projects/{project_id}/exports", {
      params: { path: { project_id: project.id } },
      body: { type: "overlay" },
    });
    expect(overlay.error).toMatchObject({
      status: 409,
      code: "transition_not_allowed",
      project_status: "exporting_framing",
      allowed_actions: [],
    });
  });

  test("unwrap throws a FramestateError carrying the problem", async () => {
    const failure = await unwrap(
      world.api.GET("/v1/exports/{job_id}", { params: { path: { job_id: "0".repeat(32) } } }),
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(FramestateError);
    expect(failure).toMatchObject({ status: 404, code: "not_found", problem: { status: 404, code: "not_found" } });
  });

  test("a body the types refuse is refused by the service too: 400 validation_error, nothing changed", async () => {
    const project = await world.createProject();
    const bad = await world.api.POST("/v1/projects/{project_id}/exports", {
      params: { path: { project_id: project.id } },
      body: { type: "colour" } as never,
    });
    expect(bad.error).toMatchObject({ status: 400, code: "validation_error" });
    expect((await world.card(project.id)).version).toBe(project.version);
  });

  test("without a token: 401 unauthorized", async () => {
    const anonymous = createFramestate({ baseUrl: BASE_URL });
    const { error, response } = await anonymous.GET("/v1/projects");
    expect(response.status).toBe(401);
    expect(error).toMatchObject({ code: "unauthorized" });
  });

  test("a body-less write says it is JSON (cancel with no reason)", async () => {
    const project = await world.framedProject();
    const job = await world.start(project.id, "framing");
    const cancelled = await world.api.POST("/v1/exports/{job_id}/cancel", { params: { path: { job_id: job.id } } });
    expect(cancelled.data?.status).toBe("cancelled");
  });
});
