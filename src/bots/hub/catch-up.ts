/**
 * Catch-up after downtime. Replies and reactions made in a run's thread while the bot was down
 * never arrive as events (Discord re-identifies after a restart, Slack acknowledged nothing to a
 * bot that was not there). At start-up, once the receivers are connected and the queue resumed,
 * the hub reads back the threads of runs that are queued or running, or settled in the last day:
 * each receiver reads its platform's history (messages after the last one seen, the people's
 * control reactions on the header and on its unanswered catch-up questions) and translates it as if it had just arrived. Each event then
 * goes through the controller like a live one, with the key a live one has, so an event seen
 * live and read back again is handled once:
 * - a message's key is its platform id (Discord message id, Slack `channel:ts`);
 * - a reaction counts only when it changes what the bot knows is on the message
 *   (`reaction_states`): one seen live before the restart is already known.
 * Per thread, in order: the reactions first (the platforms give no time for them), then
 * the messages oldest first. Threads go side by side. A missed reply that would start a
 * refinement is marked `missed`: the thread is asked to confirm it with 🔁 (thread-controls.ts).
 * Reactions removed while the bot was down only update what the bot knows (a playtest does not
 * outlive a restart, so there is nothing to stop). Threads older than catch-up itself (migration 7)
 * take their first read as seen.
 */
import type { Logger } from 'pino';
import type { Store } from '../../store/index.js';
import type { ThreadToCatchUp } from '../../store/catch-up-repo.js';
import { normalizeEmoji, type ChatEvent, type PaceRead, type ReactionEvent, type ThreadBacklog } from './chat-types.js';
import type { Clock } from './clock.js';
import type { Receiver } from './hub.js';
import { PRIORITY, type Pacer } from './pacing.js';

/** How far back a settled run's thread is read: a reply a day old is still news. */
export const CATCH_UP_WINDOW_MS = 24 * 60 * 60 * 1000;

export interface CatchUpDeps {
  store: Store;
  receivers: Receiver[];
  /** The hub's handling of one event (dedupe, controller); never rejects. */
  handle: (event: ChatEvent) => Promise<void>;
  /** Paces history reads by each platform's read budget. */
  pacer: Pacer;
  logger: Logger;
  clock: Clock;
  /** True once the hub is stopping: no further event is handed on. */
  stopping: () => boolean;
}

export interface CatchUpReport {
  /** Threads read back in full. */
  threads: number;
  /** Threads whose read failed (tried again at the next start). */
  failed: number;
  /** Messages and reactions handed to the controller (duplicates included: it drops them). */
  events: number;
}

export async function catchUp(deps: CatchUpDeps): Promise<CatchUpReport> {
  const { store, clock, logger } = deps;
  const startedAt = new Date(clock.now()).toISOString();
  const since = new Date(clock.now() - CATCH_UP_WINDOW_MS).toISOString();
  const all = store.catchUp.threadsToCatchUp(since);
  const report: CatchUpReport = { threads: 0, failed: 0, events: 0 };
  await Promise.all(
    deps.receivers.map(async (receiver) => {
      const threads = all.filter((t) => t.platform === receiver.platform);
      if (!receiver.catchUp || threads.length === 0) return;
      const limits = receiver.port.limits;
      const pace: PaceRead = (read) => deps.pacer.schedule({ platform: receiver.platform, limits, kind: 'read', channel: '', thread: null }, PRIORITY.reply, read);
      let backlogs: ThreadBacklog[];
      try {
        backlogs = await receiver.catchUp(
          threads.map((t) => ({
            threadKey: t.threadKey,
            channel: t.channel,
            thread: t.thread,
            header: t.header,
            after: t.lastMessage,
            questions: store.catchUp.openQuestions(t.threadKey),
          })),
          pace,
        );
      } catch (err) {
        logger.warn({ err, platform: receiver.platform }, 'catch-up could not read the threads; what was missed is read at the next start');
        report.failed += threads.length;
        return;
      }
      report.threads += backlogs.length;
      report.failed += threads.length - backlogs.length;
      const byKey = new Map(threads.map((t) => [t.threadKey, t]));
      await Promise.all(
        backlogs.map(async (b) => {
          const t = byKey.get(b.threadKey);
          if (t) report.events += await replay(deps, t, b, startedAt);
        }),
      );
    }),
  );
  if (all.length > 0) logger.info({ ...report }, 'caught up on the threads of recent runs');
  return report;
}

/** Hands one thread's backlog to the controller in order; returns how many events it handed on. */
async function replay(deps: CatchUpDeps, t: ThreadToCatchUp, b: ThreadBacklog, startedAt: string): Promise<number> {
  const { store } = deps;
  const now = () => new Date(deps.clock.now()).toISOString();
  const watched = t.header ? [t.header, ...store.catchUp.openQuestions(t.threadKey)] : [];
  if (t.baseline) {
    // Older than catch-up: what is there was handled live under other keys. Taken as seen.
    for (const r of b.reactions ?? []) store.catchUp.setReaction({ message: r.message, userId: r.user.id, emoji: normalizeEmoji(r.emoji), added: true }, now());
    if (b.newest) store.catchUp.markSeen(t.threadKey, b.newest, now());
    else store.catchUp.endBaseline(t.threadKey, now());
    return 0;
  }
  let handed = 0;
  for (const r of b.reactions ?? []) {
    if (deps.stopping()) return handed;
    await deps.handle(r);
    handed += 1;
  }
  if (b.reactions) for (const message of watched) forgetRemoved(deps, message, b.reactions, startedAt);
  for (const m of b.messages) {
    if (deps.stopping()) return handed;
    await deps.handle(m.kind === 'reply' ? { ...m, missed: true } : m);
    handed += 1;
  }
  if (b.newest) store.catchUp.markSeen(t.threadKey, b.newest, now());
  return handed;
}

/**
 * Reactions the bot knew on a message read (the header, a question) that are gone now were
 * removed while it was down: it forgets them (so a later add counts) without acting. Ones changed
 * live since catch-up began are left alone.
 */
function forgetRemoved(deps: CatchUpDeps, message: string, present: ReactionEvent[], startedAt: string): void {
  const seen = new Set(present.filter((r) => r.message === message).map((r) => `${r.user.id}|${normalizeEmoji(r.emoji)}`));
  for (const known of deps.store.catchUp.presentReactions(message)) {
    if (known.updatedAt >= startedAt || seen.has(`${known.userId}|${known.emoji}`)) continue;
    deps.store.catchUp.setReaction({ message, userId: known.userId, emoji: known.emoji, added: false }, new Date(deps.clock.now()).toISOString());
  }
}
