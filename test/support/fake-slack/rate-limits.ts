/**
 * Rate-limit model of the fake Slack (see docs/platforms.md §2 and §5.4).
 *
 * Token buckets: a bucket holds up to `burst` tokens and regains one every `refillEveryMs`.
 * - chat.postMessage: ≈1/s per channel, every thread of the channel shares it, small burst.
 * - chat.update, reactions.add/remove: Tier 3 (~50/min) per workspace.
 * A refused call is answered HTTP 429, `Retry-After: <whole seconds>` and `{ok:false, error:'ratelimited'}`
 * (plus `X-Fake-Retry-After-Ms` with the exact wait, for tests using shrunk windows).
 * The clock is injectable (ManualClock) so tests can move time instead of sleeping.
 */

import { RateLimiterBase } from '../fake-common/rate-limiter-base.js';

export { ManualClock, systemClock, type Clock } from '../fake-common/clock.js';

export interface BucketConfig {
  /** Tokens available at once (burst size). */
  burst: number;
  /** One token comes back every `refillEveryMs`. */
  refillEveryMs: number;
}

export interface RateLimitOptions {
  /** Turn the modelled buckets off (injected 429s still apply). */
  enabled: boolean;
  /** chat.postMessage (and chat.postEphemeral), keyed by channel. */
  postMessage: BucketConfig;
  /** chat.update, per workspace (Tier 3). */
  update: BucketConfig;
  /** reactions.add / reactions.remove, per workspace (Tier 3). */
  reactions: BucketConfig;
  /** conversations.replies/info, users.info, chat.getPermalink… (Tier 3-4 in Slack; generous here). */
  reads: BucketConfig;
}

export const defaultRateLimits: RateLimitOptions = {
  enabled: true,
  postMessage: { burst: 3, refillEveryMs: 1_000 },
  update: { burst: 50, refillEveryMs: 1_200 },
  reactions: { burst: 50, refillEveryMs: 1_200 },
  reads: { burst: 100, refillEveryMs: 600 },
};

export function resolveRateLimits(partial: Partial<RateLimitOptions> | undefined): RateLimitOptions {
  return { ...defaultRateLimits, ...partial };
}

export type BucketName = 'postMessage' | 'update' | 'reactions' | 'reads';

/** Which bucket a Web API method draws from (undefined = not limited). */
export function bucketFor(method: string, params: Record<string, unknown>): { name: BucketName; key: string } | undefined {
  switch (method) {
    case 'chat.postMessage':
    case 'chat.postEphemeral':
      return { name: 'postMessage', key: `postMessage:${String(params.channel ?? '?')}` };
    case 'chat.update':
      return { name: 'update', key: 'update:workspace' };
    case 'reactions.add':
    case 'reactions.remove':
      return { name: 'reactions', key: 'reactions:workspace' };
    case 'conversations.replies':
    case 'reactions.get':
    case 'conversations.info':
    case 'users.info':
    case 'chat.getPermalink':
      return { name: 'reads', key: `reads:${method}` };
    default:
      return undefined;
  }
}

/** A forced 429 a test asks for (e.g. "the next chat.postMessage is refused for 30 s"). */
export interface InjectedRateLimit {
  method: string | RegExp;
  retryAfterMs: number;
  times?: number;
}

export interface RateLimitDecision {
  ok: boolean;
  bucketKey?: string;
  retryAfterMs?: number;
  injected?: boolean;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class RateLimiter extends RateLimiterBase<RateLimitOptions, InjectedRateLimit> {
  private readonly buckets = new Map<string, Bucket>();

  /** Check (and on success consume) one call of `method`. */
  take(method: string, params: Record<string, unknown>): RateLimitDecision {
    const rule = this.injected.take((r) => (typeof r.method === 'string' ? r.method === method : r.method.test(method)));
    const ref = bucketFor(method, params);
    if (rule) {
      return { ok: false, bucketKey: ref?.key ?? `injected:${method}`, retryAfterMs: rule.retryAfterMs, injected: true };
    }
    if (!this.options.enabled || !ref) return { ok: true, bucketKey: ref?.key };
    const config = this.options[ref.name];
    const now = this.clock.now();
    let bucket = this.buckets.get(ref.key);
    if (!bucket) {
      bucket = { tokens: config.burst, updatedAt: now };
      this.buckets.set(ref.key, bucket);
    }
    const elapsed = Math.max(0, now - bucket.updatedAt);
    const regained = Math.floor(elapsed / config.refillEveryMs);
    if (regained > 0) {
      bucket.tokens = Math.min(config.burst, bucket.tokens + regained);
      bucket.updatedAt = bucket.tokens === config.burst ? now : bucket.updatedAt + regained * config.refillEveryMs;
    }
    if (bucket.tokens >= 1) {
      if (bucket.tokens === config.burst) bucket.updatedAt = now;
      bucket.tokens -= 1;
      return { ok: true, bucketKey: ref.key };
    }
    return { ok: false, bucketKey: ref.key, retryAfterMs: Math.max(1, bucket.updatedAt + config.refillEveryMs - now) };
  }
}

/** Slack's Retry-After is whole seconds (WebClient parses it with parseInt): never 0 for a refused call. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
