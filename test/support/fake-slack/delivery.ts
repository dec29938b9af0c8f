/**
 * Routes what Slack sends to the app — events, slash commands — over Socket Mode (default) or as signed
 * HTTP requests (after `useHttpMode(url)`), records every delivery and its ack, and redelivers on demand.
 */
import { postSigned } from './http-mode.js';
import type { EventSink, SlackCore } from './operations.js';
import type { FakeSocketMode } from './socket-mode.js';
import type { Delivery, DeliveryKind, SignatureMode } from './state.js';

export interface SendOptions {
  retryAttempt?: number;
  retryReason?: string;
  /** HTTP mode only: how the request is signed. */
  signature?: SignatureMode;
}

export class DeliveryRouter implements EventSink {
  private httpUrl: string | undefined;
  private readonly queued: Delivery[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private envelopeCounter = 0;
  /** Wall-clock send times: ack latency is real time even when the fake's clock is manual. */
  private readonly sentWall = new WeakMap<Delivery, number>();

  constructor(
    private readonly core: SlackCore,
    private readonly socket: FakeSocketMode,
  ) {
    socket.onConnected = () => this.flush();
    socket.onAck = (id, payload) => this.onSocketAck(id, payload);
  }

  get mode(): 'socket' | 'http' {
    return this.httpUrl ? 'http' : 'socket';
  }

  /** Deliver to the app's Request URL (e.g. `http://127.0.0.1:<port>/slack/events`) instead of Socket Mode. */
  useHttp(url: string | undefined): void {
    this.httpUrl = url;
  }

  deliverEvent(body: Record<string, unknown>, options: SendOptions = {}): Delivery {
    return this.deliver('events_api', body, options);
  }

  deliver(kind: DeliveryKind, payload: Record<string, unknown>, options: SendOptions = {}): Delivery {
    const event = kind === 'events_api' ? (payload.event as Record<string, unknown> | undefined) : undefined;
    const transport = this.mode;
    const delivery: Delivery = {
      id: this.nextEnvelopeId(),
      transport,
      kind,
      payload,
      eventId: kind === 'events_api' ? String(payload.event_id) : undefined,
      eventType: event ? String(event.type) + (event.subtype ? `/${String(event.subtype)}` : '') : undefined,
      retryAttempt: options.retryAttempt ?? 0,
      retryReason: options.retryReason,
      sentAt: undefined,
      connectionId: undefined,
      signature: transport === 'http' ? (options.signature ?? 'valid') : undefined,
      ack: undefined,
      error: undefined,
    };
    this.core.state.deliveries.push(delivery);
    if (transport === 'http') this.sendHttp(delivery);
    else if (!this.sendSocket(delivery)) this.queued.push(delivery);
    this.core.state.changed();
    return delivery;
  }

  /**
   * Deliver an earlier envelope/request again, as Slack does when an ack is late or lost: same payload
   * (same event_id), `retry_attempt` / `x-slack-retry-num` one higher than the last attempt, a new envelope id.
   */
  redeliver(ref: string | Delivery, options: { reason?: string; signature?: SignatureMode } = {}): Delivery {
    const { deliveries } = this.core.state;
    const original = typeof ref === 'string' ? deliveries.find((d) => d.id === ref || d.eventId === ref) : ref;
    if (!original) throw new Error(`fake-slack: no delivery with envelope or event id ${String(ref)}`);
    const attempts = deliveries.filter((d) => d.payload === original.payload);
    const retryAttempt = Math.max(...attempts.map((d) => d.retryAttempt)) + 1;
    const reason = options.reason ?? (this.mode === 'http' ? 'http_timeout' : 'timeout');
    return this.deliver(original.kind, original.payload, { retryAttempt, retryReason: reason, signature: options.signature });
  }

  /** Wait for in-flight HTTP deliveries (bounded), for a clean shutdown. */
  async settle(timeoutMs = 2_000): Promise<void> {
    if (this.inFlight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); }),
    ]);
    clearTimeout(timer);
  }

  private nextEnvelopeId(): string {
    this.envelopeCounter += 1;
    return `${this.envelopeCounter.toString(16).padStart(8, '0')}-fake-4e5b-8a1f-${this.core.clock.now().toString(16).padStart(12, '0')}`;
  }

  /**
   * Forgets the deliveries waiting for a connection, as Slack does once its retries are spent (an
   * app down longer than that); returns them.
   */
  discardQueued(): Delivery[] {
    return this.queued.splice(0);
  }

  private flush(): void {
    while (this.queued.length > 0 && this.socket.isConnected()) {
      const next = this.queued.shift()!;
      this.sendSocket(next);
    }
  }

  private sendSocket(delivery: Delivery): boolean {
    this.sentWall.set(delivery, Date.now());
    return this.socket.send(delivery);
  }

  private onSocketAck(envelopeId: string, payload: unknown): void {
    const delivery = this.core.state.deliveries.find((d) => d.id === envelopeId);
    if (!delivery || delivery.ack) return;
    const at = this.core.clock.now();
    delivery.ack = { at, latencyMs: Date.now() - (this.sentWall.get(delivery) ?? Date.now()), payload };
    this.core.state.changed();
  }

  private sendHttp(delivery: Delivery): void {
    const { clock, options, state } = this.core;
    const isJson = delivery.kind === 'events_api';
    const rawBody = isJson
      ? JSON.stringify(delivery.payload)
      : delivery.kind === 'interactive'
        ? new URLSearchParams({ payload: JSON.stringify(delivery.payload) }).toString()
        : new URLSearchParams(delivery.payload as Record<string, string>).toString();
    delivery.sentAt = clock.now();
    const started = Date.now();
    const promise = postSigned({
      url: this.httpUrl!,
      rawBody,
      contentType: isJson ? 'application/json' : 'application/x-www-form-urlencoded',
      signingSecret: options.signingSecret,
      nowSec: Math.floor(Date.now() / 1000),
      signature: delivery.signature ?? 'valid',
      retryNum: delivery.retryAttempt,
      retryReason: delivery.retryReason,
      timeoutMs: 10_000,
    }).then(
      (answer) => {
        delivery.ack = { at: clock.now(), latencyMs: Date.now() - started, payload: answer.body, status: answer.status };
      },
      (error: unknown) => {
        delivery.error = error instanceof Error ? error.message : String(error);
      },
    ).finally(() => {
      this.inFlight.delete(promise);
      state.changed();
    });
    this.inFlight.add(promise);
  }
}
