// A TCP listener on 127.0.0.1 for tests of real checks: stopped, a check's connect is
// refused; started again, on the same port, it is accepted.
import { createServer, type Server, type Socket } from 'node:net';

export class TcpBackend {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;
  /** Connections accepted so far: each is one check of this server. */
  accepted = 0;

  async start(): Promise<this> {
    const server = createServer((s) => {
      this.accepted++;
      this.sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: this.port }, () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}
