/**
 * Delivery: the only code that calls the `ChatPort` for run output. Sends the outbox lane by
 * lane (a lane is a run thread), one row at a time in id order; marks a row `inflight` in a
 * committed transaction before the call and `sent` with the platform's message id after.
 * Rate limits reschedule the row (`not_before`) without blocking other lanes; transient errors
 * back off exponentially up to `maxAttempts`, then the row is `dead` and a visible note says so;
 * permanent errors are `dead` at once. A 429 in the middle of a split message only delays the
 * rest of it. Status edits are last-writer-wins (the outbox skips superseded ones).
 */
import type { Logger } from 'pino';
import { errorText } from '../../core/errors.js';
import type { Store } from '../../store/index.js';
import type { ClaimedRow, OutboxRow } from '../../store/outbox-repo.js';
import type { ChatPort } from './chat-types.js';
import { systemClock, type Clock } from './clock.js';

/** How soon a lane whose job threw (not a platform error: e.g. a busy database) is tried again. */
const LANE_RETRY_MS = 1000;
import { DeliveryLanes } from './delivery-lanes.js';

export interface DeliveryOptions {
  store: Store;
  port: ChatPort;
  logger: Logger;
  clock?: Clock;
  /** Attempts for transient failures before a row is dead (default 8). */
  maxAttempts?: number;
  /** Exponential backoff: base and cap (defaults 1,000 and 30,000 ms). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

type Outcome = 'sent' | 'failed' | 'wait' | 'empty' | 'stopped';

/** A deterministic create nonce (≤ 25 chars): the same row always sends the same nonce. */
export function outboxNonce(threadKey: string, id: number): string {
  return `${threadKey.replace(/[^A-Za-z0-9]/g, '').slice(0, 12)}-${id.toString(36)}`;
}

export class Delivery {
  private readonly lanes: DeliveryLanes;
  private readonly clock: Clock;
  private readonly busy = new Set<string>();
  private readonly again = new Set<string>();
  private readonly timers = new Map<string, { at: number; handle: unknown }>();
  private readonly running = new Set<Promise<void>>();
  private waiters: { check: () => boolean; resolve: () => void }[] = [];
  private stopped = false;

  constructor(private readonly opts: DeliveryOptions) {
    this.lanes = new DeliveryLanes(opts.port.limits);
    this.clock = opts.clock ?? systemClock;
  }

  /** Reclaims rows a crash left in flight (their creates resend with the same nonce) and starts every lane with work. */
  start(): void {
    const reclaimed = this.opts.store.outbox.reclaimInflight(this.iso());
    if (reclaimed > 0) this.opts.logger.warn({ reclaimed }, 'resending outbox rows that were in flight when the bot stopped');
    for (const lane of this.opts.store.outbox.pendingLanes()) this.kick(lane);
  }

  /** Stops sending: waits for the requests in flight; pending rows stay in the outbox for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) this.clock.clearTimeout(t.handle);
    this.timers.clear();
    await Promise.all([...this.running]);
    await this.lanes.stop();
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
  }

  /** Says a lane has new rows. Cheap and idempotent: call it after every enqueue. */
  kick(threadKey: string): void {
    if (this.stopped) return;
    if (this.busy.has(threadKey)) {
      this.again.add(threadKey);
      return;
    }
    this.busy.add(threadKey);
    const job = this.lanes
      .inLane(threadKey, () => this.sendNext(threadKey))
      .catch((err: unknown): Outcome => {
        // E.g. the database was busy: try the lane again shortly instead of leaving it asleep.
        this.opts.logger.error({ err, threadKey }, 'delivery lane failed; retrying');
        this.wakeAt(threadKey, this.clock.now() + LANE_RETRY_MS);
        return 'wait';
      })
      .then((outcome) => {
        this.busy.delete(threadKey);
        const more = this.again.delete(threadKey);
        if (outcome === 'sent' || outcome === 'failed' || more) this.kick(threadKey);
        else if (outcome === 'empty') this.lanes.release(threadKey);
        this.settleWaiters();
      })
      .catch((err: unknown) => this.opts.logger.error({ err, threadKey }, 'delivery bookkeeping failed'));
    const tracked = job.finally(() => this.running.delete(tracked));
    this.running.add(tracked);
  }

  /** Resolves once nothing is pending or in flight (rate-limited rows included). */
  drain(): Promise<void> {
    for (const lane of this.opts.store.outbox.pendingLanes()) this.kick(lane);
    return this.until(() => this.opts.store.outbox.countUnfinished() === 0 && this.busy.size === 0);
  }

  /** Resolves with the row once it is sent, dead or superseded. */
  async waitFor(id: number): Promise<OutboxRow | undefined> {
    const done = () => {
      const row = this.opts.store.outbox.get(id);
      return !row || (row.status !== 'pending' && row.status !== 'inflight');
    };
    await this.until(done);
    return this.opts.store.outbox.get(id);
  }

