/**
 * Display names for Slack users ("stopped by Ada"), looked up once with `users.info` (scope
 * `users:read`) and cached. A failed lookup falls back to the name Slack gave (slash commands
 * carry `user_name`) or the user id, and never fails the event.
 */
import type { webApi } from '@slack/bolt';
import type { Logger } from 'pino';

type UsersClient = { users: Pick<InstanceType<typeof webApi.WebClient>['users'], 'info'> };

/** Cache entries for at most this long, so renamed users show their new name eventually. */
const TTL_MS = 60 * 60 * 1000;

export class UserNames {
  private readonly cache = new Map<string, { name: string; at: number }>();
  private warned = false;

  constructor(
    private readonly client: UsersClient,
    private readonly log: Logger,
  ) {}

  async of(userId: string, fallback?: string): Promise<string> {
    const hit = this.cache.get(userId);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.name;
    try {
      const res = await this.client.users.info({ user: userId });
      const u = res.user;
      const name = u?.profile?.display_name || u?.real_name || u?.profile?.real_name || u?.name || fallback || userId;
      this.cache.set(userId, { name, at: Date.now() });
      return name;
    } catch (err) {
      if (!this.warned) {
        this.warned = true;
        this.log.warn({ err }, 'users.info failed (is the users:read scope granted?); showing user ids instead of names');
      }
      return fallback || userId;
    }
  }
}
