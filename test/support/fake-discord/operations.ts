/** State mutations shared by the REST routes and the test driver (store + gateway dispatch). */
import { ApiError, formError } from './http.js';
import { Snowflakes, channelPayload, emojiKey, isThread, memberPayload, messagePayload, MessageFlag, iso, parseMentions } from './payloads.js';
import type { Clock, RateLimitOptions } from './rate-limits.js';
import type { FakeChannel, FakeState, StoredMessage } from './state.js';

export interface GatewayDispatcher {
  dispatch(t: string, d: Record<string, unknown>): void;
}

export interface CoreOptions {
  token: string;
  interactionAckDeadlineMs: number;
  interactionTokenTtlMs: number;
  /** How long enforce_nonce de-duplicates (Discord: "the past few minutes"). */
  nonceWindowMs: number;
  /** Edits of messages in threads older than this are refused with 30046 (Discord: about an hour); null: never. */
  editMaxAgeMs: number | null;
  /** Sum of a message's attachments above which Discord answers 413 (code 40005). */
  uploadLimitBytes: number;
}

export interface FakeCore {
  state: FakeState;
  ids: Snowflakes;
  clock: Clock;
  rateLimits: RateLimitOptions;
  gateway: GatewayDispatcher;
  options: CoreOptions;
}

export type NewMessage = Pick<StoredMessage, 'channelId' | 'authorId' | 'content' | 'source'> & Partial<StoredMessage>;

export const MAX_CONTENT = 2000;

export function validateContent(content: unknown, required: { embeds?: unknown; files?: number; components?: unknown }): string {
  if (content !== undefined && content !== null && typeof content !== 'string') throw formError('content', 'BASE_TYPE_STRING', 'Must be a string.');
  const text = (content as string | undefined) ?? '';
  if (text.length > MAX_CONTENT) throw formError('content', 'BASE_TYPE_MAX_LENGTH', `Must be ${MAX_CONTENT} or fewer in length.`);
  const hasOther = (Array.isArray(required.embeds) && required.embeds.length > 0) || (required.files ?? 0) > 0 ||
    (Array.isArray(required.components) && required.components.length > 0);
  if (text.length === 0 && !hasOther) throw new ApiError(400, 50006, 'Cannot send an empty message');
  return text;
}

export function buildMessage(core: FakeCore, init: NewMessage): StoredMessage {
  return {
    id: init.id ?? core.ids.next(),
    type: 0,
    flags: 0,
    createdAt: core.clock.now(),
    editedAt: null,
    edits: [],
    nonce: undefined,
    enforceNonce: false,
    allowedMentions: undefined,
    embeds: [],
    components: [],
    attachments: [],
    reactions: [],
    mentionIds: parseMentions(init.content),
    interactionId: null,
    messageReference: null,
    threadId: null,
    deleted: false,
    ...init,
  };
}

/** Posting into an archived thread unarchives it (locked → 160005 unless the author can manage threads). */
export function prepareChannelForPost(core: FakeCore, channel: FakeChannel, canManageThreads: boolean): void {
  if (!isThread(channel) || !channel.archived) return;
  if (channel.locked && !canManageThreads) throw new ApiError(400, 160005, 'Thread is locked');
  updateThread(core, channel, { archived: false });
}

export function updateThread(core: FakeCore, channel: FakeChannel, patch: { archived?: boolean; locked?: boolean; name?: string; autoArchiveDuration?: number }): void {
  if (patch.archived !== undefined && patch.archived !== channel.archived) {
    channel.archived = patch.archived;
    channel.archivedAt = core.clock.now();
  }
  if (patch.locked !== undefined) channel.locked = patch.locked;
  if (patch.name !== undefined) channel.name = patch.name;
  if (patch.autoArchiveDuration !== undefined) channel.autoArchiveDuration = patch.autoArchiveDuration;
  core.gateway.dispatch(isThread(channel) ? 'THREAD_UPDATE' : 'CHANNEL_UPDATE', channelPayload(core.state, channel));
  core.state.changed();
}

/** Store a message and dispatch MESSAGE_CREATE (not for ephemeral messages). */
export function postMessage(core: FakeCore, init: NewMessage): StoredMessage {
  const message = buildMessage(core, init);
  const channel = core.state.channels.get(message.channelId);
  if (channel && isThread(channel) && !channel.memberIds.has(message.authorId)) channel.memberIds.add(message.authorId);
  core.state.addMessage(message);
  if (!(message.flags & MessageFlag.Ephemeral)) {
    core.gateway.dispatch('MESSAGE_CREATE', messagePayload(core.state, message, { gateway: true }));
  }
  return message;
}

export function editMessage(core: FakeCore, message: StoredMessage, patch: { content?: string; allowedMentions?: unknown; embeds?: unknown[]; components?: unknown[]; flags?: number }): void {
  const now = core.clock.now();
  if (patch.content !== undefined && patch.content !== message.content) {
    message.content = patch.content;
    message.mentionIds = parseMentions(patch.content);
  }
  message.edits.push({ at: now, content: message.content, allowedMentions: patch.allowedMentions });
  if (patch.embeds) message.embeds = patch.embeds;
  if (patch.components) message.components = patch.components;
  if (patch.flags !== undefined) message.flags = patch.flags;
  message.flags &= ~MessageFlag.Loading;
  message.editedAt = now;
  core.state.changed();
  if (!(message.flags & MessageFlag.Ephemeral)) {
    core.gateway.dispatch('MESSAGE_UPDATE', messagePayload(core.state, message, { gateway: true }));
  }
}

