/**
 * The pacing policy, in one place: which budget a request to a chat platform draws on, in what
 * order waiting requests go (priorities), how fast a run's live status is edited, and what a
 * failed request waits before it is tried again (`Retry-After`, backoff). The numbers come from
 * each platform's `ChatLimits` (docs/platforms.md); bottleneck is configured here and nowhere else.
 *
 * Budgets, per platform:
 * - posts: a sliding window per thread (Discord) or per channel (Slack), so bursts use what the
 *   platform allows (Discord 5 per 5 s) and never exceed it, wherever its window starts;
 * - edits: the post window of their thread (Discord) or a workspace-wide tier (Slack);
 * - reactions and thread creations: budgets of their own, never the channel's posts;
 * - history reads (catch-up after a restart): a workspace-wide tier where the platform has one;
 * - uploads: a post of their channel or thread, and, where the platform's upload calls have a
 *   tier of their own (Slack), that workspace-wide budget too;
 * - a process-wide requests-per-second cap under the platform's global limit.
 */
import Bottleneck from 'bottleneck';
import type { ChatLimits, DeliveryErrorClass, WindowBudget } from './chat-types.js';

/** What a request is, for choosing its budget. */
export type RequestKind = 'post' | 'edit' | 'reaction' | 'thread' | 'read' | 'upload';

/**
 * Priorities of outbox rows, 0 first. Within one thread the outbox keeps its order; these decide
 * who goes first where threads share a budget (a Slack channel, the global cap).
 */
export const PRIORITY = {
  /** A run's header and its thread: the run is visible and controllable as soon as possible. */
  header: 1,
  /** Answers to a person: acknowledgement of a steer, a stop, a refusal; a run's final result. */
  reply: 2,
  /** A run's live status message (created once). */
  status: 3,
  /** Digests of what the agent did. */
  digest: 5,
  /** Team-channel notifications. */
  notify: 6,
  /** The control reactions on a header: affordances never delay content. */
  affordance: 9,
} as const;

/** Backoff for transient failures (exponential from `backoffBaseMs`, capped at `backoffMaxMs`). */
export interface RetryOptions {
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

/** The longest wait between two tries of a row the platform failed transiently (an outage). */
export const BACKOFF_MAX_MS = 30_000;

export type RetryDecision = { retry: true; waitMs: number; countsAsAttempt: boolean } | { retry: false; reason: string };

/**
 * What delivery does after a failed request of a row that has been tried `attempts` times. A rate
 * limit waits exactly its `Retry-After` (not an attempt); a transient error (5xx, timeout, reset)
 * backs off and is tried again for as long as it takes: an outage of minutes or hours delays a
 * thread and loses nothing. Only a permanent refusal (a 4xx that says so, e.g. the thread or the
 * channel is gone, the bot lacks access) gives the row up.
 */
export function retryDecision(error: DeliveryErrorClass, attempts: number, opts: RetryOptions = {}): RetryDecision {
  // A rate limit is the platform asking us to wait exactly this long; it is not a failed attempt.
  if (error.kind === 'rate_limited') return { retry: true, waitMs: error.retryAfterMs, countsAsAttempt: false };
  if (error.kind === 'transient') {
    const exponent = Math.min(30, Math.max(0, attempts - 1));
    const waitMs = Math.min(opts.backoffMaxMs ?? BACKOFF_MAX_MS, (opts.backoffBaseMs ?? 1000) * 2 ** exponent);
    return { retry: true, waitMs, countsAsAttempt: true };
  }
  if (error.kind === 'stale_edit') return { retry: false, reason: 'the platform no longer lets this message be edited' };
  return { retry: false, reason: error.reason };
}

/**
 * How often one run's live status message may be edited when `liveRuns` runs of the platform
 * are being shown: edits that share a workspace-wide tier are spread over the runs.
 */
export function statusEditIntervalMs(limits: ChatLimits, liveRuns: number): number {
  if (limits.edits === 'posts') return limits.statusEditMinIntervalMs;
  const perRun = (limits.edits.windowMs * Math.max(1, liveRuns)) / limits.edits.count;
  return Math.max(limits.statusEditMinIntervalMs, Math.round(perRun));
}

/**
 * The same limits with every time window multiplied by `factor` (counts and sizes unchanged),
 * for a fake platform whose windows are shrunk by the same factor: the ratios stay the platform's.
 */
export function scaleLimits(limits: ChatLimits, factor: number): ChatLimits {
  const t = (ms: number): number => Math.max(1, Math.round(ms * factor));
  const w = (b: WindowBudget): WindowBudget => ({ ...b, windowMs: t(b.windowMs) });
  return {
    ...limits,
    posts: w(limits.posts),
    edits: limits.edits === 'posts' ? 'posts' : w(limits.edits),
    reactions: w(limits.reactions),
    threadCreates: limits.threadCreates && w(limits.threadCreates),
    reads: limits.reads && w(limits.reads),
    ...(limits.uploads ? { uploads: { ...limits.uploads, calls: limits.uploads.calls && w(limits.uploads.calls) } } : {}),
    statusEditMinIntervalMs: t(limits.statusEditMinIntervalMs),
  };
}

/** Where a request lands, for its budget: the thread (Discord posts) or the channel (Slack posts). */
export interface Destination {
  platform: string;
  limits: ChatLimits;
  kind: RequestKind;
  channel: string;
  thread: string | null;
}

export class Pacer {
  private readonly windows = new Map<string, Bottleneck>();
  private readonly globals = new Map<string, Bottleneck>();
  /** Slots waiting out their window; released at once on stop. */
  private readonly holds = new Set<() => void>();
  private stopped = false;

