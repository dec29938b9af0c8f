/**
 * Writes what the controller says in a run's thread into the outbox: opening a thread for a new
 * run (header in the channel and a thread from it, first in line), binding a refinement to its
 * parent's thread, visible notes and acknowledgement reactions (ahead of queued digests). Each
 * write is one transaction; delivery is kicked afterwards. The control reactions on a header
 * are the relay's, after the run's first content.
 */
import type { Card, Run } from '../../core/types.js';
import type { Store } from '../../store/index.js';
import type { ChannelRef, ChatLimits, MessageRef } from './chat-types.js';
import type { Clock } from './clock.js';
import { PRIORITY } from './pacing.js';
import { headerText, neutralizeMentions, threadName } from './render-format.js';
import { reactionStream, replyStream } from './streams.js';

export class ThreadWriter {
  constructor(
    private readonly store: Store,
    private readonly limitsOf: (platform: string) => ChatLimits,
    private readonly clock: Clock,
    private readonly kick: (threadKey: string) => void,
  ) {}

  private iso(): string {
    return new Date(this.clock.now()).toISOString();
  }

  /**
   * A new thread for a new run on `platform`: header in `channel`, a thread opened from it, and
   * the run bound to the thread. Returns the thread key and the thread op's row id.
   */
  openRunThread(run: Run, card: Card | undefined, platform: string, channel: ChannelRef, startedByName: string): { threadKey: string; threadOpId: number } {
    const { store } = this;
    const threadKey = run.id;
    const now = this.iso();
    const threadOpId = store.chatThreads.transaction(() => {
      store.chatThreads.insertThread({ threadKey, platform, channel, now });
      const header = store.outbox.enqueue(
        {
          threadKey,
          runId: run.id,
          op: 'create',
          channel,
          inThread: false,
          body: headerText(run, card, startedByName),
          dedupeKey: `header:${run.id}`,
          priority: PRIORITY.header,
        },
        now,
      ).id;
      store.chatThreads.setHeader(threadKey, header);
      const name = threadName(run, card, this.limitsOf(platform).maxThreadNameChars);
      const thread = store.outbox.enqueue(
        { threadKey, runId: run.id, op: 'thread', channel, inThread: false, targetId: header, body: name, dedupeKey: `thread:${run.id}`, priority: PRIORITY.header },
        now,
      ).id;
      store.chatThreads.bindRun(run.id, threadKey, now);
      return thread;
    });
    this.kick(threadKey);
    return { threadKey, threadOpId };
  }

  /** Shows a refinement in the thread of the run it refines. */
  bindRefinement(run: Run, threadKey: string): void {
    this.store.chatThreads.bindRun(run.id, threadKey, this.iso());
  }

  /**
   * A visible line in the thread, once per `dedupeKey`: an answer to a person, in its own stream
   * and ahead of queued digests. Returns its outbox row id (null when the thread is gone).
   */
  note(threadKey: string, runId: string | null, text: string, dedupeKey: string): number | null {
    const thread = this.store.chatThreads.getThread(threadKey);
    if (!thread) return null;
    const stream = replyStream(threadKey);
    const { id } = this.store.outbox.enqueue(
      {
        threadKey,
        runId,
        op: 'create',
        channel: thread.channel,
        inThread: true,
        body: neutralizeMentions(text),
        dedupeKey: `note:${dedupeKey}`,
        stream,
        priority: PRIORITY.reply,
      },
      this.iso(),
    );
    this.kick(stream);
    return id;
  }

  /**
   * A question in the thread that people answer with 🔁 on it: a note, and where the platform
   * wants control reactions (Discord), the bot's own 🔁 on it to click. Returns the note's outbox
   * dedupe key (what the answer is found by), or null when the thread is gone.
   */
  question(threadKey: string, runId: string, text: string, dedupeKey: string): string | null {
    const thread = this.store.chatThreads.getThread(threadKey);
    const note = this.note(threadKey, runId, text, dedupeKey);
    if (!thread || note === null) return null;
    if (this.limitsOf(thread.platform).controlReactions) {
      const stream = reactionStream(note);
      this.store.outbox.enqueue(
        {
          threadKey, runId, op: 'react', channel: thread.channel, inThread: true, targetId: note, body: '🔁',
          dedupeKey: `react:${note}:🔁`, stream, priority: PRIORITY.affordance, afterId: note,
        },
        this.iso(),
      );
      this.kick(stream);
    }
    return `note:${dedupeKey}`;
  }

  /**
   * Reacts to someone's message (e.g. 👀 on a steer) in a stream of its own, ahead of queued
   * digests, paced by the platform's reaction budget.
   */
  acknowledge(threadKey: string, message: MessageRef, emoji: string, dedupeKey: string): void {
    const thread = this.store.chatThreads.getThread(threadKey);
    if (!thread) return;
    const stream = reactionStream(message);
    this.store.outbox.enqueue(
      {
        threadKey,
        runId: null,
        op: 'react',
        channel: thread.channel,
        inThread: true,
        targetRef: message,
        body: emoji,
        dedupeKey: `ack:${dedupeKey}`,
        stream,
        priority: PRIORITY.reply,
      },
      this.iso(),
    );
    this.kick(stream);
  }
}

/**
 * Why the platform refused a run's thread (its header, or the thread itself), as delivery
 * recorded it; null when neither was refused.
 */
export function threadRefusal(store: Store, threadKey: string): string | null {
  const header = store.chatThreads.getThread(threadKey)?.headerOutboxId;
  const headerRow = header ? store.outbox.get(header) : undefined;
  if (headerRow?.status === 'dead') return headerRow.error ?? 'the platform refused the run\'s first message';
  const opId = store.outbox.threadOpId(threadKey);
  const op = opId ? store.outbox.get(opId) : undefined;
  return op?.status === 'dead' ? (op.error ?? 'the platform refused to open the thread') : null;
}
