/**
 * Reads the plain data `translate.ts` needs off discord.js objects. Partials (a reaction on a
 * message from before a restart, an uncached thread or user) are fetched before anything is
 * read; what cannot be fetched (a deleted message) falls back to the ids the gateway sent.
 */
import type {
  ChatInputCommandInteraction,
  Client,
  CommandInteractionOption,
  Guild,
  GuildMember,
  Message,
  MessageReaction,
  PartialMessage,
  PartialMessageReaction,
  PartialUser,
  User,
  AutocompleteInteraction,
  APIInteractionGuildMember,
} from 'discord.js';
import type { Logger } from 'pino';
import type { CommandData, DiscordUserData, MessageData, OptionData, ReactionData } from './translate.js';

function userData(user: User | PartialUser, member: GuildMember | APIInteractionGuildMember | null | undefined): DiscordUserData {
  const nick = member ? ('nickname' in member ? member.nickname : (member.nick ?? null)) : null;
  return { id: user.id, username: user.username ?? user.id, globalName: user.globalName ?? null, nick: nick ?? null, bot: user.bot ?? false };
}

/** Role ids of a member, without @everyone (whose id is the guild's). */
function roleIdsOf(member: GuildMember | APIInteractionGuildMember | null | undefined, guildId: string | null): string[] {
  if (!member) return [];
  const ids = Array.isArray(member.roles) ? member.roles : [...member.roles.cache.keys()];
  return ids.filter((id) => id !== guildId);
}

function optionData(o: CommandInteractionOption): OptionData {
  return {
    name: o.name,
    type: o.type,
    ...(o.value !== undefined && o.value !== null ? { value: o.value } : {}),
    ...(o.options ? { options: o.options.map(optionData) } : {}),
    ...(o.focused ? { focused: true } : {}),
  };
}

export function commandData(i: ChatInputCommandInteraction | AutocompleteInteraction): CommandData {
  return {
    interactionId: i.id,
    commandName: i.commandName,
    channelId: i.channelId ?? '',
    inThread: i.channel?.isThread() ?? false,
    user: userData(i.user, i.member),
    roleIds: roleIdsOf(i.member, i.guildId),
    options: i.options.data.map(optionData),
  };
}

/** The member for role checks: from the cache, else fetched (cached by discord.js afterwards). */
async function memberOf(guild: Guild | null, userId: string, log: Logger): Promise<GuildMember | null> {
  if (!guild) return null;
  try {
    return guild.members.cache.get(userId) ?? (await guild.members.fetch(userId));
  } catch (err) {
    log.warn({ err, userId }, 'could not fetch a guild member; treating them as having no roles');
    return null;
  }
}

async function isThreadChannel(client: Client, channelId: string, log: Logger): Promise<boolean> {
  let channel = client.channels.cache.get(channelId) ?? null;
  if (!channel || channel.partial) {
    try {
      channel = await client.channels.fetch(channelId);
    } catch (err) {
      log.warn({ err, channelId }, 'could not fetch a channel');
      return false;
    }
  }
  return channel?.isThread() ?? false;
}

export async function messageData(client: Client, m: Message | PartialMessage, log: Logger): Promise<MessageData | null> {
  let message = m;
  if (message.partial) {
    try {
      message = await message.fetch();
    } catch (err) {
      log.warn({ err, messageId: m.id }, 'could not fetch a partial message; ignoring it');
      return null;
    }
  }
  const author = message.author;
  if (!author) return null;
  const member = message.member ?? (author.bot ? null : await memberOf(message.guild, author.id, log));
  return {
    id: message.id,
    channelId: message.channelId,
    inThread: await isThreadChannel(client, message.channelId, log),
    type: message.type,
    content: message.content ?? '',
    author: userData(author, member),
    roleIds: roleIdsOf(member, message.guildId),
    webhookId: message.webhookId ?? null,
  };
}

export async function reactionData(
  client: Client,
  reaction: MessageReaction | PartialMessageReaction,
  rawUser: User | PartialUser,
  added: boolean,
  log: Logger,
): Promise<ReactionData> {
  let user = rawUser;
  if (user.partial) {
    try {
      user = await user.fetch();
    } catch (err) {
      log.warn({ err, userId: rawUser.id }, 'could not fetch a partial user');
    }
  }
  // A reaction on a message from before a restart arrives partial: fetch the message (an add
  // only: after a removal the reaction may be gone, and its ids are all we need).
  if (added && reaction.message.partial) {
    try {
      await reaction.message.fetch();
    } catch (err) {
      log.warn({ err, messageId: reaction.message.id }, 'could not fetch the reacted message; using the ids the gateway sent');
    }
  }
  const guild = reaction.message.guild ?? (reaction.message.guildId ? (client.guilds.cache.get(reaction.message.guildId) ?? null) : null);
  const member = await memberOf(guild, user.id, log);
  return {
    messageId: reaction.message.id,
    channelId: reaction.message.channelId,
    inThread: await isThreadChannel(client, reaction.message.channelId, log),
    emoji: { id: reaction.emoji.id ?? null, name: reaction.emoji.name ?? null },
    user: userData(user, member),
    roleIds: roleIdsOf(member, guild?.id ?? null),
    added,
  };
}
