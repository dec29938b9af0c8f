/**
 * SQL for catching up after downtime: what the bot has seen of each run thread, which people's
 * reactions are on which messages, and the questions asked about replies missed while it was down.
 */
import type { Db } from './database.js';

/** A run thread a restart reads back: one with a run queued or running, or settled since `since`. */
export interface ThreadToCatchUp {
  threadKey: string;
  platform: string;
  channel: string;
  thread: string;
  /** The header message's ref, once delivered. */
  header: string | null;
  /** The newest message of the thread the bot has seen, if any. */
  lastMessage: string | null;
  /** The thread is older than catch-up: its first read is taken as seen. */
  baseline: boolean;
}

export interface ReactionState {
  message: string;
  userId: string;
  emoji: string;
  updatedAt: string;
}

/** A reply missed while the bot was down that would have started a refinement. */
export interface CatchUpQuestion {
  noteKey: string;
  threadKey: string;
  replyMessage: string;
  userId: string;
  feedback: string;
  answeredAt: string | null;
}

interface ThreadRow {
  thread_key: string;
  platform: string;
  channel: string;
  thread: string;
  header: string | null;
  last_message: string | null;
  baseline: number | null;
}

interface QuestionRow {
  note_key: string;
  thread_key: string;
  reply_message: string;
  user_id: string;
  feedback: string;
  answered_at: string | null;
}

export class CatchUpRepo {
  constructor(private readonly db: Db) {}

  /** Threads of runs that are queued or running, or finished at or after `since`, oldest thread first. */
  threadsToCatchUp(since: string): ThreadToCatchUp[] {
    const rows = this.db
      .prepare(
        `SELECT t.thread_key, t.platform, t.channel, t.thread, h.platform_msg AS header, r.last_message, r.baseline
         FROM run_threads t
         LEFT JOIN outbox h ON h.id = t.header_outbox_id
         LEFT JOIN thread_reads r ON r.thread_key = t.thread_key
         WHERE t.thread IS NOT NULL AND EXISTS (
           SELECT 1 FROM run_thread_runs b JOIN agent_runs a ON a.id = b.run_id
           WHERE b.thread_key = t.thread_key AND (a.status IN ('queued','running') OR a.finished_at >= ?))
         ORDER BY t.created_at, t.thread_key`,
      )
      .all(since) as ThreadRow[];
    return rows.map((r) => ({
      threadKey: r.thread_key,
      platform: r.platform,
      channel: r.channel,
      thread: r.thread,
      header: r.header,
      lastMessage: r.last_message,
      baseline: r.baseline === 1,
    }));
  }

  /** Remembers `message` as the newest seen in the thread (and ends its baseline). */
  markSeen(threadKey: string, message: string, now: string): void {
    this.db
      .prepare(
        `INSERT INTO thread_reads (thread_key, last_message, baseline, updated_at) VALUES (?, ?, 0, ?)
         ON CONFLICT(thread_key) DO UPDATE SET last_message = excluded.last_message, baseline = 0, updated_at = excluded.updated_at`,
      )
      .run(threadKey, message, now);
  }

  /** Ends a thread's baseline without a message to remember (nothing was read). */
  endBaseline(threadKey: string, now: string): void {
    this.db.prepare('UPDATE thread_reads SET baseline = 0, updated_at = ? WHERE thread_key = ?').run(now, threadKey);
  }

  /**
   * Records that `userId`'s `emoji` is (`added`) or is no longer on `message`. Returns the change's
   * generation (unique across the table), or null when the state was already so (a reaction seen
   * twice: redelivered, or seen live and again by catch-up).
   */
  setReaction(r: { message: string; userId: string; emoji: string; added: boolean }, now: string): number | null {
    return this.db.transaction(() => {
      const row = this.db
        .prepare('SELECT present FROM reaction_states WHERE message = ? AND user_id = ? AND emoji = ?')
        .get(r.message, r.userId, r.emoji) as { present: number } | undefined;
      if ((row?.present === 1) === r.added) return null;
      const next = (this.db.prepare('SELECT COALESCE(MAX(generation), 0) + 1 AS n FROM reaction_states').get() as { n: number }).n;
      this.db
        .prepare(
          `INSERT INTO reaction_states (message, user_id, emoji, present, generation, updated_at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT(message, user_id, emoji) DO UPDATE SET present = excluded.present, generation = excluded.generation, updated_at = excluded.updated_at`,
        )
        .run(r.message, r.userId, r.emoji, r.added ? 1 : 0, next, now);
      return next;
    })();
  }

  /** The reactions the bot knows to be on `message`. */
  presentReactions(message: string): ReactionState[] {
    const rows = this.db
      .prepare('SELECT message, user_id, emoji, updated_at FROM reaction_states WHERE message = ? AND present = 1 ORDER BY user_id, emoji')
      .all(message) as { message: string; user_id: string; emoji: string; updated_at: string }[];
    return rows.map((r) => ({ message: r.message, userId: r.user_id, emoji: r.emoji, updatedAt: r.updated_at }));
  }

  /** Records a question asked in a thread (its outbox row's dedupe key); false when it exists. */
  addQuestion(q: Omit<CatchUpQuestion, 'answeredAt'>, now: string): boolean {
    const info = this.db
      .prepare(
        `INSERT OR IGNORE INTO catch_up_questions (note_key, thread_key, reply_message, user_id, feedback, created_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(q.noteKey, q.threadKey, q.replyMessage, q.userId, q.feedback, now);
    return info.changes === 1;
  }

  /** The question a delivered message of the bot asks, if it is one. */
  questionAt(platformMsg: string): CatchUpQuestion | undefined {
    const row = this.db
      .prepare(
        `SELECT q.* FROM catch_up_questions q JOIN outbox o ON o.dedupe_key = q.note_key
         WHERE o.platform_msg = ? LIMIT 1`,
      )
      .get(platformMsg) as QuestionRow | undefined;
    return (
      row && {
        noteKey: row.note_key,
        threadKey: row.thread_key,
        replyMessage: row.reply_message,
        userId: row.user_id,
        feedback: row.feedback,
        answeredAt: row.answered_at,
      }
    );
  }

  /** The delivered messages of a thread's unanswered questions, oldest first. */
  openQuestions(threadKey: string): string[] {
    const rows = this.db
      .prepare(
        `SELECT o.platform_msg FROM catch_up_questions q JOIN outbox o ON o.dedupe_key = q.note_key
         WHERE q.thread_key = ? AND q.answered_at IS NULL AND o.platform_msg IS NOT NULL ORDER BY o.id`,
      )
      .all(threadKey) as { platform_msg: string }[];
    return rows.map((r) => r.platform_msg);
  }

  /** Marks a question answered; false when it already was (the answer counts once). */
  answer(noteKey: string, now: string): boolean {
    return this.db.prepare('UPDATE catch_up_questions SET answered_at = ? WHERE note_key = ? AND answered_at IS NULL').run(now, noteKey).changes === 1;
  }
}
