/**
 * SQL for DATA_RETENTION: thinning the bulky rows of runs that settled long ago, in small batches
 * so no single statement holds the database for long. The run's own row (status, summary,
 * branch, commit, cost) always stays, and so does what later work still needs:
 * - the run's last event (its `run_settled`): its seq keeps the run's numbering and the
 *   relay's cursor valid should the run ever get a new event (e.g. a playtest);
 * - the messages a reaction or a later edit can still point at: the header, the thread, the live
 *   status and the final result, and any row another row targets.
 */
import type { Db } from './database.js';

const DELIVERED = "('sent','dead','superseded')";

export class RetentionRepo {
  constructor(private readonly db: Db) {}

  /** Deletes up to `limit` events (all but each run's last) of runs finished before `before`. */
  pruneEvents(before: string, limit: number): number {
    return this.db
      .prepare(
        `DELETE FROM agent_run_events WHERE (run_id, seq) IN (
           SELECT e.run_id, e.seq FROM agent_runs r JOIN agent_run_events e ON e.run_id = r.id
           WHERE r.status <> 'running' AND r.finished_at IS NOT NULL AND r.finished_at < ?
             AND e.seq < (SELECT MAX(seq) FROM agent_run_events m WHERE m.run_id = r.id)
           LIMIT ?)`,
      )
      .run(before, limit).changes;
  }

  /** Deletes up to `limit` delivered outbox rows of runs finished before `before`. */
  pruneOutbox(before: string, limit: number): number {
    return this.db
      .prepare(
        `DELETE FROM outbox WHERE id IN (
           SELECT o.id FROM agent_runs r JOIN outbox o ON o.run_id = r.id
           WHERE r.status <> 'running' AND r.finished_at IS NOT NULL AND r.finished_at < ?
             AND o.status IN ${DELIVERED}
             AND o.op <> 'thread'
             AND (o.dedupe_key IS NULL OR (o.dedupe_key NOT LIKE 'header:%' AND o.dedupe_key NOT LIKE 'status:%' AND o.dedupe_key NOT LIKE 'final:%'))
             AND NOT EXISTS (SELECT 1 FROM outbox t WHERE t.target_id = o.id OR t.after_id = o.id)
             AND o.id NOT IN (SELECT header_outbox_id FROM run_threads WHERE header_outbox_id IS NOT NULL)
             AND o.id NOT IN (SELECT status_outbox_id FROM run_thread_runs WHERE status_outbox_id IS NOT NULL)
           LIMIT ?)`,
      )
      .run(before, limit).changes;
  }

  /** Gives the pages freed by deletions back to the file system (the database uses incremental auto-vacuum). */
  vacuum(pages = 2000): void {
    this.db.pragma(`incremental_vacuum(${Math.max(1, Math.floor(pages))})`);
  }
}
