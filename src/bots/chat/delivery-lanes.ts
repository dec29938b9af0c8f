/**
 * The one place bottleneck is configured. Three tiers, numbers from the port's `limits`:
 * a lane per thread (one request at a time, strict order, paced), a limiter per destination
 * channel (posts per window), and one process-wide limiter (requests per second); reactions by
 * the bot go through one more, slower limiter.
 */
import Bottleneck from 'bottleneck';
import type { ChatLimits } from './chat-types.js';

export class DeliveryLanes {
  private readonly threads = new Map<string, Bottleneck>();
  private readonly channels = new Map<string, Bottleneck>();
  private readonly global: Bottleneck;
  private readonly reactions: Bottleneck;

  constructor(private readonly limits: ChatLimits) {
    this.global = new Bottleneck({ maxConcurrent: null, minTime: Math.ceil(1000 / Math.max(1, limits.globalPerSecond)) });
    this.reactions = new Bottleneck({ maxConcurrent: 1, minTime: limits.reactionIntervalMs });
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

  /** One platform request to `channel`, paced by the channel, the global and (for reactions) the reaction limiter. */
  call<T>(channel: string, kind: 'message' | 'reaction', request: () => Promise<T>): Promise<T> {
    let ch = this.channels.get(channel);
    if (!ch) {
      const per = Math.max(1, this.limits.channelPostsPerWindow);
      ch = new Bottleneck({ maxConcurrent: 1, minTime: Math.ceil(this.limits.channelWindowMs / per) });
      this.channels.set(channel, ch);
    }
    const viaGlobal = () => this.global.schedule(request);
    return kind === 'reaction' ? this.reactions.schedule(() => ch.schedule(viaGlobal)) : ch.schedule(viaGlobal);
  }

  /** Forgets a lane that has nothing queued (threads come and go). */
  release(threadKey: string): void {
    const lane = this.threads.get(threadKey);
    if (lane && lane.counts().QUEUED === 0 && lane.counts().RUNNING === 0 && lane.counts().EXECUTING === 0) this.threads.delete(threadKey);
  }

  async stop(): Promise<void> {
    const all = [...this.threads.values(), ...this.channels.values(), this.global, this.reactions];
    await Promise.all(all.map((l) => l.stop({ dropWaitingJobs: false }).catch(() => undefined)));
  }
}
