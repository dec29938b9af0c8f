/**
 * The one place bottleneck is configured. Three tiers, numbers from the port's `limits`:
 * a lane per thread (one request at a time, strict order, paced), a limiter per destination
 * channel (posts and edits per window), and one process-wide limiter (requests per second).
 * The bot's reactions and thread creations have buckets of their own on the platforms, so they
 * pass their own limiters (and the global one), not the channel's: twenty runs starting in one
 * channel do not queue their reactions behind each other's posts.
 */
import Bottleneck from 'bottleneck';
import type { ChatLimits } from './chat-types.js';

export class DeliveryLanes {
  private readonly threads = new Map<string, Bottleneck>();
  private readonly channels = new Map<string, Bottleneck>();
  private readonly global: Bottleneck;
  private readonly reactions: Bottleneck;
  private readonly threadCreates: Bottleneck;
  /** Only when the platform budgets edits apart from posts (`limits.editIntervalMs`). */
  private readonly edits: Bottleneck | null;

  constructor(private readonly limits: ChatLimits) {
    this.global = new Bottleneck({ maxConcurrent: null, minTime: Math.ceil(1000 / Math.max(1, limits.globalPerSecond)) });
    this.reactions = new Bottleneck({ maxConcurrent: 1, minTime: limits.reactionIntervalMs });
    this.threadCreates = new Bottleneck({ maxConcurrent: 1, minTime: this.channelInterval() });
    this.edits = limits.editIntervalMs === undefined ? null : new Bottleneck({ maxConcurrent: 1, minTime: limits.editIntervalMs });
  }

  private channelInterval(): number {
    return Math.ceil(this.limits.channelWindowMs / Math.max(1, this.limits.channelPostsPerWindow));
  }

  /**
   * Runs `job` in the thread's lane. The lane admits one job at a time, so a job may itself wait
   * for the channel and global limiters (`call`) without letting a later row overtake it.
   */
  inLane<T>(threadKey: string, job: () => Promise<T>): Promise<T> {
    let lane = this.threads.get(threadKey);
    if (!lane) {
      lane = new Bottleneck({ maxConcurrent: 1, minTime: this.limits.threadMinIntervalMs });
      this.threads.set(threadKey, lane);
    }
    return lane.schedule(job);
  }

  /**
   * One platform request: posts (and edits, unless the platform budgets them apart) are paced
   * by their channel, reactions and thread creations by their own limiters; everything by the
   * global limiter.
   */
  call<T>(channel: string, kind: 'post' | 'edit' | 'reaction' | 'thread', request: () => Promise<T>): Promise<T> {
    const viaGlobal = () => this.global.schedule(request);
    if (kind === 'reaction') return this.reactions.schedule(viaGlobal);
    if (kind === 'thread') return this.threadCreates.schedule(viaGlobal);
    if (kind === 'edit' && this.edits) return this.edits.schedule(viaGlobal);
    let ch = this.channels.get(channel);
    if (!ch) {
      ch = new Bottleneck({ maxConcurrent: 1, minTime: this.channelInterval() });
      this.channels.set(channel, ch);
    }
    return ch.schedule(viaGlobal);
  }

  /** Forgets a lane that has nothing queued (threads come and go). */
  release(threadKey: string): void {
    const lane = this.threads.get(threadKey);
    if (lane && lane.counts().QUEUED === 0 && lane.counts().RUNNING === 0 && lane.counts().EXECUTING === 0) this.threads.delete(threadKey);
  }

  async stop(): Promise<void> {
    const all = [...this.threads.values(), ...this.channels.values(), this.global, this.reactions, this.threadCreates, ...(this.edits ? [this.edits] : [])];
    await Promise.all(all.map((l) => l.stop({ dropWaitingJobs: false }).catch(() => undefined)));
  }
}
