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
   * Runs left `running` by processes that are gone become `interrupted` (`RunsRepo.interruptOrphans`)
   * together with their events (`eventsOf` each interrupted row: a note and its `run_settled`), in
   * one immediate transaction, so two processes recovering at once mark and tell each run once.
   */
  interruptOrphans(now: string, reason: string, isOwnerAlive: OwnerAlive, eventsOf: (run: Run) => { data: RunEventData; createdAt: string }[]): { ids: string[]; events: RunEvent[] } {
    return this.db
      .transaction(() => {
        const ids = this.runs.interruptOrphans(now, reason, isOwnerAlive);
        return { ids, events: ids.flatMap((id) => this.events.append(id, eventsOf(this.runs.get(id)!))) };
      })
      .immediate();
  }
}
