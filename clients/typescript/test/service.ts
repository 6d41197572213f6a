// The running framestate the tests talk to, and a few steps of a project's life through the client.
import {
  createFramestate,
  unwrap,
  type ExportJob,
  type FramestateClient,
  type JobType,
  type Project,
  type ProjectPage,
} from "@framestate/client";

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: run these tests with \`make test\` (tests/contract/test_typescript_client.py starts framestate for them)`,
    );
  }
  return value;
}

export const BASE_URL = required("FRAMESTATE_URL");
/** The streams one client may hold (the service's FRAMESTATE_MAX_STREAMS). */
export const MAX_STREAMS = Number(required("FRAMESTATE_MAX_STREAMS"));

/** A token per client of the tests (each test file is its own owner, so boards do not mix) and the worker's. */
export type Owner = "workflow" | "follow" | "board" | "react" | "limits";
const TOKENS = JSON.parse(required("FRAMESTATE_TEST_TOKENS")) as Record<Owner | "worker", string>;

export function tokenOf(who: Owner | "worker"): string {
  return TOKENS[who];
}

export const CROP = { keyframes: [{ t: 0, x: 0.25, y: 0.1, zoom: 1.4 }] };

/** One owner's client and a worker's, with the steps the tests repeat. */
export class World {
  readonly api: FramestateClient;
  readonly worker: FramestateClient;

  constructor(
    readonly owner: Owner,
    baseUrl = BASE_URL,
  ) {
    this.api = createFramestate({ baseUrl, token: tokenOf(owner) });
    this.worker = createFramestate({ baseUrl, token: tokenOf("worker") });
  }

  createProject(name = "Holiday reel"): Promise<Project> {
    return unwrap(this.api.POST("/v1/projects", { body: { name } }));
  }

  card(id: string): Promise<Project> {
    return unwrap(this.api.GET("/v1/projects/{project_id}", { params: { path: { project_id: id } } }));
  }

  async addClip(id: string, crop: Record<string, unknown> | null = CROP): Promise<string> {
    const clip = await unwrap(
      this.api.POST("/v1/projects/{project_id}/clips", {
        params: { path: { project_id: id } },
        body: { crop_data: crop },
      }),
    );
    return clip.id;
  }

  start(id: string, type: JobType): Promise<ExportJob> {
    return unwrap(
      this.api.POST("/v1/projects/{project_id}/exports", { params: { path: { project_id: id } }, body: { type } }),
    );
  }

  progress(job: string, progress: number): Promise<ExportJob> {
    return unwrap(
      this.worker.POST("/v1/exports/{job_id}/progress", { params: { path: { job_id: job } }, body: { progress } }),
    );
  }

  succeed(job: string): Promise<ExportJob> {
    return unwrap(
      this.worker.POST("/v1/exports/{job_id}/succeed", {
        params: { path: { job_id: job } },
        body: { output_uri: `s3://renders/${job}.mp4` },
      }),
    );
  }

  fail(job: string, error = "encoder crashed"): Promise<ExportJob> {
    return unwrap(
      this.worker.POST("/v1/exports/{job_id}/fail", { params: { path: { job_id: job } }, body: { error } }),
    );
  }

  cancel(job: string): Promise<ExportJob> {
    return unwrap(this.api.POST("/v1/exports/{job_id}/cancel", { params: { path: { job_id: job } } }));
  }

  async remove(id: string): Promise<void> {
    await unwrap(this.api.DELETE("/v1/projects/{project_id}", { params: { path: { project_id: id } } }));
  }

  async framedProject(name?: string): Promise<Project> {
    const project = await this.createProject(name);
    await this.addClip(project.id);
    return project;
  }

  async runExport(id: string, type: JobType): Promise<ExportJob> {
    const job = await this.start(id, type);
    await this.progress(job.id, 50);
    return this.succeed(job.id);
  }

  async completeProject(name?: string): Promise<Project> {
    const project = await this.framedProject(name);
    await this.runExport(project.id, "framing");
    await this.runExport(project.id, "overlay");
    return this.card(project.id);
  }

  /** Every project of this owner, read page by page as `GET /v1/projects` lists them. */
  async listing(query: { status?: "exporting"; limit?: number } = {}): Promise<Project[]> {
    const projects: Project[] = [];
    let cursor: string | null = null;
    do {
      const page: ProjectPage = await unwrap(this.api.GET("/v1/projects", { params: { query: { ...query, cursor } } }));
      projects.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor !== null);
    return projects;
  }
}

/** A promise with its resolve, for awaiting what a callback will see. */
export function signal<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/** Resolves once `predicate` holds, checking after each call of the returned `check`. */
export function until(predicate: () => boolean): { done: Promise<void>; check: () => void } {
  const { promise, resolve } = signal();
  const check = () => {
    if (predicate()) resolve();
  };
  return { done: promise, check };
}
