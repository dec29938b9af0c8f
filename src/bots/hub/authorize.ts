/**
 * Who may use the bot at all (start, steer and control runs, and read runs and cards):
 * ALLOWED_USERS (`platform:userId`), ALLOWED_ROLES (Discord role ids) or ALLOW_ALL_USERS. With
 * none of them set nobody may, and the refusal says how to fix that. Guests and users of other
 * organizations (`ChatUser.restricted`) must be listed by id.
 */
import type { AuthConfig } from '../../config.js';
import type { ChatUser } from './chat-types.js';

export type AuthDecision = { ok: true } | { ok: false; reason: 'unconfigured' | 'denied' | 'bot'; message: string };

export function isAuthConfigured(auth: AuthConfig): boolean {
  return auth.allowAll || auth.allowedUsers.length > 0 || auth.allowedRoles.length > 0;
}

export function authorize(user: ChatUser, auth: AuthConfig): AuthDecision {
  if (user.isBot) return { ok: false, reason: 'bot', message: 'Bots cannot control runs.' };
  if (!isAuthConfigured(auth)) {
    return {
      ok: false,
      reason: 'unconfigured',
      message:
        'Nobody is allowed to start or steer runs yet. The operator must set ' +
        `ALLOWED_USERS=${user.id} (your id) in .env — or ALLOWED_ROLES / ALLOW_ALL_USERS=true — and restart the bot.`,
    };
  }
  if (auth.allowedUsers.includes(user.id)) return { ok: true };
  if (user.restricted) {
    return {
      ok: false,
      reason: 'denied',
      message: `Guests and people from other organizations may use the bot only when listed by id: ask the operator to add ${user.id} to ALLOWED_USERS.`,
    };
  }
  if (auth.allowAll || user.roleIds.some((r) => auth.allowedRoles.includes(r))) return { ok: true };
  return {
    ok: false,
    reason: 'denied',
    message: `You are not allowed to start or steer runs here. Ask the operator to add ${user.id} to ALLOWED_USERS (or give you an allowed role).`,
  };
}
