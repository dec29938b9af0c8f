/**
 * The controller: every inbound `ChatEvent` goes through `handle`. It records the event once
 * (dedupe on the platform key) before anything else, drops the bot's own events, authorizes,
 * and routes: commands to the run engine and the cards, replies to steer / follow up / refine,
 * reactions to the controls. Each entry point catches its own failure, tells the user, logs the
 * full error, and is tracked so `idle()` can await it.
 */
import type { Logger } from 'pino';
import { authorize } from './authorize.js';
import { CONTROL_EMOJI, normalizeEmoji, type ChatEvent, type ChatLimits, type ChatUser, type CommandEvent, type ReactionEvent, type ReplyEvent } from './chat-types.js';
import { systemClock, type Clock } from './clock.js';
import { CommandHandlers } from './command-handlers.js';
import { chatMessage, type ControllerContext } from './controller-context.js';
import { ThreadControls } from './thread-controls.js';
import { ThreadWriter } from './thread-writer.js';

export type { RunControl } from './controller-context.js';

/** The controller's context as its creator gives it; the writer and names are derived here. */
export interface ControllerOptions
  extends Pick<ControllerContext, 'store' | 'manager' | 'portOf' | 'relay' | 'delivery' | 'auth' | 'logger' | 'threadLinkWaitMs'> {
  /** The limits of a platform this process serves. */
  limitsOf: (platform: string) => ChatLimits;
  /** Display names learnt from events, shared with the relay. */
  names: Map<string, string>;
  clock?: Clock;
}

export class ChatController {
  private readonly pending = new Set<Promise<void>>();
  private readonly commands: CommandHandlers;
  private readonly controls: ThreadControls;
  private readonly clock: Clock;

  constructor(private readonly opts: ControllerOptions) {
    this.clock = opts.clock ?? systemClock;
    const writer = new ThreadWriter(opts.store, opts.limitsOf, this.clock, (k) => opts.delivery.kick(k));
    const ctx = { ...opts, clock: this.clock, writer, nameOf: (id: string) => opts.names.get(id) ?? id };
    this.commands = new CommandHandlers(ctx);
    this.controls = new ThreadControls(ctx);
  }

  /** Handles one event; never rejects. The returned promise settles when the work is done. */
  handle(event: ChatEvent): Promise<void> {
    const work = this.dispatch(event);
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
    return work;
  }

  /** Resolves when every event handled so far has finished (shutdown, tests). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Card suggestions for autocomplete (none for someone who may not use the bot): `value` is the id, `label` id and title. */
  autocompleteCards(query: string, user: ChatUser, limit = 25): { value: string; label: string }[] {
    if (!authorize(user, this.opts.auth).ok) return [];
    try {
      return this.opts.manager.cards.search(query.trim(), limit).map((c) => ({ value: c.id, label: `${c.id} — ${c.title}`.slice(0, 100) }));
    } catch (err) {
      this.opts.logger.warn({ err }, 'card autocomplete failed');
      return [];
    }
  }

  private async dispatch(received: ChatEvent): Promise<void> {
    const log = this.opts.logger.child({ platform: received.platform, kind: received.kind, key: received.dedupeKey, user: received.user.id });
    try {
      if (received.user.isBot) return;
      const now = new Date(this.clock.now()).toISOString();
      const event = this.numberReaction(received, now);
      if (!event) {
        log.debug('reaction already known (redelivered, or read back after a restart); ignored');
        return;
      }
      const key = `${event.platform}:${event.kind}:${event.dedupeKey}`;
      if (!this.opts.store.inbound.record(key, now)) {
        log.debug('duplicate delivery ignored');
        return;
      }
      this.opts.names.set(event.user.id, event.user.displayName);
      switch (event.kind) {
        case 'command':
          await this.guard(log, () => this.onCommand(event), (msg) => event.respond(msg));
          return;
        case 'reply':
          await this.guard(log, () => this.controls.reply(event), (msg) => this.controls.tell(event, msg));
          return;
        case 'reaction':
          await this.guard(log, () => this.controls.reaction(event), (msg) => this.controls.tell(event, msg));
          return;
        case 'unsupported':
          log.debug({ reason: event.reason }, 'unsupported event');
          return;
      }
    } catch (err) {
      log.error({ err }, 'handling a chat event failed');
    }
  }

  /**
   * A control reaction counts when it changes what the bot knows is on the message (an add of a
   * reaction not there, a removal of one that is): the change's generation completes its dedupe
   * key. Null when nothing changed. Other events pass as they are.
   */
  private numberReaction(event: ChatEvent, now: string): ChatEvent | null {
    if (event.kind !== 'reaction') return event;
    const emoji = normalizeEmoji(event.emoji);
    if (!(Object.values(CONTROL_EMOJI) as string[]).includes(emoji)) return event;
    const generation = this.opts.store.catchUp.setReaction({ message: event.message, userId: event.user.id, emoji, added: event.added }, now);
    return generation === null ? null : { ...event, dedupeKey: `${event.dedupeKey}:${generation}` };
  }

  private onCommand(e: CommandEvent): Promise<void> {
    return this.commands.handle(e);
  }

  private async guard(log: Logger, fn: () => Promise<void>, tell: (msg: string) => Promise<void> | void): Promise<void> {
    try {
      await fn();
    } catch (err) {
      log.error({ err }, 'chat request failed');
      try {
        await tell(chatMessage(err));
      } catch (tellErr) {
        log.error({ err: tellErr }, 'could not tell the user about a failure');
      }
    }
  }
}

export type { ReplyEvent, ReactionEvent };
