/**
 * The opaque refs the chat layer stores, in the Discord adapter's spelling:
 * channel and thread `discord:<channel id>` (a thread is a channel), message
 * `discord:<channel id>:<message id>` (enough to edit or react later), user `discord:<user id>`.
 */

export const PLATFORM = 'discord';

const SNOWFLAKE = /^\d{1,25}$/;

export function channelRef(channelId: string): string {
  return `${PLATFORM}:${channelId}`;
}

export function messageRef(channelId: string, messageId: string): string {
  return `${PLATFORM}:${channelId}:${messageId}`;
}

export function userRef(userId: string): string {
  return `${PLATFORM}:${userId}`;
}

/** The channel (or thread) id of a `discord:<id>` ref. */
export function channelIdOf(ref: string): string {
  const parts = ref.split(':');
  if (parts.length !== 2 || parts[0] !== PLATFORM || !SNOWFLAKE.test(parts[1]!)) {
    throw new Error(`not a Discord channel ref: ${ref}`);
  }
  return parts[1]!;
}

export function messageIdsOf(ref: string): { channelId: string; messageId: string } {
  const parts = ref.split(':');
  if (parts.length !== 3 || parts[0] !== PLATFORM || !SNOWFLAKE.test(parts[1]!) || !SNOWFLAKE.test(parts[2]!)) {
    throw new Error(`not a Discord message ref: ${ref}`);
  }
  return { channelId: parts[1]!, messageId: parts[2]! };
}

/** `https://discord.com/channels/<guild>/<channel or thread>[/<message>]`. */
export function permalinkOf(guildId: string, channelId: string, messageId?: string | null): string {
  return `https://discord.com/channels/${guildId}/${channelId}${messageId ? `/${messageId}` : ''}`;
}
