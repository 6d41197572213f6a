export { createFramestate, unwrap, type ConnectionOptions, type FramestateClient } from "./client.js";
export { FramestateError, StreamDropped, isProblem } from "./errors.js";
export { followProject, type FollowProjectOptions } from "./project.js";
export { followBoard, type BoardSubscription, type FollowBoardOptions } from "./board.js";
export type { LiveOptions, Subscription } from "./live.js";
export type * from "./types.js";
export type { components, operations, paths } from "./schema.js";