  /**
   * Runs `request` when the budget of `dest` allows, before waiting requests of a lower priority
   * (a higher number). Rejects if the pacer stops first.
   */
  schedule<T>(dest: Destination, priority: number, request: () => Promise<T>): Promise<T> {
    if (this.stopped) return Promise.reject(new Error('delivery is stopping'));
    const { key, budget } = this.budgetOf(dest);
    // The window counts from when the request really leaves (after the global cap let it go).
    let sentAt = 0;
    const timed = () => {
      sentAt = Date.now();
      return request();
    };
    const viaGlobal = () => this.globalOf(dest).schedule(timed);
    const inBudget = budget ? () => this.inWindow(key, budget, priority, viaGlobal, () => sentAt) : viaGlobal;
    // An upload's own calls wait for their workspace budget first, so they never hold a channel's post slot meanwhile.
    const calls = dest.kind === 'upload' ? dest.limits.uploads?.calls : null;
    if (calls) return this.inWindow(`${dest.platform}|uploads`, calls, priority, inBudget, () => sentAt);
    return inBudget();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const release of this.holds) release();
    this.holds.clear();

    const all = [...this.windows.values(), ...this.globals.values()];
    await Promise.all(all.map((l) => l.stop({ dropWaitingJobs: true }).catch(() => undefined)));
  }

  private budgetOf(d: Destination): { key: string; budget: WindowBudget | null } {
    const { limits } = d;
    switch (d.kind) {
      case 'reaction':
        return { key: `${d.platform}|reactions`, budget: limits.reactions };
      case 'thread':
        return { key: `${d.platform}|threads`, budget: limits.threadCreates };
      case 'read':
        return { key: `${d.platform}|reads`, budget: limits.reads ?? null };
      case 'edit':
      case 'upload':
      case 'post': {
        // Edits that do not have a tier of their own count against the post bucket.
        if (d.kind === 'edit' && limits.edits !== 'posts') return { key: `${d.platform}|edits`, budget: limits.edits };
        const where = limits.postScope === 'thread' ? (d.thread ?? d.channel) : d.channel;
        return { key: `${d.platform}|posts|${where}`, budget: limits.posts };
      }
    }
  }

  private globalOf(d: Destination): Bottleneck {
    let g = this.globals.get(d.platform);
    if (!g) {
      g = new Bottleneck({ maxConcurrent: null, minTime: Math.ceil(1000 / Math.max(1, d.limits.globalPerSecond)) });
      this.globals.set(d.platform, g);
    }
    return g;
  }

  /**
   * A sliding window on bottleneck: `count` slots, each held from a request's start until
   * `windowMs` later, so no `windowMs` ever sees more than `count` requests. The caller gets the
   * request's answer as soon as it comes; only the slot waits out the window.
   */
  private inWindow<T>(key: string, budget: WindowBudget, priority: number, request: () => Promise<T>, sentAt: () => number): Promise<T> {
    let limiter = this.windows.get(key);
    if (!limiter) {
      limiter = new Bottleneck({ maxConcurrent: budget.count });
      this.windows.set(key, limiter);
    }
    return new Promise<T>((resolve, reject) => {
      limiter
        .schedule({ priority: Math.min(9, Math.max(0, priority)) }, async () => {
          const answer = request();
          answer.then(resolve, reject);
          await answer.catch(() => undefined);
          const rest = (sentAt() || Date.now()) + budget.windowMs - Date.now();
          if (rest > 0 && !this.stopped) await this.hold(rest);
        })
        .catch(reject);
    });
  }

  private hold(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const release = () => {
        clearTimeout(timer);
        this.holds.delete(release);
        resolve();
      };
      const timer = setTimeout(release, ms);
      this.holds.add(release);
    });
  }
}
