/**
 * HTTP server of a fake on 127.0.0.1 (ephemeral port) with one WebSocket endpoint reached by upgrade.
 * Every TCP connection is tracked so `close()` ends promptly even with keep-alive clients:
 * the WebSocket side closes first, then the remaining sockets are destroyed and the server closed.
 * A fake's server extends this and answers requests in `onRequest`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** The WebSocket side (gateway, Socket Mode): takes over upgraded requests and closes its sockets. */
export interface UpgradeTarget {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): Promise<void>;
}

export interface UpgradeRoute {
  /** Upgrades whose URL path it accepts go to `target`; any other upgrade socket is destroyed. */
  accepts: (pathname: string) => boolean;
  target: UpgradeTarget;
}

export abstract class LoopbackServer {
  readonly http: Server;
  port = 0;
  private readonly connections = new Set<Socket>();

  constructor(private readonly upgrade: UpgradeRoute) {
    this.http = createServer((req, res) => void this.onRequest(req, res));
    this.http.on('connection', (socket) => {
      this.connections.add(socket);
      socket.on('close', () => this.connections.delete(socket));
    });
    this.http.on('upgrade', (req, socket, head) => {
      if (!upgrade.accepts(new URL(req.url ?? '/', 'http://x').pathname)) {
        socket.destroy();
        return;
      }
      upgrade.target.handleUpgrade(req, socket, head);
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.http.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    await this.upgrade.target.close();
    for (const socket of this.connections) socket.destroy();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  protected abstract onRequest(req: IncomingMessage, res: ServerResponse): Promise<void>;
}
