/**
 * A run's settle as one transaction: its final row (status, summary, commit, cost) and its
 * `run_settled` event are written together or not at all, so no crash or failed write can leave
 * a thread without its final result or a final result without its row.
 */
import type { Run, RunEvent, RunEventData } from '../core/types.js';
import type { Db } from './database.js';
import type { RunEventsRepo } from './run-events-repo.js';
import type { OwnerAlive, RunFinish, RunsRepo } from './runs-repo.js';

export class RunSettleRepo {
  constructor(
    private readonly db: Db,
    private readonly runs: RunsRepo,
    private readonly events: RunEventsRepo,
  ) {}

  /**
   * Writes the final row and `event` (numbered after the run's last seq); when either write
   * throws, neither is kept and the error is rethrown.
   */
  finish(runId: string, finish: RunFinish, event: { data: RunEventData; createdAt: string }): { result: Run; event: RunEvent } {
    return this.db.transaction(() => {
      this.runs.finish(runId, finish);
      const run = this.runs.get(runId);
      if (!run) throw new Error(`run ${runId} does not exist`);
      const [stored] = this.events.append(runId, [event]);
      return { result: run, event: stored! };
    })();
  }

  /**
   * A run left `running` by a process that is gone becomes `interrupted` together with its events
   * (`eventsOf` the interrupted row: a note and its `run_settled`), in one immediate transaction;
   * null when it is no longer such an orphan (another process recovered it first, or its owner lives).
   */
  interruptOrphan(runId: string, reason: string, now: string, isOwnerAlive: OwnerAlive, eventsOf: (run: Run) => { data: RunEventData; createdAt: string }[]): RunEvent[] | null {
    return this.db
      .transaction(() => {
        if (!this.runs.orphansRunning(isOwnerAlive).includes(runId) || !this.runs.markInterrupted(runId, reason, now)) return null;
        return this.events.append(runId, eventsOf(this.runs.get(runId)!));
      })
      .immediate();
  }
}
