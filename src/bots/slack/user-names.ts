/**
 * Who a Slack user is, looked up once with `users.info` (scope `users:read`) and cached: the
 * display name ("stopped by Ada") and whether they are restricted — a guest, or a user of another
 * organization (Slack Connect). A failed lookup falls back to the name Slack gave (slash commands
 * carry `user_name`) or the user id, never fails the event, and counts as restricted: the bot
 * cannot vouch for someone it could not look up, so only ALLOWED_USERS lets them in.
 */
import type { webApi } from '@slack/bolt';
import type { Logger } from 'pino';

type UsersClient = { users: Pick<InstanceType<typeof webApi.WebClient>['users'], 'info'> };

/** Cache entries for at most this long, so renamed users show their new name eventually. */
const TTL_MS = 60 * 60 * 1000;

export interface SlackUserInfo {
  name: string;
  restricted: boolean;
}

export class UserNames {
  private readonly cache = new Map<string, SlackUserInfo & { at: number }>();
  private warned = false;

  constructor(
    private readonly client: UsersClient,
    private readonly log: Logger,
    /** The bot's own workspace (auth.test): users of any other are restricted. */
    private readonly teamId: string | null,
  ) {}

  async of(userId: string, fallback?: string): Promise<SlackUserInfo> {
    const hit = this.cache.get(userId);
    if (hit && Date.now() - hit.at < TTL_MS) return hit;
    try {
      const res = await this.client.users.info({ user: userId });
      const u = res.user as (NonNullable<typeof res.user> & { is_stranger?: boolean }) | undefined;
      const name = u?.profile?.display_name || u?.real_name || u?.profile?.real_name || u?.name || fallback || userId;
      const otherTeam = this.teamId !== null && Boolean(u?.team_id) && u?.team_id !== this.teamId;
      const restricted = !u || Boolean(u.is_restricted || u.is_ultra_restricted || u.is_stranger) || otherTeam;
      const info = { name, restricted, at: Date.now() };
      this.cache.set(userId, info);
      return info;
    } catch (err) {
      if (!this.warned) {
        this.warned = true;
        this.log.warn({ err }, 'users.info failed (is the users:read scope granted?); showing user ids instead of names, and only ALLOWED_USERS may use the bot');
      }
      return { name: fallback || userId, restricted: true };
    }
  }
}
