/** SQL for run events: a per-run sequence, appended in batches. */
import type { RunEvent, RunEventData } from '../core/types.js';
import type { Db } from './database.js';

interface EventRow {
  run_id: string;
  seq: number;
  type: string;
  data: string;
  created_at: string;
}

function toEvent(r: EventRow): RunEvent {
  let data: RunEventData;
  try {
    data = JSON.parse(r.data) as RunEventData;
  } catch {
    data = { type: 'warning', message: `unreadable event ${r.seq}` };
  }
  return { runId: r.run_id, seq: r.seq, type: data.type, data, createdAt: r.created_at };
}

export class RunEventsRepo {
  constructor(private readonly db: Db) {}

  /** Appends events for one run in one transaction, numbering them after the run's last seq. */
  append(runId: string, events: { data: RunEventData; createdAt: string }[]): RunEvent[] {
    return this.appendMany([{ runId, events }]);
  }

  /**
   * Appends events of several runs in ONE transaction (one fsync), numbering each run's events
   * after its last seq. Returns them in the order given.
   */
  appendMany(batches: { runId: string; events: { data: RunEventData; createdAt: string }[] }[]): RunEvent[] {
    const last = this.db.prepare('SELECT MAX(seq) AS seq FROM agent_run_events WHERE run_id = ?');
    const insert = this.db.prepare('INSERT INTO agent_run_events (run_id, seq, type, data, created_at) VALUES (?, ?, ?, ?, ?)');
    return this.db.transaction(() => {
      const out: RunEvent[] = [];
      for (const { runId, events } of batches) {
        let seq = ((last.get(runId) as { seq: number | null }).seq ?? 0) as number;
        for (const e of events) {
          seq++;
          insert.run(runId, seq, e.data.type, JSON.stringify(e.data), e.createdAt);
          out.push({ runId, seq, type: e.data.type, data: e.data, createdAt: e.createdAt });
        }
      }
      return out;
    })();
  }

  list(runId: string, sinceSeq = 0, limit = 10_000): RunEvent[] {
    const rows = this.db
      .prepare('SELECT * FROM agent_run_events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?')
      .all(runId, sinceSeq, limit) as EventRow[];
    return rows.map(toEvent);
  }

  lastSeq(runId: string): number {
    const row = this.db.prepare('SELECT MAX(seq) AS seq FROM agent_run_events WHERE run_id = ?').get(runId) as { seq: number | null };
    return row.seq ?? 0;
  }
}
