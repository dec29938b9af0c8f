/**
 * The run queue: at most `maxConcurrent` agents run at once, across refinements, platforms and
 * processes sharing the database (the bot and a `chatops run` in a terminal wait in one queue).
 * The queue is the `queued` rows themselves, oldest first, so a restart keeps it. A process
 * admits only its own runs, and only the oldest queued run of a live process: admission is one
 * immediate transaction (`RunsRepo.admitQueued`). Other processes' runs settle unseen, so a
 * process with runs waiting also looks again every `pollMs`.
 */
import type { RunsRepo } from '../store/runs-repo.js';
import { AppError, UserError } from './errors.js';

export interface RunQueueDeps {
  runs: Pick<RunsRepo, 'admitQueued' | 'queue'>;
  maxConcurrent: number;
  /** Whether the process recorded as (pid, start time) still runs. */
  isOwnerAlive: (pid: number, start: string | null) => boolean;
  /** Called when a waiting run of this process moves in the queue (1 = next). */
  onPosition: (runId: string, position: number) => void;
  now: () => Date;
  pollMs?: number;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  position: number;
}

export class RunQueue {
  private readonly waiting = new Map<string, Waiter>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly deps: RunQueueDeps) {}

  get maxConcurrent(): number {
    return this.deps.maxConcurrent;
  }

  /**
   * Resolves when the queued run `runId` (owned by this process) has been admitted and is now
   * `running`; rejects with RUN_STOPPED when it is cancelled first, or SHUTTING_DOWN.
   */
  wait(runId: string): Promise<void> {
    if (this.closed) return Promise.reject(new AppError('SHUTTING_DOWN', 'the bot is shutting down; the run stays queued'));
    const admitted = new Promise<void>((resolve, reject) => this.waiting.set(runId, { resolve, reject, position: 0 }));
    this.pump();
    return admitted;
  }

  /** Takes a waiting run out of the queue; false when it was not waiting here. */
  cancel(runId: string): boolean {
    const w = this.waiting.get(runId);
    if (!w) return false;
    this.waiting.delete(runId);
    w.reject(new UserError('RUN_STOPPED', `run ${runId.slice(0, 8)} was removed from the queue before it started`));
    this.pump();
    return true;
  }

  isWaiting(runId: string): boolean {
    return this.waiting.has(runId);
  }

  /** Places in the queue as every process sees it (1 = next), by run id. */
  positions(): Map<string, number> {
    return new Map(this.deps.runs.queue(this.deps.isOwnerAlive).map((r, i) => [r.id, i + 1]));
  }

  /** Admits what fits now and tells waiting runs where they stand. Call after any run settles. */
  pump(): void {
    if (this.closed) return;
    const admitted = this.deps.runs.admitQueued(
      process.pid,
      this.deps.maxConcurrent,
      this.deps.isOwnerAlive,
      (id) => this.waiting.has(id),
      this.deps.now().toISOString(),
    );
    for (const id of admitted) {
      const w = this.waiting.get(id);
      this.waiting.delete(id);
      w?.resolve();
    }
    if (this.waiting.size === 0) {
      this.stopPolling();
      return;
    }
    const positions = this.positions();
    for (const [id, w] of this.waiting) {
      const position = positions.get(id) ?? 0;
      if (position !== w.position) {
        w.position = position;
        this.deps.onPosition(id, position);
      }
    }
    if (!this.timer) {
      this.timer = setInterval(() => this.pump(), this.deps.pollMs ?? 1000);
      this.timer.unref();
    }
  }

  /** Stops admitting; waiting runs stay `queued` in the database for the next start. */
  close(): void {
    this.closed = true;
    this.stopPolling();
    for (const w of this.waiting.values()) w.reject(new AppError('SHUTTING_DOWN', 'the bot is shutting down; the run stays queued'));
    this.waiting.clear();
  }

  private stopPolling(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
