// The event stream parser, fed the way a network hands text over: in pieces cut anywhere.
import { describe, expect, test } from "vitest";
import { EventStreamParser, type ServerSentEvent } from "../src/sse.js";

function parse(pieces: string[]): { events: ServerSentEvent[]; retries: number[] } {
  const events: ServerSentEvent[] = [];
  const retries: number[] = [];
  const parser = new EventStreamParser(
    (event) => events.push(event),
    (milliseconds) => retries.push(milliseconds),
  );
  for (const piece of pieces) parser.push(piece);
  return { events, retries };
}

/** Every way of cutting `text` in two. */
function cuts(text: string): string[][] {
  return Array.from({ length: text.length + 1 }, (_, at) => [text.slice(0, at), text.slice(at)]);
}

describe("EventStreamParser", () => {
  const stream =
    'retry: 1000\r\n: framestate events\r\n\r\nevent: project\r\ndata: {"id":"a",\r\ndata: "version":2}\r\n\r\nevent: deleted\ndata: {"id":"a"}\n\n';

  test("reads what framestate sends, however the text is cut", () => {
    for (const pieces of [[stream], stream.split(""), ...cuts(stream)]) {
      expect(parse(pieces)).toEqual({
        events: [
          { event: "project", data: '{"id":"a",\n"version":2}' },
          { event: "deleted", data: '{"id":"a"}' },
        ],
        retries: [1000],
      });
    }
  });

  test("takes CR alone as a line end, and a CRLF cut in two as one", () => {
    expect(parse(["event: project\rdata: 1\r", "\n", "\r\n"]).events).toEqual([{ event: "project", data: "1" }]);
    expect(parse(["data: 1\r", "\r"]).events).toEqual([{ event: "message", data: "1" }]);
  });

  test("skips comments, unknown fields, events without data and a retry that is not a number", () => {
    const { events, retries } = parse([": keep-alive\n\nevent: project\n\nid: 7\nfoo: bar\ndata\nretry: soon\n\n"]);
    expect(events).toEqual([{ event: "message", data: "" }]);
    expect(retries).toEqual([]);
  });

  test("keeps a value's spaces but the first, and a colon inside it", () => {
    expect(parse(["data:  two spaces: kept\n\n"]).events).toEqual([{ event: "message", data: " two spaces: kept" }]);
  });

  test("dispatches nothing for an event the stream did not finish", () => {
    expect(parse(["event: project\ndata: {}\n"]).events).toEqual([]);
  });
});
