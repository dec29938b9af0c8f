/**
 * Pure translation from Slack payloads (plain JSON, as Bolt hands them over) to `ChatEvent`s,
 * and between reaction names and the unicode emoji of the controls. The bot's own messages and
 * reactions translate to `null` (dropped); anything the controller should not act on (edits,
 * deletions, other bots, system subtypes, top-level chatter) becomes `unsupported` with a reason.
 * Dedupe keys name what happened, not the delivery, so a message or reaction read back by
 * catch-up after a restart (with no event) has the key it had live, and a redelivered event the
 * same: a message is its `channel:ts`; a reaction its message, user, name and action (the
 * controller tells toggles apart); a slash command its `trigger_id`.
 */
import type { ChatEvent, ChatUser, CommandEvent } from '../hub/chat-types.js';
import { normalizeEmoji } from '../hub/chat-types.js';
import { channelRef, messageRef, PLATFORM, threadRef, userRef } from './refs.js';

/** Reaction names (as Slack spells them) of the emoji the bot reads or adds. */
const NAME_OF_EMOJI: Record<string, string> = {
  '🛑': 'octagonal_sign',
  '🔁': 'repeat',
  '🎮': 'video_game',
  '⏹': 'stop_button',
  '📸': 'camera_with_flash',
  '👀': 'eyes',
  '📨': 'incoming_envelope',
  '✅': 'white_check_mark',
  '❌': 'x',
  '⏸': 'double_vertical_bar',
  '🧭': 'compass',
};
const EMOJI_OF_NAME: Record<string, string> = Object.fromEntries(Object.entries(NAME_OF_EMOJI).map(([e, n]) => [n, e]));

/** Slack's name for a unicode emoji (`🛑` → `octagonal_sign`), or undefined when the adapter has none. */
export function reactionName(emoji: string): string | undefined {
  return NAME_OF_EMOJI[normalizeEmoji(emoji)];
}

/** The unicode emoji for a Slack reaction name (skin tones ignored), or `:name:` for custom/unknown ones. */
export function emojiOfReaction(name: string): string {
  const bare = name.replace(/::skin-tone-\d$/, '').replace(/:/g, '');
  return EMOJI_OF_NAME[bare] ?? `:${bare}:`;
}

/** Slack's mrkdwn as a human typed it → plain text for the agent: entities decoded, links and mentions spelled out. */
export function plainText(text: string): string {
  return text
    .replace(/<(https?:[^|>]+)\|([^>]+)>/g, '$2 ($1)')
    .replace(/<(https?:[^>]+)>/g, '$1')
    .replace(/<mailto:[^|>]+\|([^>]+)>/g, '$1')
    .replace(/<@([A-Z0-9]+)(?:\|[^>]*)?>/g, '@$1')
    .replace(/<#([A-Z0-9]+)\|([^>]*)>/g, '#$2')
    .replace(/<!([a-z]+)(?:\^[^|>]*)?(?:\|[^>]*)?>/g, '@$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The fields of a slash command payload that translation reads. */
export interface SlashCommandData {
  command: string;
  text: string;
  user_id: string;
  user_name?: string;
  channel_id: string;
  trigger_id?: string;
  team_id?: string;
}

/** An `event_callback` body: the envelope around one event. */
export interface EventBody {
  event_id?: string;
  /** The workspace the event happened in. */
  team_id?: string;
  event: Record<string, unknown>;
}

export interface BotIdentity {
  userId: string;
  botId: string;
  /** The workspace the app is installed in (auth.test). */
  teamId: string | null;
}

function chatUser(userId: string, displayName: string | undefined, isBot = false): ChatUser {
  return { id: userRef(userId), displayName: displayName || userId, roleIds: [], isBot };
}

/** A slash command (already acknowledged). `respond` answers the invoker privately via `response_url`. */
export function commandEvent(cmd: SlashCommandData, respond: (text: string) => Promise<void>): CommandEvent {
  return {
    kind: 'command',
    platform: PLATFORM,
    dedupeKey: cmd.trigger_id ?? `${cmd.channel_id}:${cmd.user_id}:${cmd.command}:${cmd.text}`,
    user: chatUser(cmd.user_id, cmd.user_name),
    channel: channelRef(cmd.channel_id),
    raw: cmd,
    name: cmd.command.replace(/^\//, '').toLowerCase(),
    options: {},
    text: cmd.text ?? '',
    thread: null,
    respond,
  };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Message subtypes a human reply can have. */
const HUMAN_SUBTYPES = new Set([undefined, 'file_share', 'thread_broadcast']);

/**
 * A `message` event: a reply when a human wrote it in a thread; `null` for the bot's own
 * messages and for edits/deletions of them; `unsupported` for everything else.
 */
export function messageEvent(body: EventBody, me: BotIdentity, displayName?: string): ChatEvent | null {
  const e = body.event;
  const channel = str(e.channel) ?? '';
  const ts = str(e.ts) ?? '';
  const subtype = str(e.subtype);
  const inner = (e.message ?? e.previous_message) as Record<string, unknown> | undefined;
  const user = str(e.user) ?? str(inner?.user) ?? '';
  const botId = str(e.bot_id) ?? str(inner?.bot_id);
  if (user === me.userId || (botId !== undefined && botId === me.botId)) return null;
  const base = {
    platform: PLATFORM,
    dedupeKey: subtype === undefined || HUMAN_SUBTYPES.has(subtype) ? `${channel}:${ts}` : (body.event_id ?? `${channel}:${ts}:${subtype}`),
    user: chatUser(user || botId || 'unknown', displayName, botId !== undefined),
    channel: channelRef(channel),
    raw: body,
  };
  const unsupported = (reason: string): ChatEvent => ({ ...base, kind: 'unsupported', reason });
  if (subtype === 'message_changed' || subtype === 'message_deleted') return unsupported(`${subtype} (edits and deletions never steer)`);
  if (!HUMAN_SUBTYPES.has(subtype)) return unsupported(`message subtype ${subtype}`);
  if (botId !== undefined) return unsupported('message from another bot');
  if (!user) return unsupported('message without a user');
  const threadTs = str(e.thread_ts);
  if (!threadTs || threadTs === ts) return unsupported('message outside a thread');
  const text = plainText(str(e.text) ?? '');
  if (text.trim() === '') return unsupported('empty message (a file without text)');
  return { ...base, kind: 'reply', thread: threadRef(channel, threadTs), message: messageRef(channel, ts), text };
}

/** A `reaction_added` / `reaction_removed` event; `null` for the bot's own reactions. */
export function reactionEvent(body: EventBody, me: BotIdentity, displayName?: string): ChatEvent | null {
  const e = body.event;
  const user = str(e.user) ?? '';
  if (user === me.userId) return null;
  const added = e.type === 'reaction_added';
  const item = (e.item ?? {}) as Record<string, unknown>;
  const channel = str(item.channel) ?? '';
  const ts = str(item.ts) ?? '';
  const name = str(e.reaction) ?? '';
  const base = {
    platform: PLATFORM,
    dedupeKey: `${channel}:${ts}:${user}:${name}:${added ? 'add' : 'remove'}`,
    user: chatUser(user, displayName),
    channel: channelRef(channel),
    raw: body,
  };
  if (item.type !== 'message' || !channel || !ts) return { ...base, kind: 'unsupported', reason: `reaction on a ${String(item.type)}` };
  // Slack does not say which thread the message is in; the controller maps the message through the outbox.
  return { ...base, kind: 'reaction', message: messageRef(channel, ts), thread: null, emoji: emojiOfReaction(name), added };
}
