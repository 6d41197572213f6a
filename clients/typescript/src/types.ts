// Names for the schemas a front end handles, taken from the generated document types.
import type { components } from "./schema.js";

type Schemas = components["schemas"];

/** A project card: what `GET /v1/projects/{id}` answers and every `project` event carries. */
export type Project = Schemas["ProjectOut"];
export type ProjectPage = Schemas["ProjectPage"];
export type ExportJob = Schemas["ExportJobOut"];
export type Video = Schemas["VideoOut"];
export type Clip = Schemas["ClipOut"];
export type HistoryEntry = Schemas["HistoryEntry"];
/** The RFC 9457 problem JSON of every error answer, with the fields some codes add. */
export type Problem = Schemas["Problem"];
export type Status = Schemas["Status"];
/** The `status` query of `GET /v1/projects`: a status, or `exporting` for either export status. */
export type StatusFilter = Schemas["StatusFilter"];
export type Action = Schemas["Action"];
export type JobType = Schemas["JobType"];
export type JobStatus = Schemas["JobStatus"];
