/**
 * What people do inside a run's thread. Replies: steer while the run is active, `later:` to
 * follow up, a refinement once it has settled. Reactions: 🛑 stop, 🔁 refine, 🎮 playtest,
 * 📸 takes a screenshot of the running playtest, ⏹️ or removing 🎮 stops the playtest. Controls act
 * on the thread's latest run, are idempotent, and answer visibly in the thread. A reply missed while
 * the bot was down (read back by catch-up) that would start a refinement asks the thread first; 🔁
 * on that question starts it.
 */
import type { CatchUpQuestion } from '../../store/catch-up-repo.js';
import type { RunBinding } from '../../store/chat-threads-repo.js';
import { authorize } from './authorize.js';
import { CONTROL_EMOJI, normalizeEmoji, type ReactionEvent, type ReplyEvent } from './chat-types.js';
import type { ControllerContext } from './controller-context.js';
import { shortRunId } from './render-format.js';

/** A refusal shown in a thread (where it cannot be private) is repeated to one person at most this often. */
export const REFUSAL_NOTE_EVERY_MS = 10 * 60 * 1000;

/** The prefix that turns a reply into a follow-up instead of a steer. */
export const FOLLOW_UP_PREFIX = /^later:\s*/i;

/** A run thread as the controls see it: its key and the latest run it shows. */
interface RunThread {
  threadKey: string;
  latest: RunBinding;
}

export class ThreadControls {
  /** When a refusal was last shown to a person in a thread (`threadKey|userId`). */
  private readonly refusedAt = new Map<string, number>();

  constructor(private readonly ctx: ControllerContext) {}

  /** The run thread a reply or reaction belongs to, or undefined for messages outside run threads. */
  private threadOf(e: ReplyEvent | ReactionEvent): RunThread | undefined {
    const { store } = this.ctx;
    let threadKey = e.thread ? store.chatThreads.findByThreadRef(e.thread)?.threadKey : undefined;
    if (!threadKey && e.kind === 'reaction') threadKey = store.outbox.findByPlatformMsg(e.message)?.threadKey;
    if (!threadKey) return undefined;
    const latest = store.chatThreads.runsInThread(threadKey).at(-1);
    return latest && { threadKey, latest };
  }

  /** Says something visibly in the event's run thread (failures, refusals); logs when there is none. */
  tell(e: ReplyEvent | ReactionEvent, text: string): void {
    const rt = this.threadOf(e);
    if (rt) this.ctx.writer.note(rt.threadKey, rt.latest.runId, text, `${e.platform}:${e.dedupeKey}:tell`);
    else this.ctx.logger.warn({ text }, 'nowhere to tell the user');
  }

  private allowed(e: ReplyEvent | ReactionEvent, rt: RunThread): boolean {
    const auth = authorize(e.user, this.ctx.auth);
    if (auth.ok) return true;
    this.refuse(e, rt, `⛔ ${e.user.displayName}: ${auth.message}`);
    return false;
  }

  /**
   * Tells a person they may not do that: privately where the platform can; otherwise in the
   * thread, at most once per person per thread every ten minutes (no wall of refusals).
   */
  private refuse(e: ReplyEvent | ReactionEvent, rt: RunThread, text: string): void {
    const { store, clock, delivery, writer, logger } = this.ctx;
    const port = this.ctx.portOf(e.platform);
    const thread = store.chatThreads.getThread(rt.threadKey);
    if (port?.whisper && thread) {
      void delivery.whisper(port, thread.channel, thread.thread, e.user.id, text);
      return;
    }
    const key = `${rt.threadKey}|${e.user.id}`;
    const last = this.refusedAt.get(key);
    if (last !== undefined && clock.now() - last < REFUSAL_NOTE_EVERY_MS) {
      logger.info({ user: e.user.id, threadKey: rt.threadKey }, 'refused again; not repeating the note');
      return;
    }
    this.refusedAt.set(key, clock.now());
    writer.note(rt.threadKey, rt.latest.runId, text, `${e.platform}:${e.dedupeKey}:denied`);
  }

  async reply(e: ReplyEvent): Promise<void> {
    const rt = this.threadOf(e);
    const text = e.text.trim();
    if (!rt) return;
    this.ctx.store.catchUp.markSeen(rt.threadKey, e.message, new Date(this.ctx.clock.now()).toISOString());
    if (!text) return;
    if (!this.allowed(e, rt)) return;
    const { manager, writer } = this.ctx;
    const runId = rt.latest.runId;
    const later = FOLLOW_UP_PREFIX.test(text);
    const body = text.replace(FOLLOW_UP_PREFIX, '').trim();
    const key = `${e.platform}:${e.dedupeKey}`;
    if (manager.isActive(runId)) {
      if (!body) return;
      try {
        if (later) await manager.followUp(runId, body, e.user.id);
        else await manager.steer(runId, body, e.user.id);
        writer.acknowledge(rt.threadKey, e.message, later ? '📨' : '👀', key);
        return;
      } catch (err) {
        // The run ended while the reply was on its way: it becomes the refinement's feedback.
        if ((err as { code?: string }).code !== 'RUN_NOT_ACTIVE') throw err;
        await manager.waitForSettled(runId);
      }
    }
    if (e.missed) return this.askToRefine(rt, e, body, key);
    await this.refine(rt, e.user.id, e.user.displayName, body || undefined, key);
  }

