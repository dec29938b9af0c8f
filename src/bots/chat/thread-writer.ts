/**
 * Writes what the controller says in a run's thread into the outbox: opening a thread for a new
 * run (header in the channel, thread from it, control reactions), binding a refinement to its
 * parent's thread, visible notes and acknowledgement reactions. Each write is one transaction;
 * delivery is kicked afterwards.
 */
import type { Card, Run } from '../../core/types.js';
import type { Store } from '../../store/index.js';
import type { ChannelRef, ChatLimits, MessageRef } from './chat-types.js';
import type { Clock } from './clock.js';
import { headerText, neutralizeMentions, threadName } from './render-format.js';

/** The bot's reactions on a run's header: the controls, in this order. */
export const HEADER_REACTIONS = ['🛑', '🔁', '🎮', '⏹️'] as const;

export class ThreadWriter {
  constructor(
    private readonly store: Store,
    private readonly platform: string,
    private readonly limits: ChatLimits,
    private readonly clock: Clock,
    private readonly kick: (threadKey: string) => void,
  ) {}

  private iso(): string {
    return new Date(this.clock.now()).toISOString();
  }

  /**
   * A new thread for a new run: header in `channel`, a thread opened from it, the control
   * reactions, and the run bound to the thread. Returns the lane key and the thread op's row id.
   */
  openRunThread(run: Run, card: Card | undefined, channel: ChannelRef, startedByName: string): { threadKey: string; threadOpId: number } {
    const { store } = this;
    const threadKey = run.id;
    const now = this.iso();
    const threadOpId = store.chatThreads.transaction(() => {
      store.chatThreads.insertThread({ threadKey, platform: this.platform, channel, now });
      const header = store.outbox.enqueue(
        { threadKey, runId: run.id, op: 'create', channel, inThread: false, body: headerText(run, card, startedByName), dedupeKey: `header:${run.id}` },
        now,
      ).id;
      store.chatThreads.setHeader(threadKey, header);
      const thread = store.outbox.enqueue(
        { threadKey, runId: run.id, op: 'thread', channel, inThread: false, targetId: header, body: threadName(run, card, this.limits.maxThreadNameChars), dedupeKey: `thread:${run.id}` },
        now,
      ).id;
      for (const emoji of HEADER_REACTIONS) {
        store.outbox.enqueue(
          { threadKey, runId: run.id, op: 'react', channel, inThread: false, targetId: header, body: emoji, dedupeKey: `react:${header}:${emoji}` },
          now,
        );
      }
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

  /** A visible line in the thread, once per `dedupeKey`. */
  note(threadKey: string, runId: string | null, text: string, dedupeKey: string): void {
    const lane = this.store.chatThreads.getThread(threadKey);
    if (!lane) return;
    this.store.outbox.enqueue(
      { threadKey, runId, op: 'create', channel: lane.channel, inThread: true, body: neutralizeMentions(text), dedupeKey: `note:${dedupeKey}` },
      this.iso(),
    );
    this.kick(threadKey);
  }

  /** Reacts to someone's message (e.g. 👀 on a steer) through the lane, so it is paced too. */
  acknowledge(threadKey: string, message: MessageRef, emoji: string, dedupeKey: string): void {
    const lane = this.store.chatThreads.getThread(threadKey);
    if (!lane) return;
    this.store.outbox.enqueue(
      { threadKey, runId: null, op: 'react', channel: lane.channel, inThread: true, targetRef: message, body: emoji, dedupeKey: `ack:${dedupeKey}` },
      this.iso(),
    );
    this.kick(threadKey);
  }
}
