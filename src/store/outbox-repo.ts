/**
 * SQL for the outbox: everything the bot says, in order per lane (a run's thread), until the
 * platform took it. Rows are claimed one at a time per lane in an immediate transaction.
 */
import type { Db } from './database.js';

export type OutboxOp = 'create' | 'edit' | 'react' | 'thread';
export type OutboxStatus = 'pending' | 'inflight' | 'sent' | 'dead' | 'superseded';

export interface NewOutboxRow {
  threadKey: string;
  runId: string | null;
  op: OutboxOp;
  /** The destination channel (the thread's channel, or the team notification channel). */
  channel: string;
  /** Post into the lane's thread (which must exist by then) rather than at the channel's top level. */
  inThread: boolean;
  /** The outbox row whose message this edit/react/thread op targets. */
  targetId?: number | null;
  /** A platform message ref to target directly (e.g. a user's reply to acknowledge). */
  targetRef?: string | null;
  body: string;
  /** Append a link to the lane's thread when sending (notifications). */
  linkThread?: boolean;
  /** Unique; null for rows that may repeat (status edits). */
  dedupeKey: string | null;
  notBefore?: number;
}

export interface OutboxRow {
  id: number;
  threadKey: string;
  runId: string | null;
  op: OutboxOp;
  channel: string;
  inThread: boolean;
  targetId: number | null;
  targetRef: string | null;
  body: string;
  linkThread: boolean;
  dedupeKey: string | null;
  status: OutboxStatus;
  attempts: number;
  notBefore: number;
  platformMsg: string | null;
  error: string | null;
}

/** A claimed row with everything delivery needs resolved. */
export interface ClaimedRow extends OutboxRow {
  /** The lane's platform thread ref, when known. */
  thread: string | null;
  /** The platform message of `targetId` (or `targetRef`). */
  targetMsg: string | null;
}

export type Claim = { kind: 'row'; row: ClaimedRow } | { kind: 'wait'; until: number } | { kind: 'empty' };

interface Row {
  id: number;
  thread_key: string;
  run_id: string | null;
  op: OutboxOp;
  channel: string;
  in_thread: number;
  target_id: number | null;
  target_ref: string | null;
  body: string;
  link_thread: number;
  dedupe_key: string | null;
  status: OutboxStatus;
  attempts: number;
  not_before: number;
  platform_msg: string | null;
  error: string | null;
}

const toRow = (r: Row): OutboxRow => ({
  id: r.id,
  threadKey: r.thread_key,
  runId: r.run_id,
  op: r.op,
  channel: r.channel,
  inThread: r.in_thread === 1,
  targetId: r.target_id,
  targetRef: r.target_ref,
  body: r.body,
  linkThread: r.link_thread === 1,
  dedupeKey: r.dedupe_key,
  status: r.status,
  attempts: r.attempts,
  notBefore: r.not_before,
  platformMsg: r.platform_msg,
  error: r.error,
});

export class OutboxRepo {
  constructor(
    private readonly db: Db,
    private readonly redact: (text: string) => string = (text) => text,
  ) {}

