/**
 * Reads back what a restarted bot missed in its run threads (src/bots/hub/catch-up.ts):
 * `conversations.replies` of each thread after the last message seen (`oldest`, cursor pages of
 * 200) and the people's control reactions on the header and the unanswered catch-up questions (for the header, the parent message that
 * `conversations.replies` returns first, with its `reactions`; `reactions.get` with `full` when
 * that list is cut short or the parent is missing). Both are Tier 3: every call goes through the
 * hub's read budget (`pace`). Each message and reaction is translated by translate.ts as its
 * event would have been, so its dedupe key is the live one.
 */
import type { webApi } from '@slack/bolt';
import type { Logger } from 'pino';
import { CONTROL_EMOJI, normalizeEmoji, type CatchUpThread, type ChatEvent, type PaceRead, type ReactionEvent, type ThreadBacklog } from '../hub/chat-types.js';
import { messageIdsOf, messageRef } from './refs.js';
import { emojiOfReaction, messageEvent, reactionEvent, type BotIdentity } from './translate.js';

type WebClient = InstanceType<typeof webApi.WebClient>;

/** Messages per `conversations.replies` page (Slack's recommended maximum). */
const PAGE = 200;
/** At most this many pages per thread and start (the rest waits for the next start). */
const MAX_PAGES = 10;

const CONTROLS = new Set<string>(Object.values(CONTROL_EMOJI));

interface SlackReaction {
  name?: string;
  users?: string[];
  count?: number;
}

interface SlackMessage extends Record<string, unknown> {
  ts?: string;
  reactions?: SlackReaction[];
}

export interface SlackCatchUpOptions {
  client: WebClient;
  me: BotIdentity;
  /** Fills in a person's display name and whether they are restricted, as for live events. */
  enrich: (event: ChatEvent) => Promise<void>;
  log: Logger;
}

/** Reads each thread in turn; a thread that fails is logged and left out. */
export async function readBacklogs(opts: SlackCatchUpOptions, threads: CatchUpThread[], pace: PaceRead): Promise<ThreadBacklog[]> {
  const out: ThreadBacklog[] = [];
  for (const t of threads) {
    try {
      out.push(await readThread(opts, t, pace));
    } catch (err) {
      opts.log.warn({ err, thread: t.thread }, 'could not read a run thread back; what was missed there is read at the next start');
    }
  }
  return out;
}

async function readThread(opts: SlackCatchUpOptions, t: CatchUpThread, pace: PaceRead): Promise<ThreadBacklog> {
  const { channelId, ts: threadTs } = messageIdsOf(t.thread);
  const oldest = t.after ? messageIdsOf(t.after).ts : threadTs;
  let parent: SlackMessage | undefined;
  let newest: string | null = null;
  const messages: ChatEvent[] = [];
  let cursor: string | undefined;
  for (let page = 0; ; page += 1) {
    if (page === MAX_PAGES) {
      opts.log.warn({ thread: t.thread, pages: MAX_PAGES }, 'more missed messages than one start reads; the rest are read at the next start');
      break;
    }
    const args = { channel: channelId, ts: threadTs, oldest, limit: PAGE, ...(cursor ? { cursor } : {}) };
    const res = await pace(() => opts.client.conversations.replies(args));
    for (const m of (res.messages ?? []) as SlackMessage[]) {
      if (m.ts === threadTs) {
        parent = m;
        continue;
      }
      if (!m.ts || Number(m.ts) <= Number(oldest)) continue;
      newest = m.ts;
      const event = messageEvent({ event: { ...m, type: 'message', channel: channelId } }, opts.me);
      if (!event) continue;
      await opts.enrich(event);
      messages.push(event);
    }
    cursor = res.response_metadata?.next_cursor || undefined;
    if (!cursor) break;
  }
  return {
    threadKey: t.threadKey,
    messages,
    newest: newest ? messageRef(channelId, newest) : null,
    reactions: t.header ? await reactionsOn(opts, [t.header, ...t.questions], { ref: t.thread, message: parent }, pace) : null,
  };
}

/** The control reactions people (not the bot) have on these messages now, as adds; `parent`: the thread's parent as read, if it was. */
async function reactionsOn(opts: SlackCatchUpOptions, refs: string[], parent: { ref: string; message: SlackMessage | undefined }, pace: PaceRead): Promise<ReactionEvent[]> {
  const out: ReactionEvent[] = [];
  for (const ref of refs) out.push(...(await messageReactions(opts, ref, ref === parent.ref ? parent.message : undefined, pace)));
  return out;
}

async function messageReactions(opts: SlackCatchUpOptions, ref: string, known: SlackMessage | undefined, pace: PaceRead): Promise<ReactionEvent[]> {
  const { channelId, ts } = messageIdsOf(ref);
  const complete = (m: SlackMessage | undefined) => m !== undefined && (m.reactions ?? []).every((r) => (r.users?.length ?? 0) >= (r.count ?? 0));
  let message = known;
  if (!complete(message)) {
    const res = await pace(() => opts.client.reactions.get({ channel: channelId, timestamp: ts, full: true }));
    message = (res.message ?? {}) as SlackMessage;
  }
  const out: ReactionEvent[] = [];
  for (const r of message?.reactions ?? []) {
    if (!r.name || !CONTROLS.has(normalizeEmoji(emojiOfReaction(r.name)))) continue;
    for (const user of r.users ?? []) {
      const body = { event: { type: 'reaction_added', user, reaction: r.name, item: { type: 'message', channel: channelId, ts } } };
      const event = reactionEvent(body, opts.me);
      if (event?.kind !== 'reaction') continue;
      await opts.enrich(event);
      out.push(event);
    }
  }
  return out;
}
