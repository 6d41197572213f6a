// One user holds at most FRAMESTATE_MAX_STREAMS streams: a follow answered 429 too_many_streams
// waits and tries again, and goes live once a stream is given back.
import { afterAll, expect, test } from "vitest";
import { FramestateError, followProject, type Subscription } from "@framestate/client";
import { BASE_URL, MAX_STREAMS, signal, tokenOf, World } from "./service.js";

const world = new World("limits");
const open: Subscription[] = [];

afterAll(() => {
  for (const follow of open.splice(0)) follow.close();
});

test("a follow past the stream limit retries, and is live once a stream is free", async () => {
  const project = await world.createProject("Watched by many");
  const follow = (onLive: () => void, onError: (error: Error, retrying: boolean) => void = () => {}) => {
    const subscription = followProject({
      baseUrl: BASE_URL,
      token: tokenOf("limits"),
      id: project.id,
      onCard: () => {},
      onLive,
      onError: (error, { retrying }) => onError(error, retrying),
    });
    open.push(subscription);
    return subscription;
  };
  const first = await Promise.all(
    Array.from({ length: MAX_STREAMS }, () => {
      const live = signal();
      const subscription = follow(live.resolve);
      return live.promise.then(() => subscription);
    }),
  );

  const refused = signal<[Error, boolean]>();
  const live = signal();
  follow(live.resolve, (error, retrying) => refused.resolve([error, retrying]));
  const [error, retrying] = await refused.promise;
  expect(error).toBeInstanceOf(FramestateError);
  expect(error).toMatchObject({ status: 429, code: "too_many_streams" });
  expect(retrying).toBe(true);

  first[0]?.close();
  await live.promise;
});