  /** Adds a row; with a dedupe key already present, returns the existing row's id instead. */
  enqueue(r: NewOutboxRow, now: string): { id: number; created: boolean } {
    const info = this.db
      .prepare(
        `INSERT OR IGNORE INTO outbox (thread_key, run_id, op, channel, in_thread, target_id, target_ref, body, link_thread,
           dedupe_key, not_before, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        r.threadKey,
        r.runId,
        r.op,
        r.channel,
        r.inThread ? 1 : 0,
        r.targetId ?? null,
        r.targetRef ?? null,
        this.redact(r.body),
        r.linkThread ? 1 : 0,
        r.dedupeKey,
        r.notBefore ?? 0,
        now,
        now,
      );
    if (info.changes === 1) return { id: Number(info.lastInsertRowid), created: true };
    const existing = this.db.prepare('SELECT id FROM outbox WHERE dedupe_key = ?').get(r.dedupeKey) as { id: number };
    return { id: existing.id, created: false };
  }

  get(id: number): OutboxRow | undefined {
    const row = this.db.prepare('SELECT * FROM outbox WHERE id = ?').get(id) as Row | undefined;
    return row && toRow(row);
  }

  /** Every row of a lane in order (tests and diagnostics). */
  listLane(threadKey: string): OutboxRow[] {
    return (this.db.prepare('SELECT * FROM outbox WHERE thread_key = ? ORDER BY id').all(threadKey) as Row[]).map(toRow);
  }

  /**
   * Claims the next row of a lane: skips edits superseded by a newer pending edit of the same
   * target, fails rows whose target or thread failed, waits for `not_before`, and marks the
   * claimed row `inflight` (attempts + 1) before returning it, all in one immediate transaction.
   */
  claimNext(threadKey: string, nowMs: number, now: string): Claim {
    const next = this.db.prepare("SELECT * FROM outbox WHERE thread_key = ? AND status = 'pending' ORDER BY id LIMIT 1");
    const newerEdit = this.db.prepare(
      "SELECT 1 FROM outbox WHERE thread_key = ? AND op = 'edit' AND target_id IS ? AND target_ref IS ? AND status = 'pending' AND id > ? LIMIT 1",
    );
    const setStatus = this.db.prepare('UPDATE outbox SET status = ?, error = ?, updated_at = ? WHERE id = ?');
    const target = this.db.prepare('SELECT status, platform_msg FROM outbox WHERE id = ?');
    const lane = this.db.prepare('SELECT thread FROM run_threads WHERE thread_key = ?');
    const deadThreadOp = this.db.prepare("SELECT error FROM outbox WHERE thread_key = ? AND op = 'thread' AND status = 'dead' LIMIT 1");
    const claim = this.db.prepare("UPDATE outbox SET status = 'inflight', attempts = attempts + 1, updated_at = ? WHERE id = ?");
    return this.db
      .transaction((): Claim => {
        for (;;) {
          const raw = next.get(threadKey) as Row | undefined;
          if (!raw) return { kind: 'empty' };
          const row = toRow(raw);
          if (row.op === 'edit' && newerEdit.get(threadKey, row.targetId, row.targetRef, row.id)) {
            setStatus.run('superseded', null, now, row.id);
            continue;
          }
          if (row.notBefore > nowMs) return { kind: 'wait', until: row.notBefore };
          let targetMsg = row.targetRef;
          if (row.targetId !== null) {
            const t = target.get(row.targetId) as { status: OutboxStatus; platform_msg: string | null } | undefined;
            if (!t || t.status === 'dead' || t.status === 'superseded' || (t.status === 'sent' && !t.platform_msg)) {
              setStatus.run('dead', `its target message ${row.targetId} was never delivered`, now, row.id);
              continue;
            }
            if (t.status !== 'sent') return { kind: 'wait', until: nowMs + 1000 };
            targetMsg = t.platform_msg;
          }
          const thread = ((lane.get(threadKey) as { thread: string | null } | undefined)?.thread ?? null) as string | null;
          if (row.inThread && thread === null) {
            const failed = deadThreadOp.get(threadKey) as { error: string | null } | undefined;
            if (failed) {
              setStatus.run('dead', `the thread could not be created: ${failed.error ?? 'unknown error'}`, now, row.id);
              continue;
            }
            return { kind: 'wait', until: nowMs + 1000 };
          }
          claim.run(now, row.id);
          return { kind: 'row', row: { ...row, status: 'inflight', attempts: row.attempts + 1, thread, targetMsg } };
        }
      })
      .immediate();
  }

  markSent(id: number, platformMsg: string | null, now: string): void {
    this.db.prepare("UPDATE outbox SET status = 'sent', platform_msg = ?, error = NULL, updated_at = ? WHERE id = ?").run(platformMsg, now, id);
  }

  /** Records a created thread on the row and on the lane, together. */
  markThreadCreated(id: number, threadKey: string, thread: string, now: string): void {
    this.db.transaction(() => {
      this.markSent(id, thread, now);
      this.db.prepare('UPDATE run_threads SET thread = ? WHERE thread_key = ?').run(thread, threadKey);
    })();
  }

  /** Back to pending until `notBefore`; a rate limit does not count as a failed attempt. */
  reschedule(id: number, notBefore: number, error: string, countsAsAttempt: boolean, now: string): void {
    this.db
      .prepare(
        `UPDATE outbox SET status = 'pending', not_before = ?, error = ?, attempts = attempts - ?, updated_at = ? WHERE id = ?`,
      )
      .run(notBefore, error, countsAsAttempt ? 0 : 1, now, id);
  }

  markDead(id: number, error: string, now: string): void {
    this.db.prepare("UPDATE outbox SET status = 'dead', error = ?, updated_at = ? WHERE id = ?").run(error, now, id);
  }

  /**
   * Start-up: rows left `inflight` by a crash may or may not have reached the platform. They go
   * back to pending; creates carry the same nonce on resend, so the platform can drop the copy.
   */
  reclaimInflight(now: string): number {
    return this.db.prepare("UPDATE outbox SET status = 'pending', updated_at = ? WHERE status = 'inflight'").run(now).changes;
  }

  /** Lanes with work left. */
  pendingLanes(): string[] {
    return (this.db.prepare("SELECT DISTINCT thread_key FROM outbox WHERE status IN ('pending','inflight')").all() as { thread_key: string }[]).map(
      (r) => r.thread_key,
    );
  }

  countUnfinished(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE status IN ('pending','inflight')").get() as { n: number }).n;
  }

  /** The lane and run of a message the bot posted (reactions on it map to that run). */
  findByPlatformMsg(platformMsg: string): { threadKey: string; runId: string | null } | undefined {
    const row = this.db
      .prepare("SELECT thread_key, run_id FROM outbox WHERE platform_msg = ? AND op IN ('create','thread') ORDER BY id LIMIT 1")
      .get(platformMsg) as { thread_key: string; run_id: string | null } | undefined;
    return row && { threadKey: row.thread_key, runId: row.run_id };
  }
}
