/**
 * What the fakes' rate limiters share: their options, the clock their windows/buckets are measured on,
 * and the 429s a test injects. The bucket model itself (Discord fixed windows and headers, Slack token
 * buckets and whole-second Retry-After) stays in each fake.
 */
import type { Clock } from './clock.js';
import { CountedRules } from './counted-rules.js';

export abstract class RateLimiterBase<Options, Injected extends { times?: number }> {
  protected readonly injected = new CountedRules<Injected>();

  constructor(
    readonly options: Options,
    protected readonly clock: Clock,
  ) {}

  /** Refuse the next `rule.times` (default 1) matching requests, whatever the buckets say. */
  inject(rule: Injected): void {
    this.injected.add(rule);
  }
}
