/**
 * Socket Mode side of the fake Slack: the WebSocket whose URL `apps.connections.open` returns.
 *
 * On connect: `{type:'hello', num_connections, connection_info:{app_id}, debug_info}`.
 * Envelopes: `{envelope_id, type: 'events_api'|'slash_commands'|'interactive', payload, accepts_response_payload, retry_attempt, retry_reason}`.
 * Acks from the app: `{envelope_id, payload?}` (recorded with their latency).
 * `disconnect(reason)` sends `{type:'disconnect', reason}`; the SDK closes and reconnects through apps.connections.open.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { SlackCore } from './operations.js';
import type { Delivery, SocketConnectionRecord } from './state.js';

interface Connection {
  record: SocketConnectionRecord;
  ws: WebSocket;
}

export class FakeSocketMode {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly open: Connection[] = [];
  private nextId = 1;
  private pingTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly core: SlackCore,
    private readonly options: { pingIntervalMs?: number } = {},
  ) {
    if (options.pingIntervalMs) {
      this.pingTimer = setInterval(() => this.open.forEach((c) => c.ws.ping()), options.pingIntervalMs);
      this.pingTimer.unref();
    }
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const ticket = url.searchParams.get('ticket') ?? '';
    // Tickets come from apps.connections.open URLs; each URL can be used once.
    if (!this.core.state.socketTickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, ticket));
  }

  isConnected(): boolean {
    return this.open.length > 0;
  }

  /** Write an envelope to the newest open connection; returns false when none is open (the caller queues it). */
  send(delivery: Delivery): boolean {
    const conn = this.open.at(-1);
    if (!conn) return false;
    const envelope = {
      envelope_id: delivery.id,
      type: delivery.kind,
      payload: delivery.payload,
      accepts_response_payload: delivery.kind !== 'events_api',
      ...(delivery.kind === 'events_api' ? { retry_attempt: delivery.retryAttempt, retry_reason: delivery.retryReason ?? '' } : {}),
    };
    delivery.sentAt = this.core.clock.now();
    delivery.connectionId = conn.record.id;
    conn.ws.send(JSON.stringify(envelope));
    this.core.state.changed();
    return true;
  }

  /** Ask the app to reconnect, as Slack does before recycling a connection (`warning` / `refresh_requested`). */
  disconnect(reason = 'refresh_requested'): void {
    for (const c of this.open) c.ws.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'fake-slack' } }));
  }

  /** Drop every connection from the server side (close frame with `code`, or a hard terminate). */
  drop(options: { code?: number; terminate?: boolean } = {}): void {
    for (const c of [...this.open]) {
      if (options.terminate) c.ws.terminate();
      else c.ws.close(options.code ?? 1001);
    }
  }

  onConnected: () => void = () => undefined;
  onAck: (envelopeId: string, payload: unknown) => void = () => undefined;

  async close(): Promise<void> {
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const c of this.open) c.ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private onConnection(ws: WebSocket, ticket: string): void {
    const { state, clock } = this.core;
    const record: SocketConnectionRecord = { id: this.nextId++, openedAt: clock.now(), closedAt: undefined, closeCode: undefined, ticket };
    const conn: Connection = { record, ws };
    state.connections.push(record);
    this.open.push(conn);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let msg: { envelope_id?: unknown; payload?: unknown };
      try {
        msg = JSON.parse(data.toString()) as typeof msg;
      } catch {
        return;
      }
      if (typeof msg.envelope_id === 'string') this.onAck(msg.envelope_id, msg.payload);
    });
    ws.on('close', (code) => {
      record.closedAt = clock.now();
      record.closeCode = code;
      const i = this.open.indexOf(conn);
      if (i >= 0) this.open.splice(i, 1);
      state.changed();
    });
    ws.on('error', () => undefined);
    ws.send(JSON.stringify({
      type: 'hello',
      num_connections: this.open.length,
      debug_info: { host: 'fake-slack', build_number: 1, approximate_connection_time: 18060 },
      connection_info: { app_id: state.appId },
    }));
    state.changed();
    this.onConnected();
  }
}
