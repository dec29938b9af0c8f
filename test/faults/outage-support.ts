/**
 * What the outage fault runs share: a scaled clock (fake time runs `SCALE` times faster than real
 * time, so ten minutes of outage take six real seconds and nothing sleeps), a run that goes on
 * during the outage (the relay rendering real run events from a real SQLite store, as it does for
 * the engine), and the checks that nothing was lost, reordered, duplicated or reported failed.
 */
import path from 'node:path';
import { Delivery } from '../../src/bots/hub/delivery.js';
import type { ChatLimits, ChatPort } from '../../src/bots/hub/chat-types.js';
import type { Clock } from '../../src/bots/hub/clock.js';
import { scaleLimits } from '../../src/bots/hub/pacing.js';
import { Relay } from '../../src/bots/hub/relay.js';
import { silentLogger } from '../../src/logger.js';
import { openStore, type Store } from '../../src/store/index.js';
import { EventFeed, insertRun, settled, started } from '../bots/hub/chat-store-fixture.js';
import { makeTempDir } from '../support/temp.js';

/** Fake milliseconds per real millisecond. */
export const SCALE = 100;
export const MINUTE = 60_000;

/** Time that runs `SCALE` times faster than the wall clock: for delivery, the relay and the fakes. */
export class ScaledClock implements Clock {
  private readonly realStart = Date.now();
  now(): number {
    return this.realStart + (Date.now() - this.realStart) * SCALE;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    return setTimeout(fn, Math.max(0, ms) / SCALE);
  }
  clearTimeout(handle: unknown): void {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  }
  /** Resolves when `ms` of fake time have passed (a timer, not a sleep of real minutes). */
  after(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }
}

/** A platform's limits with every window shrunk by the clock's scale (and its global cap raised to match). */
export function scaledLimits(limits: ChatLimits): ChatLimits {
  return { ...scaleLimits(limits, 1 / SCALE), globalPerSecond: limits.globalPerSecond * SCALE };
}

export interface Chat {
  store: Store;
  feed: EventFeed;
  relay: Relay;
  delivery: Delivery;
  close(): Promise<void>;
}

/** Relay and delivery over a fresh store, on the scaled clock, for one platform's port. */
export function startChat(clock: ScaledClock, port: ChatPort): Chat {
  const store = openStore(path.join(makeTempDir('chatops-outage-'), 'chat.sqlite'));
  const feed = new EventFeed(store);
  const delivery = new Delivery({ store, portOf: (p) => (p === port.platform ? port : undefined), logger: silentLogger(), clock });
  const relay = new Relay({
    store,
    source: feed,
    limitsOf: () => port.limits,
    notifyChannelOf: () => null,
    logger: silentLogger(),
    onEnqueued: (stream) => delivery.kick(stream),
    clock,
  });
  relay.start();
  delivery.start();
  return {
    store,
    feed,
    relay,
    delivery,
    close: async () => {
      relay.stop();
      await delivery.stop();
      store.close();
    },
  };
}

/** A run shown in a thread that already exists on the platform. */
export function bindRun(chat: Chat, runId: string, platform: string, channel: string, thread: string): void {
  const now = new Date().toISOString();
  insertRun(chat.store, runId);
  chat.store.chatThreads.insertThread({ threadKey: runId, platform, channel, thread, now });
  chat.store.chatThreads.bindRun(runId, runId, now);
}

/**
 * A run going on: one agent turn every `everyMs` of fake time, `turns` of them, then it settles.
 * Each turn's text is `<runId> turn NNN`.
 */
export async function runTurns(chat: Chat, clock: ScaledClock, runId: string, turns: number, everyMs: number): Promise<void> {
  chat.feed.append(runId, started);
  for (let i = 1; i <= turns; i++) {
    await clock.after(everyMs);
    chat.feed.append(runId, { type: 'assistant_text', text: `${runId} turn ${String(i).padStart(3, '0')}` }, { type: 'turn_end', turn: i });
  }
  chat.feed.append(runId, settled({ summary: `${runId} is done.` }));
}

/** The turn numbers a thread's messages show, in the order they show them. */
export function turnsShown(texts: string[], runId: string): number[] {
  return texts.flatMap((t) => [...t.matchAll(new RegExp(`${runId} turn (\\d{3})`, 'g'))].map((m) => Number(m[1])));
}

/** Every outbox row ended sent (or merged into a sent one), none dead. */
export function outboxOutcome(store: Store): Record<string, number> {
  const rows = store.db.prepare('SELECT status, COUNT(*) AS n FROM outbox GROUP BY status').all() as { status: string; n: number }[];
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

export function maxAttempts(store: Store): number {
  return (store.db.prepare('SELECT MAX(attempts) AS m FROM outbox').get() as { m: number }).m;
}