export function deleteMessage(core: FakeCore, message: StoredMessage): void {
  message.deleted = true;
  core.state.changed();
  core.gateway.dispatch('MESSAGE_DELETE', { id: message.id, channel_id: message.channelId, guild_id: core.state.guildId });
}

function reactionEvent(core: FakeCore, message: StoredMessage, emoji: { id: string | null; name: string }, userId: string): Record<string, unknown> {
  return {
    user_id: userId,
    channel_id: message.channelId,
    message_id: message.id,
    guild_id: core.state.guildId,
    emoji: { id: emoji.id, name: emoji.name },
    burst: false,
    burst_colors: [],
    type: 0,
  };
}

/** Returns false if the user had already reacted with that emoji (Discord answers 204 either way). */
export function addReaction(core: FakeCore, message: StoredMessage, emoji: { id: string | null; name: string }, userId: string): boolean {
  const key = emojiKey(emoji);
  let reaction = message.reactions.find((r) => emojiKey(r.emoji) === key);
  if (!reaction) {
    reaction = { emoji, userIds: [] };
    message.reactions.push(reaction);
  }
  if (reaction.userIds.includes(userId)) return false;
  reaction.userIds.push(userId);
  core.state.changed();
  const member = core.state.members.get(userId);
  core.gateway.dispatch('MESSAGE_REACTION_ADD', {
    ...reactionEvent(core, message, emoji, userId),
    message_author_id: message.authorId,
    ...(member ? { member: memberPayload(core.state, member) } : {}),
  });
  return true;
}

export function removeReaction(core: FakeCore, message: StoredMessage, emoji: { id: string | null; name: string }, userId: string): boolean {
  const key = emojiKey(emoji);
  const reaction = message.reactions.find((r) => emojiKey(r.emoji) === key);
  if (!reaction || !reaction.userIds.includes(userId)) return false;
  reaction.userIds = reaction.userIds.filter((id) => id !== userId);
  if (reaction.userIds.length === 0) message.reactions = message.reactions.filter((r) => r !== reaction);
  core.state.changed();
  core.gateway.dispatch('MESSAGE_REACTION_REMOVE', reactionEvent(core, message, emoji, userId));
  return true;
}

export interface NewThread {
  parentId: string;
  name: string;
  type: number;
  ownerId: string;
  starterMessage?: StoredMessage;
  autoArchiveDuration?: number;
}

export function createThread(core: FakeCore, init: NewThread): FakeChannel {
  const { state } = core;
  const parent = state.channels.get(init.parentId);
  if (!parent) throw new ApiError(404, 10003, 'Unknown Channel');
  if (isThread(parent)) throw new ApiError(400, 50024, 'Cannot execute action on this channel type');
  if (!init.name || init.name.length > 100) throw formError('name', 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
  if (init.starterMessage?.threadId) throw new ApiError(400, 160004, 'A thread has already been created for this message');
  const now = core.clock.now();
  const thread: FakeChannel = {
    id: init.starterMessage?.id ?? core.ids.next(),
    type: init.type,
    name: init.name,
    guildId: state.guildId,
    parentId: parent.id,
    ownerId: init.ownerId,
    position: 0,
    archived: false,
    locked: false,
    autoArchiveDuration: init.autoArchiveDuration ?? 1440,
    archivedAt: null,
    createdAt: now,
    lastMessageId: null,
    memberIds: new Set([init.ownerId]),
    messageCount: 0,
  };
  state.channels.set(thread.id, thread);
  if (init.starterMessage) {
    init.starterMessage.threadId = thread.id;
    init.starterMessage.flags |= MessageFlag.HasThread;
  }
  state.changed();
  core.gateway.dispatch('THREAD_CREATE', { ...channelPayload(state, thread, init.ownerId), newly_created: true });
  return thread;
}

export function joinThread(core: FakeCore, thread: FakeChannel, userId: string): void {
  if (thread.archived) throw new ApiError(400, 50083, 'Thread is archived');
  if (thread.memberIds.has(userId)) return;
  thread.memberIds.add(userId);
  core.state.changed();
  core.gateway.dispatch('THREAD_MEMBER_UPDATE', {
    id: thread.id,
    user_id: userId,
    join_timestamp: iso(core.clock.now()),
    flags: 0,
    guild_id: thread.guildId,
  });
}

/** Discord refuses edits of thread messages older than about an hour (30046; it says "try again later", but they stay refused). */
export function refuseOldEdit(core: FakeCore, channel: FakeChannel, message: StoredMessage): void {
  const maxAge = core.options.editMaxAgeMs;
  if (maxAge === null || !isThread(channel) || core.clock.now() - message.createdAt <= maxAge) return;
  throw new ApiError(400, 30046, 'Maximum number of edits to messages older than 1 hour reached. Try again later');
}
