/** Builders for Discord API objects (v10 JSON shapes) from the fake's state. */
import { randomBytes } from 'node:crypto';
import type { Clock } from './rate-limits.js';
import type { FakeChannel, FakeMember, FakeRole, FakeState, FakeUser, StoredMessage } from './state.js';

const DISCORD_EPOCH = 1_420_070_400_000n;

/** Monotonic snowflake generator (ids are 18-19 digit strings, as discord.js route parsing expects). */
export class Snowflakes {
  private last = 0n;
  constructor(private readonly clock: Clock) {}
  next(): string {
    let id = (BigInt(this.clock.now()) - DISCORD_EPOCH) << 22n;
    if (id <= this.last) id = this.last + 1n;
    this.last = id;
    return id.toString();
  }
}

export function interactionToken(): string {
  return `aW50ZXJhY3Rpb24${randomBytes(48).toString('base64url').replace(/[0-9]/g, 'x')}`;
}

export const iso = (ms: number): string => new Date(ms).toISOString();

export const MessageFlag = { Ephemeral: 1 << 6, Loading: 1 << 7, HasThread: 1 << 5 } as const;

export const Permission = {
  AddReactions: 1n << 6n,
  ViewChannel: 1n << 10n,
  SendMessages: 1n << 11n,
  ManageMessages: 1n << 13n,
  EmbedLinks: 1n << 14n,
  AttachFiles: 1n << 15n,
  ReadMessageHistory: 1n << 16n,
  UseApplicationCommands: 1n << 31n,
  ManageThreads: 1n << 34n,
  CreatePublicThreads: 1n << 35n,
  SendMessagesInThreads: 1n << 38n,
} as const;

export const everyonePermissions =
  Permission.ViewChannel | Permission.SendMessages | Permission.ReadMessageHistory | Permission.AddReactions |
  Permission.UseApplicationCommands | Permission.SendMessagesInThreads | Permission.EmbedLinks | Permission.AttachFiles;

export const botPermissions = Object.values(Permission).reduce((acc, p) => acc | p, 0n);

export function userPayload(user: FakeUser): Record<string, unknown> {
  return {
    id: user.id,
    username: user.username,
    global_name: user.globalName,
    discriminator: '0',
    avatar: null,
    bot: user.bot,
    system: false,
    public_flags: 0,
    flags: 0,
    banner: null,
    accent_color: null,
    avatar_decoration_data: null,
  };
}

export function memberPermissions(state: FakeState, member: FakeMember): bigint {
  let perms = state.roles.get(state.guildId)?.permissions ?? 0n;
  for (const roleId of member.roles) perms |= state.roles.get(roleId)?.permissions ?? 0n;
  return perms;
}

/** Guild member; `withUser` false for the partial members embedded in MESSAGE_CREATE. */
export function memberPayload(state: FakeState, member: FakeMember, withUser = true): Record<string, unknown> {
  const user = state.users.get(member.userId);
  return {
    ...(withUser && user ? { user: userPayload(user) } : {}),
    nick: member.nick,
    avatar: null,
    banner: null,
    roles: [...member.roles],
    joined_at: iso(member.joinedAt),
    premium_since: null,
    deaf: false,
    mute: false,
    flags: 0,
    pending: false,
    communication_disabled_until: null,
  };
}

export function rolePayload(role: FakeRole): Record<string, unknown> {
  return {
    id: role.id,
    name: role.name,
    color: 0,
    colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
    hoist: false,
    icon: null,
    unicode_emoji: null,
    position: role.position,
    permissions: role.permissions.toString(),
    managed: role.managed,
    mentionable: false,
    flags: 0,
  };
}

export function isThread(channel: FakeChannel): boolean {
  return channel.type === 10 || channel.type === 11 || channel.type === 12;
}

export function channelPayload(state: FakeState, channel: FakeChannel, forUserId?: string): Record<string, unknown> {
  const base = {
    id: channel.id,
    type: channel.type,
    guild_id: channel.guildId,
    name: channel.name,
    last_message_id: channel.lastMessageId,
    rate_limit_per_user: 0,
    flags: 0,
    parent_id: channel.parentId,
  };
  if (!isThread(channel)) {
    return { ...base, position: channel.position, permission_overwrites: [], topic: null, nsfw: false, default_auto_archive_duration: 1440 };
  }
  const member =
    forUserId && channel.memberIds.has(forUserId)
      ? { member: { id: channel.id, user_id: forUserId, join_timestamp: iso(channel.createdAt), flags: 0 } }
      : {};
  return {
    ...base,
    owner_id: channel.ownerId,
    message_count: channel.messageCount,
    total_message_sent: channel.messageCount,
    member_count: Math.min(50, channel.memberIds.size),
    applied_tags: [],
    thread_metadata: {
      archived: channel.archived,
      auto_archive_duration: channel.autoArchiveDuration,
      archive_timestamp: iso(channel.archivedAt ?? channel.createdAt),
      locked: channel.locked,
      create_timestamp: iso(channel.createdAt),
      ...(channel.type === 12 ? { invitable: true } : {}),
    },
    ...member,
  };
}