  /**
   * A reply written while the bot was down, to a run that has settled since (or before): not
   * replayed blindly as a refinement; the thread is asked to confirm with 🔁 on the question.
   */
  private askToRefine(rt: RunThread, e: ReplyEvent, feedback: string, key: string): void {
    const { manager, store, writer, clock } = this.ctx;
    const runId = rt.latest.runId;
    const excerpt = feedback.length > 300 ? `${feedback.slice(0, 300)}…` : feedback;
    const text =
      `⏸️ While the bot was down, ${e.user.displayName} replied: “${excerpt}”. Run ${shortRunId(runId)} has ${manager.get(runId)?.status ?? 'ended'}, ` +
      `so no refinement was started on its own: react 🔁 to this message to start one with that reply as feedback.`;
    const noteKey = writer.question(rt.threadKey, runId, text, `${key}:confirm`);
    if (noteKey) store.catchUp.addQuestion({ noteKey, threadKey: rt.threadKey, replyMessage: e.message, userId: e.user.id, feedback }, new Date(clock.now()).toISOString());
  }

  /** 🔁 on a catch-up question: the refinement it offered, with the missed reply as feedback, once. */
  private async answer(rt: RunThread, e: ReactionEvent, q: CatchUpQuestion, key: string): Promise<void> {
    const { store, writer, clock } = this.ctx;
    if (q.answeredAt) {
      writer.note(rt.threadKey, rt.latest.runId, '🔁 That reply has already started a refinement.', key);
      return;
    }
    if (await this.refine(rt, e.user.id, e.user.displayName, q.feedback, key)) store.catchUp.answer(q.noteKey, new Date(clock.now()).toISOString());
  }

  async reaction(e: ReactionEvent): Promise<void> {
    const emoji = normalizeEmoji(e.emoji);
    const isControl = (Object.values(CONTROL_EMOJI) as string[]).includes(emoji);
    if (!isControl) return;
    const rt = this.threadOf(e);
    if (!rt) return;
    if (!this.allowed(e, rt)) return;
    const { manager, writer } = this.ctx;
    const runId = rt.latest.runId;
    const key = `${e.platform}:${e.dedupeKey}`;
    const who = e.user.displayName;
    const say = (text: string, tag = ''): void => void writer.note(rt.threadKey, runId, text, `${key}${tag}`);

    if (emoji === CONTROL_EMOJI.stop && e.added) {
      if (!manager.isActive(runId)) return say(`Run ${shortRunId(runId)} is not running (${manager.get(runId)?.status ?? 'unknown'}); nothing to stop.`);
      say(`🛑 Stop requested by ${who}.`);
      const stopped = await manager.stop(runId, e.user.id);
      say(stopped ? `🛑 Run ${shortRunId(runId)} stopped by ${who}.` : `Run ${shortRunId(runId)} had already stopped.`, ':done');
      return;
    }
    if (emoji === CONTROL_EMOJI.refine && e.added) {
      const question = this.ctx.store.catchUp.questionAt(e.message);
      if (question) return this.answer(rt, e, question, key);
      await this.refine(rt, e.user.id, who, undefined, key);
      return;
    }
    if (emoji === CONTROL_EMOJI.playtest && e.added) {
      if (manager.playtestRunning(runId)) return say(`🎮 A playtest of run ${shortRunId(runId)} is already running.`);
      await manager.startPlaytest(runId, e.user.id);
      return;
    }
    if (emoji === CONTROL_EMOJI.capture && e.added) {
      if (!manager.playtestRunning(runId)) {
        return say(`${CONTROL_EMOJI.capture} No playtest of run ${shortRunId(runId)} is running: react ${CONTROL_EMOJI.playtest} first, then ${CONTROL_EMOJI.capture} while it runs.`);
      }
      // The screenshots arrive in the thread as a playtest_media event, naming who asked.
      await manager.capturePlaytest(runId, e.user.id);
      return;
    }
    if ((emoji === CONTROL_EMOJI.playtest && !e.added) || (emoji === CONTROL_EMOJI.stopPlaytest && e.added)) {
      const stopped = await manager.stopPlaytest(runId, e.user.id);
      say(stopped ? `⏹️ Playtest stopped by ${who}.` : 'No playtest is running.');
    }
  }

  /** Starts a refinement of the thread's latest run; false when it is still running (the thread is told). */
  private async refine(rt: RunThread, userId: string, who: string, feedback: string | undefined, key: string): Promise<boolean> {
    const { manager, writer, relay } = this.ctx;
    const prior = rt.latest.runId;
    if (manager.isActive(prior)) {
      writer.note(rt.threadKey, prior, `Run ${shortRunId(prior)} is still running: reply to steer it, or stop it (🛑) before refining.`, key);
      return false;
    }
    // Bound as soon as the row exists, so 🛑 and replies reach the refinement while its agent starts.
    const run = await manager.refine({
      runId: prior,
      prompt: feedback,
      startedBy: userId,
      onCreated: (created) => writer.bindRefinement(created, rt.threadKey),
    });
    writer.note(rt.threadKey, run.id, `🔁 Refinement ${shortRunId(run.id)} of run ${shortRunId(prior)} started by ${who}${feedback ? ' with your feedback' : ''}.`, key);
    relay.attach(run.id);
    return true;
  }
}
