// Server-Sent Events read from a fetch Response body, so that a stream can carry an
// Authorization header (an EventSource cannot) and runs where there is no EventSource (Node 20).

export interface ServerSentEvent {
  /** The `event:` field, `"message"` when the event has none. */
  event: string;
  /** The `data:` lines, joined by newlines. */
  data: string;
}

/**
 * The event stream format of the HTML Standard, fed with decoded text in pieces of any size:
 * lines end with CRLF, LF or CR (a CRLF may be split between two pieces); a blank line ends an
 * event; comments (`:`) and unknown fields are skipped; `retry:` sets the reconnection delay.
 */
export class EventStreamParser {
  private buffer = "";
  private data: string[] = [];
  private event = "";
  private afterCR = false;

  constructor(
    private readonly onEvent: (event: ServerSentEvent) => void,
    private readonly onRetry: (milliseconds: number) => void = () => {},
  ) {}

  push(text: string): void {
    let buffer = this.buffer + text;
    if (this.afterCR && buffer.startsWith("\n")) buffer = buffer.slice(1);
    this.afterCR = false;
    let start = 0;
    for (;;) {
      let end = start;
      while (end < buffer.length && buffer[end] !== "\n" && buffer[end] !== "\r") end++;
      if (end === buffer.length) break;
      this.line(buffer.slice(start, end));
      if (buffer[end] === "\r" && end + 1 === buffer.length) this.afterCR = true; // its LF may come next
      start = buffer[end] === "\r" && buffer[end + 1] === "\n" ? end + 2 : end + 1;
    }
    this.buffer = buffer.slice(start);
  }

  private line(line: string): void {
    if (line === "") {
      if (this.data.length > 0) this.onEvent({ event: this.event || "message", data: this.data.join("\n") });
      this.data = [];
      this.event = "";
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.onRetry(Number(value));
  }
}