export function emojiKey(emoji: { id: string | null; name: string }): string {
  return emoji.id ?? emoji.name;
}

/** Parse the emoji path segment of a reactions URL: unicode (URL-encoded) or `name:id`. */
export function parseEmoji(segment: string): { id: string | null; name: string } {
  const decoded = segment; // already URL-decoded by the router
  const custom = /^a?:?([\w~-]+):(\d{17,20})$/.exec(decoded);
  return custom ? { id: custom[2] ?? null, name: custom[1] ?? decoded } : { id: null, name: decoded };
}

export interface MessagePayloadOptions {
  /** Gateway dispatches carry guild_id and the partial member. */
  gateway?: boolean;
  /** Perspective for `reactions[].me`. */
  viewerId?: string;
}

export function messagePayload(state: FakeState, message: StoredMessage, opts: MessagePayloadOptions = {}): Record<string, unknown> {
  const author = state.users.get(message.authorId);
  const channel = state.channels.get(message.channelId);
  const member = state.members.get(message.authorId);
  const viewer = opts.viewerId ?? state.botUserId;
  const interaction = message.interactionId ? state.interactions.get(message.interactionId) : undefined;
  const payload: Record<string, unknown> = {
    id: message.id,
    type: message.type,
    channel_id: message.channelId,
    author: author ? userPayload(author) : { id: message.authorId, username: 'unknown', discriminator: '0', avatar: null },
    content: message.content,
    timestamp: iso(message.createdAt),
    edited_timestamp: message.editedAt === null ? null : iso(message.editedAt),
    tts: false,
    mention_everyone: false,
    mentions: message.mentionIds.map((id) => state.users.get(id)).filter((u): u is FakeUser => !!u).map(userPayload),
    mention_roles: [],
    attachments: message.attachments.map((a) => ({
      id: a.id,
      filename: a.filename,
      size: a.size,
      url: `https://cdn.fake-discord.invalid/attachments/${message.channelId}/${a.id}/${a.filename}`,
      proxy_url: `https://media.fake-discord.invalid/attachments/${message.channelId}/${a.id}/${a.filename}`,
      content_type: a.contentType ?? undefined,
    })),
    embeds: message.embeds,
    components: message.components,
    pinned: false,
    flags: message.flags,
  };
  if (message.nonce !== undefined) payload.nonce = message.nonce;
  if (message.reactions.length > 0) {
    payload.reactions = message.reactions.map((r) => ({
      emoji: r.emoji,
      count: r.userIds.length,
      count_details: { burst: 0, normal: r.userIds.length },
      me: r.userIds.includes(viewer),
      me_burst: false,
      burst_colors: [],
    }));
  }
  if (interaction) {
    payload.webhook_id = state.botUserId;
    payload.application_id = state.botUserId;
    payload.interaction_metadata = {
      id: interaction.id,
      type: interaction.type,
      user: userPayload(state.users.get(interaction.userId)!),
      authorizing_integration_owners: { '0': state.guildId },
      name: interaction.commandName,
    };
  }
  if (message.messageReference) payload.message_reference = { type: 0, guild_id: state.guildId, ...message.messageReference };
  if (message.threadId) {
    const thread = state.channels.get(message.threadId);
    if (thread) payload.thread = channelPayload(state, thread);
  }
  if (channel && isThread(channel)) payload.position = (state.channelMessages.get(channel.id) ?? []).indexOf(message);
  if (opts.gateway) {
    payload.guild_id = channel?.guildId ?? state.guildId;
    if (member && !message.interactionId) payload.member = memberPayload(state, member, false);
  }
  return payload;
}

/** Extract `<@id>` / `<@!id>` user mentions from content. */
export function parseMentions(content: string): string[] {
  return [...content.matchAll(/<@!?(\d{17,20})>/g)].map((m) => m[1]!).filter((v, i, a) => a.indexOf(v) === i);
}
