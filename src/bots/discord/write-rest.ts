/**
 * The REST client the Discord port writes with, apart from the gateway client's (which the
 * receiver uses for reads, interactions and catch-up). Delivery owns every retry of a write, so
 * this client makes none of its own and throws instead of waiting:
 * - `retries: 0`: @discordjs/rest would otherwise repeat a request at once on a 5xx, a timeout
 *   or a reset (docs/platforms.md §1.6), up to 4 requests, and hold the row for 4 timeouts
 *   before delivery heard of it; delivery backs off instead, and creates carry a nonce.
 * - `timeout`: a request with no answer (a hung platform) fails as a timeout (`AbortError`,
 *   transient) after this long, so a stream is never stuck on one request.
 * - `rejectOnRateLimit`: a wait longer than `rejectOverMs` (a 429 with a Retry-After of minutes,
 *   a thread-creation limit) throws a `RateLimitError` with the wait; delivery reschedules the row
 *   at that time while other threads go on. Shorter waits are slept here.
 */
import { REST } from 'discord.js';
import type { DiscordConfig } from '../../config.js';
import { REJECT_RATE_LIMIT_OVER_MS, WRITE_TIMEOUT_MS } from './limits.js';

export interface WriteRestOptions {
  rejectOverMs?: number;
  timeoutMs?: number;
}

export function createWriteRest(discord: Pick<DiscordConfig, 'token' | 'apiBase'>, opts: WriteRestOptions = {}): REST {
  const rejectOverMs = opts.rejectOverMs ?? REJECT_RATE_LIMIT_OVER_MS;
  return new REST({
    ...(discord.apiBase ? { api: discord.apiBase } : {}),
    retries: 0,
    timeout: opts.timeoutMs ?? WRITE_TIMEOUT_MS,
    rejectOnRateLimit: (data) => Math.max(data.retryAfter, data.timeToReset) > rejectOverMs,
  }).setToken(discord.token);
}
