/** SQL for chat threads: which thread shows which runs, their status messages and render cursors. */
import type { Db } from './database.js';

export interface ChatThread {
  threadKey: string;
  platform: string;
  channel: string;
  /** The platform's thread ref, null until delivery created the thread. */
  thread: string | null;
  headerOutboxId: number | null;
  createdAt: string;
}

export interface RunBinding {
  runId: string;
  threadKey: string;
  statusOutboxId: number | null;
  /** Every event with a seq up to this one has its outbox rows written. */
  renderedSeq: number;
  createdAt: string;
}

interface ThreadRow {
  thread_key: string;
  platform: string;
  channel: string;
  thread: string | null;
  header_outbox_id: number | null;
  created_at: string;
}

interface BindingRow {
  run_id: string;
  thread_key: string;
  status_outbox_id: number | null;
  rendered_seq: number;
  created_at: string;
}

const toThread = (r: ThreadRow): ChatThread => ({
  threadKey: r.thread_key,
  platform: r.platform,
  channel: r.channel,
  thread: r.thread,
  headerOutboxId: r.header_outbox_id,
  createdAt: r.created_at,
});

const toBinding = (r: BindingRow): RunBinding => ({
  runId: r.run_id,
  threadKey: r.thread_key,
  statusOutboxId: r.status_outbox_id,
  renderedSeq: r.rendered_seq,
  createdAt: r.created_at,
});

export class ChatThreadsRepo {
  constructor(private readonly db: Db) {}

  /** Records a thread that delivery will create; false when the key exists. */
  insertThread(t: { threadKey: string; platform: string; channel: string; thread?: string | null; now: string }): boolean {
    const info = this.db
      .prepare('INSERT OR IGNORE INTO run_threads (thread_key, platform, channel, thread, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(t.threadKey, t.platform, t.channel, t.thread ?? null, t.now);
    return info.changes === 1;
  }

  setHeader(threadKey: string, outboxId: number): void {
    this.db.prepare('UPDATE run_threads SET header_outbox_id = ? WHERE thread_key = ?').run(outboxId, threadKey);
  }

  getThread(threadKey: string): ChatThread | undefined {
    const row = this.db.prepare('SELECT * FROM run_threads WHERE thread_key = ?').get(threadKey) as ThreadRow | undefined;
    return row && toThread(row);
  }

  findByThreadRef(thread: string): ChatThread | undefined {
    const row = this.db.prepare('SELECT * FROM run_threads WHERE thread = ?').get(thread) as ThreadRow | undefined;
    return row && toThread(row);
  }

  /** Shows a run in a thread, its cursor at 0; false when the run is already bound. */
  bindRun(runId: string, threadKey: string, now: string): boolean {
    const info = this.db
      .prepare('INSERT OR IGNORE INTO run_thread_runs (run_id, thread_key, created_at) VALUES (?, ?, ?)')
      .run(runId, threadKey, now);
    return info.changes === 1;
  }

  binding(runId: string): RunBinding | undefined {
    const row = this.db.prepare('SELECT * FROM run_thread_runs WHERE run_id = ?').get(runId) as BindingRow | undefined;
    return row && toBinding(row);
  }

  /** The runs a thread shows, oldest first. */
  runsInThread(threadKey: string): RunBinding[] {
    const rows = this.db
      .prepare('SELECT * FROM run_thread_runs WHERE thread_key = ? ORDER BY created_at, rowid')
      .all(threadKey) as BindingRow[];
    return rows.map(toBinding);
  }

  /** Bindings whose run is still running or has events after the cursor: what the relay catches up on. */
  listUnfinished(): RunBinding[] {
    const rows = this.db
      .prepare(
        `SELECT b.* FROM run_thread_runs b JOIN agent_runs r ON r.id = b.run_id
         WHERE r.status = 'running'
            OR b.rendered_seq < (SELECT COALESCE(MAX(seq), 0) FROM agent_run_events e WHERE e.run_id = b.run_id)
         ORDER BY b.created_at, b.rowid`,
      )
      .all() as BindingRow[];
    return rows.map(toBinding);
  }

  setStatusMessage(runId: string, outboxId: number): void {
    this.db.prepare('UPDATE run_thread_runs SET status_outbox_id = ? WHERE run_id = ?').run(outboxId, runId);
  }

  /** Moves the cursor forward only (a stale writer never moves it back). */
  advanceCursor(runId: string, seq: number): void {
    this.db.prepare('UPDATE run_thread_runs SET rendered_seq = ? WHERE run_id = ? AND rendered_seq < ?').run(seq, runId, seq);
  }

  /** The thread a run shows in, if any. */
  threadOfRun(runId: string): ChatThread | undefined {
    const row = this.db
      .prepare('SELECT t.* FROM run_threads t JOIN run_thread_runs b ON b.thread_key = t.thread_key WHERE b.run_id = ?')
      .get(runId) as ThreadRow | undefined;
    return row && toThread(row);
  }

  /** Runs a transaction; the relay and controller write bindings and outbox rows together. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }
}
