/** SQL for the processes of runs (agents, playtests) recorded while they run, and the data folder lock. */
import type { Db } from './database.js';

export type ProcessKind = 'agent' | 'playtest';

export interface ProcessRecord {
  id: number;
  runId: string;
  kind: ProcessKind;
  pid: number;
  /** Its process group (agents and playtests lead their own). */
  pgid: number;
  /** Its start time token (src/core/process-identity.ts). */
  startTime: string;
  /** Where it works: the run's worktree (or the checkout for a run without one). */
  cwd: string;
  /** The bot (or CLI) process that started it. */
  ownerPid: number;
  ownerStart: string;
  createdAt: string;
}

interface Row {
  id: number;
  run_id: string;
  kind: ProcessKind;
  pid: number;
  pgid: number;
  start_time: string;
  cwd: string;
  owner_pid: number;
  owner_start: string;
  created_at: string;
}

const toRecord = (r: Row): ProcessRecord => ({
  id: r.id,
  runId: r.run_id,
  kind: r.kind,
  pid: r.pid,
  pgid: r.pgid,
  startTime: r.start_time,
  cwd: r.cwd,
  ownerPid: r.owner_pid,
  ownerStart: r.owner_start,
  createdAt: r.created_at,
});

export class ProcessRecordsRepo {
  constructor(private readonly db: Db) {}

  insert(r: Omit<ProcessRecord, 'id'>): number {
    const info = this.db
      .prepare(
        `INSERT INTO run_processes (run_id, kind, pid, pgid, start_time, cwd, owner_pid, owner_start, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(r.runId, r.kind, r.pid, r.pgid, r.startTime, r.cwd, r.ownerPid, r.ownerStart, r.createdAt);
    return Number(info.lastInsertRowid);
  }

  delete(id: number): void {
    this.db.prepare('DELETE FROM run_processes WHERE id = ?').run(id);
  }

  list(): ProcessRecord[] {
    return (this.db.prepare('SELECT * FROM run_processes ORDER BY id').all() as Row[]).map(toRecord);
  }

  listForRun(runId: string): ProcessRecord[] {
    return (this.db.prepare('SELECT * FROM run_processes WHERE run_id = ? ORDER BY id').all(runId) as Row[]).map(toRecord);
  }
}

export interface LockHolder {
  pid: number;
  startTime: string;
  host: string;
  since: string;
}

export type LockResult = { acquired: true; tookOverFrom: LockHolder | null } | { acquired: false; holder: LockHolder };

export class DataLockRepo {
  constructor(private readonly db: Db) {}

  /**
   * Takes the lock for `me` unless a live holder has it (`isAlive` decides, e.g. pid and start
   * time). One IMMEDIATE transaction: two processes starting at once cannot both win.
   */
  acquire(me: LockHolder, isAlive: (holder: LockHolder) => boolean): LockResult {
    return this.db
      .transaction((): LockResult => {
        const holder = this.holder();
        const mine = holder !== null && holder.pid === me.pid && holder.startTime === me.startTime;
        if (holder && !mine && isAlive(holder)) return { acquired: false, holder };
        this.db
          .prepare('INSERT OR REPLACE INTO data_dir_lock (id, pid, start_time, host, since) VALUES (1, ?, ?, ?, ?)')
          .run(me.pid, me.startTime, me.host, mine ? holder.since : me.since);
        return { acquired: true, tookOverFrom: holder && !mine ? holder : null };
      })
      .immediate();
  }

  /** Gives the lock up if `me` holds it. */
  release(me: Pick<LockHolder, 'pid' | 'startTime'>): void {
    this.db.prepare('DELETE FROM data_dir_lock WHERE id = 1 AND pid = ? AND start_time = ?').run(me.pid, me.startTime);
  }

  holder(): LockHolder | null {
    const row = this.db.prepare('SELECT pid, start_time, host, since FROM data_dir_lock WHERE id = 1').get() as
      | { pid: number; start_time: string; host: string; since: string }
      | undefined;
    return row ? { pid: row.pid, startTime: row.start_time, host: row.host, since: row.since } : null;
  }
}
