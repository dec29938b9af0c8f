/**
 * What a run leaves behind when it settles (head commit, uncommitted changes, files changed) and
 * how its outcome is recorded: final row and `run_settled` event in one transaction.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/index.js';
import type { RunFinish } from '../store/runs-repo.js';
import type { EventLog } from './event-log.js';
import type { WorktreeOps } from './run-ports.js';
import type { Run, RunEventData } from './types.js';

export interface WorktreeReport {
  commitSha: string | null;
  /** `git status` lines when the agent left uncommitted changes. */
  dirty: string | null;
  filesChanged: string[];
}

/** Reads the worktree a run worked in; empty for runs without one or whose folder is gone. */
export async function inspectWorktree(worktrees: WorktreeOps, run: Run, cwd: string): Promise<WorktreeReport> {
  if (!run.useWorktree || !worktrees.exists(cwd)) return { commitSha: null, dirty: null, filesChanged: [] };
  const [commitSha, dirty, filesChanged] = await Promise.all([
    worktrees.headSha(cwd),
    worktrees.dirtySummary(cwd),
    worktrees.changedFiles(cwd, run.baseSha),
  ]);
  return { commitSha, dirty, filesChanged };
}

/** The last event of every run: its outcome in one record, for renderers and notifications. */
export function settledEvent(run: Run, filesChanged: string[], durationMs: number): Extract<RunEventData, { type: 'run_settled' }> {
  return {
    type: 'run_settled',
    status: run.status,
    summary: run.summary,
    error: run.error,
    commitSha: run.commitSha,
    branch: run.branch,
    filesChanged,
    durationMs,
    costUsd: run.costUsd,
    tokensTotal: run.tokensTotal,
  };
}

/** How often a settle the database refused is tried again. */
export const SETTLE_RETRY_MS = 10_000;

/** The row a finish turns `run` into (what the store will hold), before it is written. */
function finished(run: Run, f: RunFinish): Run {
  return {
    ...run,
    status: f.status,
    summary: f.summary,
    commitSha: f.commitSha,
    error: f.error,
    tokensInput: f.tokensInput,
    tokensOutput: f.tokensOutput,
    tokensTotal: f.tokensTotal,
    costUsd: f.costUsd,
    finishedAt: f.now,
  };
}

/**
 * Writes a run's final row and its `run_settled` event in one transaction, after every event of
 * the run still pending in the event log; subscribers hear of the settle only once both are
 * stored. Throws (and writes nothing) when the database refuses either.
 */
export function recordSettle(store: Pick<Store, 'settle'>, events: EventLog, run: Run, finish: RunFinish, filesChanged: string[], durationMs: number): Run {
  return events.writeWith(settledEvent(finished(run, finish), filesChanged, durationMs), (stamped) => store.settle.finish(run.id, finish, stamped));
}

/**
 * Failed outcomes whose record the database refused: kept in memory and written every
 * SETTLE_RETRY_MS until it accepts them (callers already saw the outcome).
 */
export class UnrecordedSettles {
  private readonly waiting = new Map<string, { run: Run; finish: RunFinish; durationMs: number }>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Pick<Store, 'settle'>,
    private readonly events: EventLog,
    private readonly logger: Logger,
  ) {}

  has(runId: string): boolean {
    return this.waiting.has(runId);
  }

  get ids(): string[] {
    return [...this.waiting.keys()];
  }

  /** Records a failed run now, or keeps it for the retry; returns the stored row, or null when kept. */
  record(run: Run, finish: RunFinish, durationMs: number): Run | null {
    const stored = this.tryRecord(run, finish, durationMs);
    if (stored) return stored;
    this.waiting.set(run.id, { run, finish, durationMs });
    this.timer ??= setInterval(() => this.retry(), SETTLE_RETRY_MS);
    this.timer.unref();
    return null;
  }

  private tryRecord(run: Run, finish: RunFinish, durationMs: number): Run | null {
    try {
      return recordSettle(this.store, this.events, run, finish, [], durationMs);
    } catch (err) {
      this.logger.error(
        { err, runId: run.id, error: finish.error },
        `could not record the failed run; it stays "running" in the database until a write succeeds (retried every ${SETTLE_RETRY_MS / 1000}s)`,
      );
      return null;
    }
  }

  /** Tries every waiting record again; true when none is left. */
  retry(): boolean {
    for (const [runId, { run, finish, durationMs }] of this.waiting) {
      if (this.tryRecord(run, finish, durationMs)) {
        this.waiting.delete(runId);
        this.logger.warn({ runId }, 'recorded the failed run after the database accepted writes again');
      }
    }
    if (this.waiting.size === 0) this.dispose();
    return this.waiting.size === 0;
  }

  /** Stops retrying (shutdown): what is left becomes `interrupted` at the next start. */
  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
