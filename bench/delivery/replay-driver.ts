/**
 * A bench-only `AgentDriver` that replays a recorded pi run: it emits the recorded compact events
 * with their relative timing (times `scale`), then reports the recorded outcome. The RunManager,
 * event log, relay and delivery around it are the real ones. Every emission is noted (run id,
 * event, wall-clock time) so the bench can tell when each event happened.
 *
 * The replays start together once `together` agents have started (a barrier): worktree creation
 * is real git work that the time scale cannot shrink, so without it fifty runs would start ten
 * times further apart than they do in production and barely overlap. With it, the streams of all
 * runs overlap fully: the worst case for delivery.
 */
import type { AgentDriver, AgentSession, AgentStartOptions, AgentOutcome } from '../../src/core/agent/agent-driver.js';
import type { RunEventData } from '../../src/core/types.js';
import type { Recording } from './fixture.js';

export interface Emitted {
  runId: string;
  index: number;
  data: RunEventData;
  at: number;
}

export class ReplayDriver implements AgentDriver {
  readonly emitted: Emitted[] = [];
  /** Wall-clock time each run's agent was started (its first event is timed from here). */
  readonly startedAt = new Map<string, number>();

  /** When the replays were released (all `together` agents had started). */
  releasedAt: number | null = null;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly recording: Recording,
    private readonly scale: number,
    private readonly together = 1,
  ) {}

  start(o: AgentStartOptions): Promise<AgentSession> {
    this.startedAt.set(o.runId, Date.now());
    const timers = new Set<NodeJS.Timeout>();
    let finish!: (outcome: AgentOutcome) => void;
    const done = new Promise<AgentOutcome>((resolve) => (finish = resolve));
    let left = this.recording.events.length;
    let over = false;
    const end = (outcome: AgentOutcome) => {
      if (over) return;
      over = true;
      for (const t of timers) clearTimeout(t);
      finish(outcome);
    };
    const play = () => this.recording.events.forEach((e, index) => {
      if (over) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        this.emitted.push({ runId: o.runId, index, data: e.data, at: Date.now() });
        o.onEvent(e.data);
        if (--left === 0) end(this.recording.outcome);
      }, Math.round(e.atMs * this.scale));
      timers.add(timer);
    });
    this.waiting.push(play);
    if (this.waiting.length >= this.together) {
      this.releasedAt = Date.now();
      for (const go of this.waiting.splice(0)) go();
    }
    const session: AgentSession = {
      pid: undefined,
      done,
      steer: async () => undefined,
      followUp: async () => undefined,
      stop: async () => end({ ...this.recording.outcome, status: 'stopped', summary: null }),
    };
    return Promise.resolve(session);
  }
}
