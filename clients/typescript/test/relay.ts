// A TCP relay between the client and framestate that a test can cut: every connection through it
// is dropped at once, as a lost network drops a stream, while framestate itself goes on serving.
import { createServer, connect, type Server, type Socket } from "node:net";

export class Relay {
  private readonly sockets = new Set<Socket>();
  private held: Socket[] | null = null;
  /** Connections accepted so far. */
  accepted = 0;

  private constructor(
    private readonly server: Server,
    private readonly target: URL,
    readonly url: string,
  ) {}

  static async start(target: string): Promise<Relay> {
    const server = createServer();
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("the relay has no port");
    const relay = new Relay(server, new URL(target), `http://127.0.0.1:${address.port}`);
    server.on("connection", (socket) => relay.accept(socket));
    return relay;
  }

  private accept(socket: Socket): void {
    this.accepted += 1;
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    if (this.held) this.held.push(socket);
    else this.pipe(socket);
  }

  private pipe(socket: Socket): void {
    const upstream = connect(Number(this.target.port), this.target.hostname);
    this.sockets.add(upstream);
    upstream.on("close", () => {
      this.sockets.delete(upstream);
      socket.destroy();
    });
    upstream.on("error", () => upstream.destroy());
    socket.on("close", () => upstream.destroy());
    socket.pipe(upstream).pipe(socket);
  }

  /** New connections wait, unanswered, until release(): what changes meanwhile, no stream sees. */
  hold(): void {
    this.held ??= [];
  }

  release(): void {
    const waiting = this.held ?? [];
    this.held = null;
    for (const socket of waiting) if (!socket.destroyed) this.pipe(socket);
  }

  /** Drops every open connection, both ways, with a reset. */
  cut(): void {
    for (const socket of this.sockets) socket.resetAndDestroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((done) => this.server.close(() => done()));
  }
}
