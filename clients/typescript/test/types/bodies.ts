// Checked by `tsc` (npm run typecheck), never run: each line marked @ts-expect-error must fail to
// compile, and tsc fails if one compiles, so a request the service would refuse for its shape is
// refused by the compiler first.
import { createFramestate, unwrap, type Project } from "@framestate/client";

const api = createFramestate({ baseUrl: "http://127.0.0.1:8000", token: "a token" });
const project_id = "3f1c";

export async function typed(): Promise<Project> {
  await api.POST("/v1/projects", { body: { name: "Surf trip" } });
  await api.POST("/v1/projects/{project_id}/exports", { params: { path: { project_id } }, body: { type: "overlay" } });
  await api.POST("/v1/exports/{job_id}/progress", {
    params: { path: { job_id: "j" } },
    body: { progress: 40, message: null },
  });
  await api.POST("/v1/exports/{job_id}/cancel", { params: { path: { job_id: "j" } } });

  // @ts-expect-error a project needs a name
  await api.POST("/v1/projects", { body: {} });
  // @ts-expect-error a name is text
  await api.POST("/v1/projects", { body: { name: 7 } });
  // @ts-expect-error no such export type
  await api.POST("/v1/projects/{project_id}/exports", { params: { path: { project_id } }, body: { type: "colour" } });
  // @ts-expect-error an export start needs its type
  await api.POST("/v1/projects/{project_id}/exports", { params: { path: { project_id } }, body: {} });
  // @ts-expect-error progress is a number
  await api.POST("/v1/exports/{job_id}/progress", { params: { path: { job_id: "j" } }, body: { progress: "40" } });
  // @ts-expect-error a failure says why
  await api.POST("/v1/exports/{job_id}/fail", { params: { path: { job_id: "j" } }, body: { reason: "crashed" } });
  // @ts-expect-error the path needs its project id
  await api.GET("/v1/projects/{project_id}", { params: { path: {} } });
  // @ts-expect-error no such path
  await api.GET("/v1/project");
  // @ts-expect-error no such status to filter on
  await api.GET("/v1/projects", { params: { query: { status: "done" } } });

  const card = await unwrap(api.GET("/v1/projects/{project_id}", { params: { path: { project_id } } }));
  // @ts-expect-error a status is one of six names
  const wrong: typeof card.status = "finished";
  void wrong;
  return card;
}
