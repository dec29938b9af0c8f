/**
 * Pure translation from plain Discord data to `ChatEvent`s. The inputs are small JSON shapes
 * (what `inbound.ts` reads off discord.js objects), so tests can use JSON fixtures. The bot's own
 * messages and reactions translate to `null` (dropped); anything the controller should not act
 * on becomes `unsupported` with a reason.
 */
import type { ChatEvent, ChatUser, CommandEvent } from '../hub/chat-types.js';
import { channelRef, messageRef, PLATFORM, userRef } from './refs.js';

export interface DiscordUserData {
  id: string;
  username: string;
  globalName: string | null;
  /** The member's nickname in the guild, if any. */
  nick: string | null;
  bot: boolean;
}

export interface OptionData {
  name: string;
  /** ApplicationCommandOptionType: 1 subcommand, 2 group, 3 string, 4 integer, 5 boolean, … */
  type: number;
  value?: string | number | boolean;
  options?: OptionData[];
  focused?: boolean;
}

export interface CommandData {
  interactionId: string;
  commandName: string;
  channelId: string;
  /** True when the command was typed inside a thread. */
  inThread: boolean;
  user: DiscordUserData;
  /** The member's role ids (without @everyone). */
  roleIds: string[];
  options: OptionData[];
}

export interface MessageData {
  id: string;
  channelId: string;
  inThread: boolean;
  /** MessageType: 0 default, 19 reply; everything else is a system message. */
  type: number;
  content: string;
  author: DiscordUserData;
  roleIds: string[];
  webhookId: string | null;
}

export interface ReactionData {
  messageId: string;
  channelId: string;
  inThread: boolean;
  emoji: { id: string | null; name: string | null };
  user: DiscordUserData;
  roleIds: string[];
  added: boolean;
}

/** Message types a human reply can have: default and reply. */
const HUMAN_MESSAGE_TYPES = new Set([0, 19]);

export function chatUser(user: DiscordUserData, roleIds: string[]): ChatUser {
  return { id: userRef(user.id), displayName: user.nick ?? user.globalName ?? user.username, roleIds: [...roleIds], isBot: user.bot };
}

/**
 * Named options as strings: `/run card:card-1 prompt:…` → `{ card, prompt }`;
 * `/card add id:… title:…` → `{ sub: 'add', id, title }`.
 */
export function flattenOptions(options: OptionData[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const o of options) {
    if (o.type === 1 || o.type === 2) {
      out[o.type === 1 ? 'sub' : 'group'] = o.name;
      Object.assign(out, flattenOptions(o.options ?? []));
    } else if (o.value !== undefined) {
      out[o.name] = String(o.value);
    }
  }
  return out;
}

/** The option being typed in an autocomplete interaction, or null. */
export function focusedOption(options: OptionData[]): { name: string; value: string } | null {
  for (const o of options) {
    if (o.focused) return { name: o.name, value: String(o.value ?? '') };
    const inner = o.options ? focusedOption(o.options) : null;
    if (inner) return inner;
  }
  return null;
}

/** A slash command. `respond` answers privately through the (already deferred) interaction. */
export function commandEvent(d: CommandData, respond: (text: string) => Promise<void>): CommandEvent {
  return {
    kind: 'command',
    platform: PLATFORM,
    dedupeKey: d.interactionId,
    user: chatUser(d.user, d.roleIds),
    channel: channelRef(d.channelId),
    raw: d,
    name: d.commandName,
    options: flattenOptions(d.options),
    text: '',
    thread: d.inThread ? channelRef(d.channelId) : null,
    respond,
  };
}

/** A message: a reply when a human wrote it in a thread; `null` for the bot's own messages. */
export function messageEvent(d: MessageData, botUserId: string): ChatEvent | null {
  if (d.author.id === botUserId) return null;
  const base = { platform: PLATFORM, dedupeKey: d.id, user: chatUser(d.author, d.roleIds), channel: channelRef(d.channelId), raw: d };
  const unsupported = (reason: string): ChatEvent => ({ ...base, kind: 'unsupported', reason });
  if (d.webhookId) return unsupported('webhook message');
  if (!HUMAN_MESSAGE_TYPES.has(d.type)) return unsupported(`system message (type ${d.type})`);
  if (!d.inThread) return unsupported('message outside a thread');
  if (d.content.trim() === '') return unsupported('empty message (attachments only, or the MessageContent intent is off)');
  return { ...base, kind: 'reply', thread: channelRef(d.channelId), message: messageRef(d.channelId, d.id), text: d.content };
}

/**
 * A reaction added or removed; `null` for the bot's own reactions. Discord gives reaction events
 * no id: the key names the reaction and the action, and the controller tells toggles apart by the
 * reaction's stored state (so catch-up, which reads reactions back, gives the same key).
 */
export function reactionEvent(d: ReactionData, botUserId: string): ChatEvent | null {
  if (d.user.id === botUserId) return null;
  const action = d.added ? 'add' : 'remove';
  const emoji = d.emoji.name ?? '';
  const base = {
    platform: PLATFORM,
    dedupeKey: `${d.messageId}:${d.user.id}:${d.emoji.id ?? emoji}:${action}`,
    user: chatUser(d.user, d.roleIds),
    channel: channelRef(d.channelId),
    raw: d,
  };
  if (d.emoji.id !== null) return { ...base, kind: 'unsupported', reason: `custom emoji :${emoji}:` };
  return {
    ...base,
    kind: 'reaction',
    message: messageRef(d.channelId, d.messageId),
    thread: d.inThread ? channelRef(d.channelId) : null,
    emoji,
    added: d.added,
  };
}
