/**
 * Reads back what a restarted bot missed in its run threads (src/bots/hub/catch-up.ts): the
 * messages after the last one seen (`GET /channels/{thread}/messages?after=…&limit=100`, pages
 * oldest first) and the control reactions on the header and the unanswered catch-up questions (`GET` the message for its `reactions`
 * and counts, then `GET …/reactions/{emoji}?limit=100&after=…` for the people). Each is
 * translated by translate.ts exactly as the gateway event would have been, so its dedupe key is
 * the live one. The bot's own messages and reactions are skipped.
 */
import type { Client, Message, MessageReaction, TextBasedChannel, User } from 'discord.js';
import type { Logger } from 'pino';
import { CONTROL_EMOJI, normalizeEmoji, type CatchUpThread, type ChatEvent, type PaceRead, type ReactionEvent, type ThreadBacklog } from '../hub/chat-types.js';
import { messageData, reactionData } from './inbound.js';
import { channelIdOf, messageIdsOf, messageRef } from './refs.js';
import { messageEvent, reactionEvent } from './translate.js';

/** Discord's largest page of messages or reaction users. */
const PAGE = 100;
/** At most this many pages of messages per thread and start (the rest waits for the next start). */
const MAX_PAGES = 20;

const CONTROLS = new Set<string>(Object.values(CONTROL_EMOJI));

/** Reads each thread in turn; a thread that fails is logged and left out. */
export async function readBacklogs(client: Client, me: string, threads: CatchUpThread[], pace: PaceRead, log: Logger): Promise<ThreadBacklog[]> {
  const out: ThreadBacklog[] = [];
  for (const t of threads) {
    try {
      out.push(await readThread(client, me, t, pace, log));
    } catch (err) {
      log.warn({ err, thread: t.thread }, 'could not read a run thread back; what was missed there is read at the next start');
    }
  }
  return out;
}

async function textChannel(client: Client, id: string): Promise<TextBasedChannel> {
  const channel = await client.channels.fetch(id);
  if (!channel?.isTextBased()) throw new Error(`channel ${id} is not a text channel or thread`);
  return channel;
}

const byId = (a: { id: string }, b: { id: string }): number => (BigInt(a.id) < BigInt(b.id) ? -1 : BigInt(a.id) > BigInt(b.id) ? 1 : 0);

async function readThread(client: Client, me: string, t: CatchUpThread, pace: PaceRead, log: Logger): Promise<ThreadBacklog> {
  const threadId = channelIdOf(t.thread);
  const thread = await textChannel(client, threadId);
  // A thread opened from the header has the header's id: every message in it comes after.
  let after = t.after ? messageIdsOf(t.after).messageId : threadId;
  let newest: string | null = null;
  const messages: ChatEvent[] = [];
  for (let page = 0; ; page += 1) {
    if (page === MAX_PAGES) {
      log.warn({ thread: t.thread, pages: MAX_PAGES }, 'more missed messages than one start reads; the rest are read at the next start');
      break;
    }
    const from = after;
    const batch = [...(await pace(() => thread.messages.fetch({ after: from, limit: PAGE, cache: false }))).values()].sort(byId);
    for (const m of batch) {
      newest = m.id;
      if (m.author.id === me) continue;
      const event = await translateMessage(client, me, m, log);
      if (event) messages.push(event);
    }
    if (batch.length < PAGE) break;
    after = batch.at(-1)!.id;
  }
  return {
    threadKey: t.threadKey,
    messages,
    newest: newest ? messageRef(threadId, newest) : null,
    reactions: t.header ? await reactionsOn(client, me, [t.header, ...t.questions], pace, log) : null,
  };
}

async function translateMessage(client: Client, me: string, m: Message, log: Logger): Promise<ChatEvent | null> {
  const data = await messageData(client, m, log);
  return data && messageEvent(data, me);
}

/** The control reactions people (not the bot) have on these messages now, as adds. */
async function reactionsOn(client: Client, me: string, refs: string[], pace: PaceRead, log: Logger): Promise<ReactionEvent[]> {
  const out: ReactionEvent[] = [];
  for (const ref of refs) out.push(...(await messageReactions(client, me, ref, pace, log)));
  return out;
}

async function messageReactions(client: Client, me: string, ref: string, pace: PaceRead, log: Logger): Promise<ReactionEvent[]> {
  const { channelId, messageId } = messageIdsOf(ref);
  const channel = await textChannel(client, channelId);
  const message = await pace(() => channel.messages.fetch({ message: messageId, force: true, cache: true }));
  const out: ReactionEvent[] = [];
  for (const reaction of message.reactions.cache.values()) {
    if (reaction.emoji.id !== null || !CONTROLS.has(normalizeEmoji(reaction.emoji.name ?? ''))) continue;
    if ((reaction.count ?? 0) <= (reaction.me ? 1 : 0)) continue;
    for (const user of await reactionUsers(reaction, pace)) {
      if (user.id === me) continue;
      const event = reactionEvent(await reactionData(client, reaction, user, true, log), me);
      if (event?.kind === 'reaction') out.push(event);
    }
  }
  return out;
}

async function reactionUsers(reaction: MessageReaction, pace: PaceRead): Promise<User[]> {
  const users: User[] = [];
  let after: string | undefined;
  for (;;) {
    const from = after;
    const batch = [...(await pace(() => reaction.users.fetch({ limit: PAGE, ...(from ? { after: from } : {}) }))).values()].sort(byId);
    users.push(...batch);
    if (batch.length < PAGE) return users;
    after = batch.at(-1)!.id;
  }
}
