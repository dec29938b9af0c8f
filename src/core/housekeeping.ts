/**
 * The bot's own clean-up, at start-up and once a day: worktrees past WORKTREE_RETENTION (the
 * rule of worktree-janitor.ts) and the bulky rows of runs settled longer than DATA_RETENTION
 * (retention-repo.ts). It posts nothing itself: the report says what could not be removed, for
 * whoever wants to tell a person (the log gets a warning either way).
 */
import type { Logger } from 'pino';
import type { RetentionRepo } from '../store/retention-repo.js';
import { errorText } from './errors.js';
import type { PruneReport, WorktreeJanitor } from './worktree-janitor.js';

export interface HousekeepingReport {
  at: Date;
  /** Null when listing the worktrees failed (see `worktreeError`). */
  worktrees: PruneReport | null;
  worktreeError: string | null;
  eventsDeleted: number;
  outboxDeleted: number;
  dataError: string | null;
}

export interface HousekeepingOptions {
  janitor: WorktreeJanitor;
  retention: RetentionRepo;
  worktreeRetentionMs: number;
  dataRetentionMs: number;
  logger: Logger;
  now?: () => Date;
  /** How often after the first pass (default one day). */
  intervalMs?: number;
  /** Rows per delete statement (default 500). */
  batch?: number;
  /** Called after every pass (e.g. to tell a chat what could not be removed). */
  onReport?: (report: HousekeepingReport) => void;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export class Housekeeping {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<HousekeepingReport> | null = null;
  private closed = false;
  /** The latest pass, if any. */
  last: HousekeepingReport | null = null;

  constructor(private readonly options: HousekeepingOptions) {}

  /** A pass now (in the background) and then one every interval; the timer never keeps the process alive. */
  start(): void {
    if (this.closed || this.timer) return;
    void this.runOnce();
    this.timer = setInterval(() => void this.runOnce(), this.options.intervalMs ?? DAY_MS);
    this.timer.unref();
  }

  /** One pass; a pass already under way is shared. */
  runOnce(): Promise<HousekeepingReport> {
    this.running ??= this.pass().finally(() => (this.running = null));
    return this.running;
  }

  /** Stops the timer and waits for a pass under way. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => {});
  }

  private async pass(): Promise<HousekeepingReport> {
    const { janitor, logger } = this.options;
    const at = this.options.now?.() ?? new Date();
    const report: HousekeepingReport = { at, worktrees: null, worktreeError: null, eventsDeleted: 0, outboxDeleted: 0, dataError: null };
    try {
      report.worktrees = await janitor.prune({ olderThanMs: this.options.worktreeRetentionMs });
    } catch (err) {
      report.worktreeError = errorText(err);
      logger.warn({ err }, 'worktree clean-up failed');
    }
    try {
      await this.pruneData(new Date(at.getTime() - this.options.dataRetentionMs).toISOString(), report);
    } catch (err) {
      report.dataError = errorText(err);
      logger.warn({ err }, 'data retention clean-up failed');
    }
    const failed = report.worktrees?.failed.length ?? 0;
    logger.info(
      { worktreesRemoved: report.worktrees?.removed.length ?? 0, worktreesFailed: failed, eventsDeleted: report.eventsDeleted, outboxDeleted: report.outboxDeleted },
      'housekeeping done',
    );
    this.last = report;
    try {
      this.options.onReport?.(report);
    } catch (err) {
      logger.error({ err }, 'housekeeping report handler failed');
    }
    return report;
  }

  /** Deletes in batches, letting other work run between them. */
  private async pruneData(before: string, report: HousekeepingReport): Promise<void> {
    const { retention } = this.options;
    const batch = this.options.batch ?? 500;
    const drain = async (step: () => number, add: (n: number) => void): Promise<void> => {
      for (;;) {
        if (this.closed) return;
        const n = step();
        add(n);
        if (n < batch) return;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    };
    await drain(() => retention.pruneEvents(before, batch), (n) => (report.eventsDeleted += n));
    await drain(() => retention.pruneOutbox(before, batch), (n) => (report.outboxDeleted += n));
    if (report.eventsDeleted + report.outboxDeleted > 0) retention.vacuum();
  }
}
