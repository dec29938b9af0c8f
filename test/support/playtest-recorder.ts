/**
 * Records the events Playtests emits, per run, and resolves waiters when a matching event
 * arrives (tests await these real signals instead of sleeping).
 */
import type { RunEventData } from '../../src/core/types.js';

export type PlaytestEvent = Extract<RunEventData, { type: 'playtest' }>;
export type MediaEvent = Extract<RunEventData, { type: 'playtest_media' }>;

export class PlaytestRecorder {
  readonly events: { runId: string; data: RunEventData }[] = [];
  private waiters: { runId: string; match: (e: RunEventData) => boolean; resolve: (e: RunEventData) => void }[] = [];

  readonly onEvent = (runId: string, data: RunEventData): void => {
    this.events.push({ runId, data });
    this.waiters = this.waiters.filter((w) => {
      if (w.runId !== runId || !w.match(data)) return true;
      w.resolve(data);
      return false;
    });
  };

  all(runId: string): RunEventData[] {
    return this.events.filter((e) => e.runId === runId).map((e) => e.data);
  }

  /** The run's `playtest` events. */
  of(runId: string): PlaytestEvent[] {
    return this.all(runId).filter((e): e is PlaytestEvent => e.type === 'playtest');
  }

  media(runId: string): MediaEvent[] {
    return this.all(runId).filter((e): e is MediaEvent => e.type === 'playtest_media');
  }

  /** The first event (past or future) of `runId` that matches. */
  waitForAny(runId: string, match: (e: RunEventData) => boolean, after = 0): Promise<RunEventData> {
    const seen = this.all(runId).slice(after).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ runId, match, resolve }));
  }

  /** The first `playtest` event (past or future) of `runId` that matches. */
  async waitFor(runId: string, match: (e: PlaytestEvent) => boolean): Promise<PlaytestEvent> {
    return (await this.waitForAny(runId, (e) => e.type === 'playtest' && match(e))) as PlaytestEvent;
  }

  /** The next `playtest_media` event of `runId` after the `after`-th event. */
  async nextMedia(runId: string, after = 0): Promise<MediaEvent> {
    return (await this.waitForAny(runId, (e) => e.type === 'playtest_media', after)) as MediaEvent;
  }

  ended(runId: string): Promise<PlaytestEvent> {
    return this.waitFor(runId, (e) => e.phase === 'exited' || e.phase === 'failed');
  }
}
