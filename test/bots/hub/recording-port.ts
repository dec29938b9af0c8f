/**
 * An in-test ChatPort: records every call in order, hands out message/thread refs, and can be
 * told to fail the next matching call with a rate limit (retry-after), a transient or a
 * permanent error. No timers of its own; `onCall` lets a test observe calls as they happen.
 */
import type { ChatLimits, ChatPort, DeliveryErrorClass } from '../../../src/bots/hub/chat-types.js';
import type { Receiver } from '../../../src/bots/hub/hub.js';

export class PortError extends Error {
  constructor(readonly klass: DeliveryErrorClass) {
    super(`port error: ${klass.kind}`);
  }
}

export interface PortCall {
  op: 'post' | 'edit' | 'react' | 'createThread';
  channel?: string;
  thread?: string | null;
  message?: string;
  body: string;
  nonce?: string;
  ref?: string;
}

export const TEST_LIMITS: ChatLimits = {
  maxMessageChars: 2000,
  messageHeadroom: 100,
  maxThreadNameChars: 100,
  postScope: 'thread',
  posts: { count: 1000, windowMs: 1000 },
  edits: 'posts',
  reactions: { count: 1000, windowMs: 1000 },
  threadCreates: null,
  globalPerSecond: 1000,
  statusEditMinIntervalMs: 1500,
  controlReactions: true,
};

/** A receiver with no transport around a port: tests hand events to the hub themselves. */
export function portReceiver(port: ChatPort, notifyChannel: string | null = null): Receiver {
  return { platform: port.platform, port, notifyChannel, start: async () => {}, stop: async () => {}, done: new Promise(() => {}) };
}

type Failure = { match: (c: PortCall) => boolean; klass: DeliveryErrorClass; times: number };

export class RecordingPort implements ChatPort {
  readonly platform = 'test';
  readonly calls: PortCall[] = [];
  /** Calls that failed (not in `calls`). */
  readonly failed: PortCall[] = [];
  private failures: Failure[] = [];
  private next = 1;
  private readonly nonces = new Map<string, string>();
  onCall: ((c: PortCall) => void) | null = null;

  constructor(readonly limits: ChatLimits = TEST_LIMITS) {}

  /** Fail the next `times` calls matching `match` with `klass`. */
  failNext(match: (c: PortCall) => boolean, klass: DeliveryErrorClass, times = 1): void {
    this.failures.push({ match, klass, times });
  }

  private run(call: PortCall): void {
    const f = this.failures.find((x) => x.times > 0 && x.match(call));
    if (f) {
      f.times--;
      this.failed.push(call);
      throw new PortError(f.klass);
    }
  }

  async post(channel: string, thread: string | null, body: string, opts: { nonce: string }): Promise<string> {
    const call: PortCall = { op: 'post', channel, thread, body, nonce: opts.nonce };
    this.run(call);
    // Like Discord's enforce_nonce: the same nonce returns the same message.
    const seen = this.nonces.get(opts.nonce);
    if (seen) return seen;
    call.ref = `test:m${this.next++}`;
    this.nonces.set(opts.nonce, call.ref);
    this.calls.push(call);
    this.onCall?.(call);
    return call.ref;
  }

  async edit(message: string, body: string): Promise<void> {
    const call: PortCall = { op: 'edit', message, body };
    this.run(call);
    this.calls.push(call);
    this.onCall?.(call);
  }

  async react(message: string, emoji: string): Promise<void> {
    const call: PortCall = { op: 'react', message, body: emoji };
    this.run(call);
    this.calls.push(call);
    this.onCall?.(call);
  }

  async createThread(channel: string, from: string, name: string): Promise<string> {
    const call: PortCall = { op: 'createThread', channel, message: from, body: name };
    this.run(call);
    call.ref = `test:t${this.next++}`;
    this.calls.push(call);
    this.onCall?.(call);
    return call.ref;
  }

  permalink(channel: string, thread: string | null): string {
    return `https://chat.test/${channel}/${thread ?? ''}`;
  }

  classifyError(err: unknown): DeliveryErrorClass {
    if (err instanceof PortError) return err.klass;
    return { kind: 'permanent', reason: String(err) };
  }

  posts(thread?: string): PortCall[] {
    return this.calls.filter((c) => c.op === 'post' && (thread === undefined || c.thread === thread));
  }
}
