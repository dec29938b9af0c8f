/**
 * Rate-limit model of the fake Discord (see docs/platforms.md §1.1).
 *
 * Fixed-window buckets: the first request opens a window of `windowMs`; at most `limit`
 * requests pass in it. The clock is injectable so tests can shrink or drive windows;
 * by default real time is used because discord.js waits on the headers in real time.
 */

import { RateLimiterBase } from '../fake-common/rate-limiter-base.js';

export { ManualClock, systemClock, type Clock } from '../fake-common/clock.js';

export interface BucketConfig {
  limit: number;
  windowMs: number;
}

export interface RateLimitOptions {
  /** Turn all modelled buckets off (injected 429s still apply). */
  enabled: boolean;
  /** POST /channels/{id}/messages, per channel (a thread is its own channel). Observed 5 / 5 s. */
  channelMessages: BucketConfig;
  /** When true (default) message edits count in the same per-channel bucket as creates. */
  editsShareChannelBucket: boolean;
  /** Used for PATCH /channels/{id}/messages/{mid} when editsShareChannelBucket is false. */
  messageEdits: BucketConfig;
  /** Reactions PUT/DELETE by the bot, per account. Observed ≈1 per 250 ms. */
  reactions: BucketConfig;
  /** Thread creation, per guild. */
  threadCreate: BucketConfig;
  /** Global per bot token (interaction/webhook routes are exempt). */
  global: BucketConfig;
}

export const defaultRateLimits: RateLimitOptions = {
  enabled: true,
  channelMessages: { limit: 5, windowMs: 5_000 },
  editsShareChannelBucket: true,
  messageEdits: { limit: 5, windowMs: 5_000 },
  reactions: { limit: 1, windowMs: 250 },
  threadCreate: { limit: 10, windowMs: 10_000 },
  global: { limit: 50, windowMs: 1_000 },
};

export function resolveRateLimits(partial: Partial<RateLimitOptions> | undefined): RateLimitOptions {
  return { ...defaultRateLimits, ...partial };
}

export type RateLimitScope = 'user' | 'global' | 'shared';

/** The bucket a request falls into (computed by the route table). */
export interface BucketRef {
  /** Key of the counter, e.g. `messages:<channelId>` (includes the major parameter). */
  key: string;
  /** Value of X-RateLimit-Bucket (shared between routes that share a bucket). */
  hash: string;
  config: BucketConfig;
}

export interface BucketState {
  limit: number;
  remaining: number;
  resetAt: number;
}

export interface RateLimitDecision {
  ok: boolean;
  bucket?: BucketRef;
  state?: BucketState;
  scope?: RateLimitScope;
  global?: boolean;
  retryAfterMs?: number;
}

/** A one-shot (or n-shot) 429 a test asks for, e.g. to simulate a minutes-long thread-create limit. */
export interface InjectedRateLimit {
  method?: string;
  path: RegExp;
  retryAfterMs: number;
  scope?: RateLimitScope;
  global?: boolean;
  times?: number;
}

interface Window {
  start: number;
  count: number;
}

export class RateLimiter extends RateLimiterBase<RateLimitOptions, InjectedRateLimit> {
  private readonly windows = new Map<string, Window>();

  /** Peek (and on success consume) one request. `countGlobal` is false for interaction/webhook routes. */
  take(method: string, path: string, bucket: BucketRef | undefined, countGlobal: boolean): RateLimitDecision {
    const now = this.clock.now();
    const rule = this.injected.take((r) => (!r.method || r.method === method) && r.path.test(path));
    if (rule) {
      // A `shared` limit is the resource's, not the route bucket's: the bucket is not reported spent.
      const spent = (rule.scope ?? 'shared') !== 'shared' || rule.global;
      return {
        ok: false,
        bucket: spent ? bucket : undefined,
        state: bucket && spent ? { limit: bucket.config.limit, remaining: 0, resetAt: now + rule.retryAfterMs } : undefined,
        scope: rule.global ? 'global' : (rule.scope ?? 'shared'),
        global: rule.global ?? false,
        retryAfterMs: rule.retryAfterMs,
      };
    }
    if (!this.options.enabled) return { ok: true };
    if (countGlobal) {
      const g = this.window('global', this.options.global, now);
      if (g.count >= this.options.global.limit) {
        return { ok: false, scope: 'global', global: true, retryAfterMs: g.start + this.options.global.windowMs - now };
      }
    }
    if (bucket) {
      const w = this.window(bucket.key, bucket.config, now);
      const resetAt = w.start + bucket.config.windowMs;
      if (w.count >= bucket.config.limit) {
        return {
          ok: false,
          bucket,
          state: { limit: bucket.config.limit, remaining: 0, resetAt },
          scope: 'user',
          global: false,
          retryAfterMs: resetAt - now,
        };
      }
      w.count += 1;
      if (countGlobal) this.window('global', this.options.global, now).count += 1;
      return { ok: true, bucket, state: { limit: bucket.config.limit, remaining: bucket.config.limit - w.count, resetAt } };
    }
    if (countGlobal) this.window('global', this.options.global, now).count += 1;
    return { ok: true };
  }

  private window(key: string, config: BucketConfig, now: number): Window {
    let w = this.windows.get(key);
    if (!w || now >= w.start + config.windowMs) {
      w = { start: now, count: 0 };
      this.windows.set(key, w);
    }
    return w;
  }
}

/** Headers Discord puts on responses of a bucketed route (and on 429s). */
export function rateLimitHeaders(decision: RateLimitDecision, now: number): Record<string, string> {
  const headers: Record<string, string> = {};
  if (decision.bucket && decision.state) {
    const { limit, remaining, resetAt } = decision.state;
    headers['X-RateLimit-Limit'] = String(limit);
    headers['X-RateLimit-Remaining'] = String(Math.max(0, remaining));
    headers['X-RateLimit-Reset'] = (resetAt / 1000).toFixed(3);
    headers['X-RateLimit-Reset-After'] = (Math.max(0, resetAt - now) / 1000).toFixed(3);
    headers['X-RateLimit-Bucket'] = decision.bucket.hash;
  }
  if (!decision.ok) {
    const seconds = Math.max(0.001, (decision.retryAfterMs ?? 0) / 1000);
    headers['Retry-After'] = seconds.toFixed(3);
    headers['X-RateLimit-Scope'] = decision.scope ?? 'user';
    if (decision.global) headers['X-RateLimit-Global'] = 'true';
  }
  return headers;
}
