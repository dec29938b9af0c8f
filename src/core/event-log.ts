/**
 * Appends run events to the store in batches (one transaction for all runs) and fans them out to subscribers once they are
 * persisted. Events of one run keep their order; a batch is written when it reaches
 * `maxBatch` events, after `flushMs`, or at once for events that must not wait (start, settle).
 * Known secret values are replaced by `[redacted]` before an event is queued (src/core/redact.ts).
 */
import type { Logger } from 'pino';
import type { RunEventsRepo } from '../store/run-events-repo.js';
import type { Redactor } from './redact.js';
import type { RunEvent, RunEventData } from './types.js';

export type RunEventListener = (event: RunEvent) => void;
/** Told when events of a run could not be stored (full disk, failed write): they are lost. */
export type LostEventsListener = (runId: string, lost: RunEventData[], error: unknown) => void;

const IMMEDIATE: ReadonlySet<RunEventData['type']> = new Set(['run_queued', 'run_started', 'run_settled', 'stop_requested', 'user_message']);

export class EventLog {
  private pending: { runId: string; data: RunEventData; createdAt: string }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing = false;
  private readonly listeners = new Set<RunEventListener>();
  private readonly lostListeners = new Set<LostEventsListener>();

  constructor(
    private readonly repo: RunEventsRepo,
    private readonly logger: Logger,
    private readonly opts: { flushMs?: number; maxBatch?: number; now?: () => Date; redactor?: Redactor } = {},
  ) {}

  /** Queues an event; every string in it is redacted first (what the thread and notifications render). */
  append(runId: string, event: RunEventData): void {
    this.pending.push({ runId, ...this.stamp(event) });
    if (IMMEDIATE.has(event.type) || this.pending.length >= (this.opts.maxBatch ?? 50)) {
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.opts.flushMs ?? 100);
      this.timer.unref();
    }
  }

  /** An event as it is stored: redacted, with its creation time. */
  stamp(event: RunEventData): { data: RunEventData; createdAt: string } {
    const data = this.opts.redactor ? this.opts.redactor.redactDeep(event) : event;
    return { data, createdAt: (this.opts.now?.() ?? new Date()).toISOString() };
  }

  /**
   * An event that the caller stores inside a transaction of its own (a run's settle: final row
   * and `run_settled` together): everything pending is written first, so the event comes after
   * them; `write` gets the stamped event and returns it as stored; subscribers hear of it only
   * once `write` returned. When `write` throws, nothing is published and the error propagates.
   */
  writeWith<T>(event: RunEventData, write: (stamped: { data: RunEventData; createdAt: string }) => { result: T; event: RunEvent }): T {
    return this.writeManyWith((stamp) => {
      const { result, event: stored } = write(stamp(event));
      return { result, events: [stored] };
    });
  }

  /** As `writeWith`, for a transaction of the caller's that stores several events it stamps with `stamp`. */
  writeManyWith<T>(write: (stamp: (event: RunEventData) => { data: RunEventData; createdAt: string }) => { result: T; events: RunEvent[] }): T {
    this.flush();
    const { result, events } = write((event) => this.stamp(event));
    this.publish(events);
    return result;
  }

  /**
   * Writes everything pending (one transaction per run) and notifies subscribers. A listener
   * that appends while being notified is queued behind the current batch, so order holds.
   */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.pending.length > 0) this.writeBatch();
    } finally {
      this.flushing = false;
    }
  }

  private writeBatch(): void {
    const batch = this.pending;
    this.pending = [];
    const byRun = new Map<string, typeof batch>();
    for (const e of batch) {
      const list = byRun.get(e.runId) ?? [];
      list.push(e);
      byRun.set(e.runId, list);
    }
    let written: RunEvent[] = [];
    try {
      written = this.repo.appendMany([...byRun].map(([runId, events]) => ({ runId, events })));
    } catch (err) {
      // One bad run (e.g. deleted meanwhile) must not cost the others their events.
      this.logger.warn({ err, count: batch.length }, 'batched event write failed; writing run by run');
      for (const [runId, events] of byRun) written.push(...this.writeRun(runId, events));
    }
    this.publish(written);
  }

  private publish(written: RunEvent[]): void {
    for (const event of written) {
      for (const listener of this.listeners) {
        try {
          listener(event);
        } catch (err) {
          this.logger.error({ err, runId: event.runId }, 'run event listener failed');
        }
      }
    }
  }

  /** One run's events; when that fails, one by one, so only the events that cannot be stored are lost (and named). */
  private writeRun(runId: string, events: { data: RunEventData; createdAt: string }[]): RunEvent[] {
    try {
      return this.repo.append(runId, events);
    } catch {
      const written: RunEvent[] = [];
      const lost: RunEventData[] = [];
      let error: unknown = null;
      for (const e of events) {
        try {
          written.push(...this.repo.append(runId, [e]));
        } catch (err) {
          error = err;
          lost.push(e.data);
        }
      }
      if (lost.length > 0) this.reportLost(runId, lost, error);
      return written;
    }
  }

  private reportLost(runId: string, lost: RunEventData[], error: unknown): void {
    this.logger.error(
      { err: error, runId, lost: lost.length, types: lost.map((d) => d.type), first: JSON.stringify(lost[0]).slice(0, 500) },
      'could not store run events; they are lost',
    );
    for (const listener of this.lostListeners) {
      try {
        listener(runId, lost, error);
      } catch (err) {
        this.logger.error({ err, runId }, 'lost-events listener failed');
      }
    }
  }

  /** Called with every run's events that could not be stored. Returns an unsubscribe function. */
  onLost(listener: LostEventsListener): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /** Every persisted event of every run, in order per run. Returns an unsubscribe function. */
  subscribe(listener: RunEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
