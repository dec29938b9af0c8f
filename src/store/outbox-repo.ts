/**
 * SQL for the outbox: everything the bot says, until the platform took it. Rows belong to a
 * stream (a run thread's content, the edits of one message, the reactions on one message, a
 * notification channel) and are claimed one at a time per stream, in id order, in an immediate
 * transaction. Streams go side by side; a row may wait for its target message or for another
 * row (`afterId`).
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
  /** Post into the row's thread (which must exist by then) rather than at the channel's top level. */
  inThread: boolean;
  /** The outbox row whose message this edit/react/thread op targets. */
  targetId?: number | null;
  /** A platform message ref to target directly (e.g. a user's reply to acknowledge). */
  targetRef?: string | null;
  body: string;
  /** Append a link to the row's thread when sending (notifications). */
  linkThread?: boolean;
  /** Unique; null for rows that may repeat (status edits). */
  dedupeKey: string | null;
  notBefore?: number;
  /** The stream it is sent in (default: `threadKey`, the thread's content in order). */
  stream?: string;
  /** 0 first; decides between streams that share a budget. */
  priority?: number;
  /** Not sent before this row is sent (or given up). */
  afterId?: number | null;
  /** May be merged with the digests right after it in its stream when several wait. */
  mergeable?: boolean;
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
  stream: string;
  priority: number;
  afterId: number | null;
  mergeable: boolean;
}

/** A claimed row with everything delivery needs resolved. */
export interface ClaimedRow extends OutboxRow {
  /** The platform of the row's thread (`discord`, `slack`, …). */
  platform: string;
  /** The platform thread ref of the row's thread, when known. */
  thread: string | null;
  /** The platform message of `targetId` (or `targetRef`). */
  targetMsg: string | null;
}

/**
 * The head of a stream: a row ready to send, a time to come back, `blocked` (it waits for another
 * row: come back when that one is sent or given up, see `dependentStreams`), or nothing.
 */
export type Claim = { kind: 'row'; row: ClaimedRow } | { kind: 'wait'; until: number } | { kind: 'blocked' } | { kind: 'empty' };

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
  stream: string | null;
  priority: number;
  after_id: number | null;
  mergeable: number;
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
  stream: r.stream ?? r.thread_key,
  priority: r.priority,
  afterId: r.after_id,
  mergeable: r.mergeable === 1,
});

