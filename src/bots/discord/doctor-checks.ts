/**
 * `chatops doctor` for Discord: the token is accepted (`GET /users/@me`), the application has the
 * Message Content intent, the bot is in DISCORD_GUILD_ID with the permissions it uses, and the
 * notification channel is in that server. Read-only REST calls through discord.js's REST client.
 */
import { ApplicationFlags, DiscordAPIError, PermissionFlagsBits, REST, Routes } from 'discord.js';
import { fail, pass, type CheckResult } from '../../cli/check-result.js';
import type { DiscordConfig } from '../../config.js';
import { errorText } from '../../core/errors.js';

/** What the bot does in a server (README, Discord step 3). */
export const NEEDED_PERMISSIONS: Record<string, bigint> = {
  'View Channels': PermissionFlagsBits.ViewChannel,
  'Send Messages': PermissionFlagsBits.SendMessages,
  'Send Messages in Threads': PermissionFlagsBits.SendMessagesInThreads,
  'Create Public Threads': PermissionFlagsBits.CreatePublicThreads,
  'Read Message History': PermissionFlagsBits.ReadMessageHistory,
  'Add Reactions': PermissionFlagsBits.AddReactions,
};

const MESSAGE_CONTENT = ApplicationFlags.GatewayMessageContent | ApplicationFlags.GatewayMessageContentLimited;

const status = (err: unknown): number | null => (err instanceof DiscordAPIError ? err.status : null);

export async function discordDoctorChecks(config: DiscordConfig): Promise<CheckResult[]> {
  const rest = new REST({ ...(config.apiBase ? { api: config.apiBase } : {}), retries: 1 }).setToken(config.token);
  try {
    return await checks(rest, config);
  } finally {
    rest.clearHashSweeper();
    rest.clearHandlerSweeper();
  }
}

async function checks(rest: REST, config: DiscordConfig): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  let me: { id: string; username: string };
  try {
    me = (await rest.get(Routes.user('@me'))) as typeof me;
  } catch (err) {
    const fix = 'Developer Portal → your application → Bot → Reset Token, and put the new token in DISCORD_TOKEN';
    return [fail('Discord token', status(err) === 401 ? 'rejected by Discord (401 Unauthorized)' : errorText(err), fix)];
  }
  out.push(pass('Discord token', `accepted: logged in as ${me.username}`));

  const app = (await rest.get(Routes.currentApplication())) as { flags?: number };
  out.push(
    (app.flags ?? 0) & MESSAGE_CONTENT
      ? pass('Discord intents', 'Message Content intent is on')
      : fail('Discord intents', 'the Message Content intent is off: thread replies would arrive empty', 'Developer Portal → Bot → Privileged Gateway Intents → turn on Message Content Intent'),
  );

  const invite = 'invite the bot with the OAuth2 URL Generator (scopes bot and applications.commands; README, Discord step 3)';
  try {
    await rest.get(Routes.guild(config.guildId));
  } catch (err) {
    out.push(fail('Discord server', `the bot is not in server ${config.guildId} (${status(err) ?? errorText(err)})`, `check DISCORD_GUILD_ID, or ${invite}`));
    return out;
  }
  const member = (await rest.get(Routes.guildMember(config.guildId, me.id))) as { roles: string[] };
  const roles = (await rest.get(Routes.guildRoles(config.guildId))) as Array<{ id: string; permissions: string }>;
  let perms = 0n;
  for (const role of roles) if (role.id === config.guildId || member.roles.includes(role.id)) perms |= BigInt(role.permissions);
  const missing = perms & PermissionFlagsBits.Administrator ? [] : Object.entries(NEEDED_PERMISSIONS).filter(([, bit]) => !(perms & bit)).map(([name]) => name);
  out.push(
    missing.length === 0
      ? pass('Discord server', `in server ${config.guildId} with the permissions it uses`)
      : fail('Discord server', `in server ${config.guildId} but missing: ${missing.join(', ')}`, `give the bot's role these permissions (Server Settings → Roles), or ${invite}`),
  );

  if (config.notifyChannelId) {
    try {
      const channel = (await rest.get(Routes.channel(config.notifyChannelId))) as { guild_id?: string; name?: string };
      out.push(
        channel.guild_id === config.guildId
          ? pass('Discord notification channel', `#${channel.name ?? config.notifyChannelId} is visible to the bot`)
          : fail('Discord notification channel', `${config.notifyChannelId} is not in server ${config.guildId}`, 'set DISCORD_NOTIFY_CHANNEL_ID to a channel of that server (right-click → Copy Channel ID)'),
      );
    } catch (err) {
      out.push(
        fail('Discord notification channel', `the bot cannot see channel ${config.notifyChannelId} (${status(err) ?? errorText(err)})`, 'check DISCORD_NOTIFY_CHANNEL_ID and let the bot\'s role view that channel'),
      );
    }
  }
  return out;
}