  private until(check: () => boolean): Promise<void> {
    if (check() || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ check, resolve }));
  }

  private settleWaiters(): void {
    const keep: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.check()) w.resolve();
      else keep.push(w);
    }
    this.waiters = keep;
  }

  private async sendNext(threadKey: string): Promise<Outcome> {
    if (this.stopped) return 'stopped';
    const { store } = this.opts;
    const claim = store.outbox.claimNext(threadKey, this.clock.now(), this.iso());
    if (claim.kind === 'empty') return 'empty';
    if (claim.kind === 'wait') {
      this.wakeAt(threadKey, claim.until);
      return 'wait';
    }
    const row = claim.row;
    try {
      await this.send(row);
      return 'sent';
    } catch (err) {
      this.fail(row, err);
      return 'failed';
    }
  }

  private async send(row: ClaimedRow): Promise<void> {
    const { port, store } = this.opts;
    const dest = row.inThread && !port.limits.threadsShareChannelBudget ? (row.thread ?? row.channel) : row.channel;
    switch (row.op) {
      case 'create': {
        let body = row.body;
        if (row.linkThread) {
          const lane = store.chatThreads.getThread(row.threadKey);
          const link = lane?.thread ? port.permalink?.(lane.channel, lane.thread, null) : null;
          if (link) body = `${body} · ${link}`;
        }
        const thread = row.inThread ? row.thread : null;
        const ref = await this.lanes.call(dest, 'post', () => port.post(row.channel, thread, body, { nonce: outboxNonce(row.threadKey, row.id), mayExist: row.attempts > 1 }));
        store.outbox.markSent(row.id, ref, this.iso());
        return;
      }
      case 'edit':
        await this.lanes.call(dest, 'edit', () => port.edit(row.targetMsg!, row.body));
        store.outbox.markSent(row.id, null, this.iso());
        return;
      case 'react':
        await this.lanes.call(dest, 'reaction', () => port.react(row.targetMsg!, row.body));
        store.outbox.markSent(row.id, null, this.iso());
        return;
      case 'thread': {
        const name = row.body.slice(0, port.limits.maxThreadNameChars);
        const thread = await this.lanes.call(row.channel, 'thread', () => port.createThread(row.channel, row.targetMsg!, name));
        store.outbox.markThreadCreated(row.id, row.threadKey, thread, this.iso());
        return;
      }
    }
  }

  private fail(row: ClaimedRow, err: unknown): void {
    const { store, port, logger } = this.opts;
    const log = logger.child({ outboxId: row.id, threadKey: row.threadKey, op: row.op, attempts: row.attempts });
    const kind = port.classifyError(err);
    const now = this.clock.now();
    if (kind.kind === 'rate_limited') {
      log.warn({ retryAfterMs: kind.retryAfterMs }, 'rate limited; rescheduled');
      store.outbox.reschedule(row.id, now + kind.retryAfterMs, `rate limited: retry after ${kind.retryAfterMs} ms`, false, this.iso());
      return;
    }
    const maxAttempts = this.opts.maxAttempts ?? 8;
    if (kind.kind === 'transient' && row.attempts < maxAttempts) {
      const base = this.opts.backoffBaseMs ?? 1000;
      const wait = Math.min(this.opts.backoffMaxMs ?? 30_000, base * 2 ** (row.attempts - 1));
      log.warn({ err, waitMs: wait }, 'transient delivery error; retrying');
      store.outbox.reschedule(row.id, now + wait, errorText(err), true, this.iso());
      return;
    }
    const reason = kind.kind === 'permanent' ? kind.reason : `gave up after ${row.attempts} attempts: ${errorText(err)}`;
    log.error({ err, reason }, 'delivery failed; row is dead');
    store.outbox.markDead(row.id, reason, this.iso());
    this.noteFailure(row, reason);
  }

  /** Says visibly that something could not be delivered (never for a note itself or a reaction). */
  private noteFailure(row: ClaimedRow, reason: string): void {
    if (row.op === 'react' || row.dedupeKey?.startsWith('delivery-failed:')) return;
    const what = row.op === 'thread' ? 'the thread for this run could not be opened' : `a ${row.op === 'edit' ? 'status update' : 'message'} could not be delivered`;
    const lane = this.opts.store.chatThreads.getThread(row.threadKey);
    const inThread = row.op !== 'thread' && Boolean(lane?.thread);
    this.opts.store.outbox.enqueue(
      {
        threadKey: row.threadKey,
        runId: row.runId,
        op: 'create',
        channel: lane?.channel ?? row.channel,
        inThread,
        body: `⚠️ Delivery failed: ${what} (${reason.slice(0, 300)}).`,
        dedupeKey: `delivery-failed:${row.id}`,
      },
      this.iso(),
    );
  }

  private wakeAt(threadKey: string, at: number): void {
    const existing = this.timers.get(threadKey);
    if (existing && existing.at <= at) return;
    if (existing) this.clock.clearTimeout(existing.handle);
    const handle = this.clock.setTimeout(() => {
      this.timers.delete(threadKey);
      this.kick(threadKey);
    }, Math.max(0, at - this.clock.now()));
    this.timers.set(threadKey, { at, handle });
  }

  private iso(): string {
    return new Date(this.clock.now()).toISOString();
  }
}