/** How long a row whose thread is not open yet waits before its stream looks again. */
const THREAD_WAIT_MS = 1000;

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
           dedupe_key, not_before, stream, priority, after_id, mergeable, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
        r.stream ?? r.threadKey,
        r.priority ?? 5,
        r.afterId ?? null,
        r.mergeable ? 1 : 0,
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

  /** Every row of a thread (all its streams) in order (tests and diagnostics). */
  listThread(threadKey: string): OutboxRow[] {
    return (this.db.prepare('SELECT * FROM outbox WHERE thread_key = ? ORDER BY id').all(threadKey) as Row[]).map(toRow);
  }

  /**
   * The head of a stream, without claiming it: skips edits superseded by a newer pending edit of
   * the same target and fails rows whose target or thread failed (those writes are committed).
   */
  peekNext(stream: string, nowMs: number, now: string): Claim {
    return this.db.transaction(() => this.head(stream, nowMs, now)).immediate();
  }

  /**
   * Claims the head of a stream: marks it `inflight` (attempts + 1) before returning it, in one
   * immediate transaction. A mergeable digest claimed for the first time takes the mergeable
   * digests waiting right after it along (in order, while the text stays within `mergeLimit`
   * characters): they become `superseded` and the claimed row's body holds them all, so a backlog
   * shrinks as it grows. A row tried before keeps its body (the platform may have it already).
   */
  claimNext(stream: string, nowMs: number, now: string, mergeLimit = 0): Claim {
    const claim = this.db.prepare("UPDATE outbox SET status = 'inflight', attempts = attempts + 1, body = ?, updated_at = ? WHERE id = ?");
    return this.db
      .transaction((): Claim => {
        const head = this.head(stream, nowMs, now);
        if (head.kind !== 'row') return head;
        const row = head.row;
        let body = row.body;
        // Only on a first attempt: a row tried before may already exist on the platform as it
        // was, and its retry (same nonce) returns that message: text merged in now would be lost.
        if (row.mergeable && row.op === 'create' && mergeLimit > 0 && row.attempts === 0) body = this.mergeFollowing(row, nowMs, now, mergeLimit);
        claim.run(body, now, row.id);
        return { kind: 'row', row: { ...row, body, status: 'inflight', attempts: row.attempts + 1 } };
      })
      .immediate();
  }

  private mergeFollowing(row: OutboxRow, nowMs: number, now: string, mergeLimit: number): string {
    const following = this.db.prepare("SELECT * FROM outbox WHERE stream = ? AND status = 'pending' AND id > ? ORDER BY id LIMIT 50").all(row.stream, row.id) as Row[];
    const merged = this.db.prepare("UPDATE outbox SET status = 'superseded', error = ?, updated_at = ? WHERE id = ?");
    let body = row.body;
    for (const raw of following) {
      const next = toRow(raw);
      if (!next.mergeable || next.op !== 'create' || next.inThread !== row.inThread || next.notBefore > nowMs) break;
      if (body.length + 1 + next.body.length > mergeLimit) break;
      body = `${body}\n${next.body}`;
      merged.run(`merged into ${row.id}`, now, next.id);
    }
    return body;
  }

  private head(stream: string, nowMs: number, now: string): Claim {
    const next = this.db.prepare("SELECT * FROM outbox WHERE stream = ? AND status = 'pending' ORDER BY id LIMIT 1");
    const newerEdit = this.db.prepare(
      "SELECT 1 FROM outbox WHERE stream = ? AND op = 'edit' AND target_id IS ? AND target_ref IS ? AND status = 'pending' AND id > ? LIMIT 1",
    );
    const setStatus = this.db.prepare('UPDATE outbox SET status = ?, error = ?, updated_at = ? WHERE id = ?');
    const other = this.db.prepare('SELECT status, platform_msg FROM outbox WHERE id = ?');
    const threadOf = this.db.prepare('SELECT thread, platform FROM run_threads WHERE thread_key = ?');
    const deadThreadOp = this.db.prepare("SELECT error FROM outbox WHERE thread_key = ? AND op = 'thread' AND status = 'dead' LIMIT 1");
    for (;;) {
      const raw = next.get(stream) as Row | undefined;
      if (!raw) return { kind: 'empty' };
      const row = toRow(raw);
      if (row.op === 'edit' && newerEdit.get(stream, row.targetId, row.targetRef, row.id)) {
        setStatus.run('superseded', null, now, row.id);
        continue;
      }
      if (row.notBefore > nowMs) return { kind: 'wait', until: row.notBefore };
      if (row.afterId !== null) {
        const before = other.get(row.afterId) as { status: OutboxStatus } | undefined;
        if (before && (before.status === 'pending' || before.status === 'inflight')) return { kind: 'blocked' };
      }
      let targetMsg = row.targetRef;
      if (row.targetId !== null) {
        const t = other.get(row.targetId) as { status: OutboxStatus; platform_msg: string | null } | undefined;
        if (!t || t.status === 'dead' || t.status === 'superseded' || (t.status === 'sent' && !t.platform_msg)) {
          setStatus.run('dead', `its target message ${row.targetId} was never delivered`, now, row.id);
          continue;
        }
        if (t.status !== 'sent') return { kind: 'blocked' };
        targetMsg = t.platform_msg;
      }
      const where = threadOf.get(row.threadKey) as { thread: string | null; platform: string } | undefined;
      const thread = where?.thread ?? null;
      if (row.inThread && thread === null) {
        const failed = deadThreadOp.get(row.threadKey) as { error: string | null } | undefined;
        if (failed) {
          setStatus.run('dead', `the thread could not be created: ${failed.error ?? 'unknown error'}`, now, row.id);
          continue;
        }
        return { kind: 'wait', until: nowMs + THREAD_WAIT_MS };
      }
      return { kind: 'row', row: { ...row, platform: where?.platform ?? 'unknown', thread, targetMsg } };
    }
  }

  /**
   * The most urgent priority waiting in a stream (0 first): a stream's head inherits it, so a
   * run's final result is not held at a digest's priority while it waits behind that digest.
   */
  streamPriority(stream: string): number | null {
    const row = this.db.prepare("SELECT MIN(priority) AS p FROM outbox WHERE stream = ? AND status = 'pending'").get(stream) as { p: number | null };
    return row.p;
  }

  /** Streams with a pending row that waits for row `id` (its target, or `afterId`). */
  dependentStreams(id: number): string[] {
    return (
      this.db.prepare("SELECT DISTINCT stream FROM outbox WHERE status = 'pending' AND (target_id = ? OR after_id = ?)").all(id, id) as { stream: string }[]
    ).map((r) => r.stream);
  }

  /** The id of the row that opens a thread's platform thread, if any. */
  threadOpId(threadKey: string): number | undefined {
    return (this.db.prepare("SELECT id FROM outbox WHERE thread_key = ? AND op = 'thread' ORDER BY id LIMIT 1").get(threadKey) as { id: number } | undefined)?.id;
  }

  markSent(id: number, platformMsg: string | null, now: string): void {
    this.db.prepare("UPDATE outbox SET status = 'sent', platform_msg = ?, error = NULL, updated_at = ? WHERE id = ?").run(platformMsg, now, id);
  }

  /** Records a created thread on the row and on its run thread, together. */
  markThreadCreated(id: number, threadKey: string, thread: string, now: string): void {
    this.db.transaction(() => {
      this.markSent(id, thread, now);
      this.db.prepare('UPDATE run_threads SET thread = ? WHERE thread_key = ?').run(thread, threadKey);
    })();
  }

  /**
   * An edit that went out as a new message (the old one was too old to edit): the edit is sent,
   * and its target row now points at the new message, so later edits change that one.
   */
  markReposted(id: number, targetId: number, platformMsg: string, now: string): void {
    this.db.transaction(() => {
      this.markSent(id, platformMsg, now);
      this.db.prepare('UPDATE outbox SET platform_msg = ?, updated_at = ? WHERE id = ?').run(platformMsg, now, targetId);
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
   * back to pending with their attempts kept (≥ 1), so delivery resends a create with the same
   * nonce and `mayExist`: the port finds the message instead of posting it twice.
   */
  reclaimInflight(now: string): number {
    return this.db.prepare("UPDATE outbox SET status = 'pending', updated_at = ? WHERE status = 'inflight'").run(now).changes;
  }

  /** Streams with work left. */
  pendingStreams(): string[] {
    return (this.db.prepare("SELECT DISTINCT COALESCE(stream, thread_key) AS s FROM outbox WHERE status IN ('pending','inflight')").all() as { s: string }[]).map(
      (r) => r.s,
    );
  }

  countUnfinished(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE status IN ('pending','inflight')").get() as { n: number }).n;
  }

  /** The thread key and run of a message the bot posted (reactions on it map to that run). */
  findByPlatformMsg(platformMsg: string): { threadKey: string; runId: string | null } | undefined {
    const row = this.db
      .prepare("SELECT thread_key, run_id FROM outbox WHERE platform_msg = ? AND op IN ('create','thread') ORDER BY id LIMIT 1")
      .get(platformMsg) as { thread_key: string; run_id: string | null } | undefined;
    return row && { threadKey: row.thread_key, runId: row.run_id };
  }
}
