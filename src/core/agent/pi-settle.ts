/**
 * "Has the run settled?" for pi 0.73/0.74, which has no settled event (pi-rpc.md §8.3):
 *
 * 1. wait for a terminal event (`agent_end`, `compaction_end`, `auto_retry_end`);
 * 2. send `get_state` as a barrier;
 * 3. settled iff since that terminal event there was no `agent_start`, `auto_retry_start` or
 *    `compaction_start`, the last `compaction_end` had `willRetry: false`, and the state says
 *    `isStreaming: false` and `isCompacting: false`.
 *
 * The tracker also knows whether the agent is inside a retry back-off or a compaction, which
 * decides how a steer/follow-up is delivered (see PiSession.deliver).
 */

const TERMINAL = new Set(['agent_end', 'compaction_end', 'auto_retry_end']);
const RESTART = new Set(['agent_start', 'auto_retry_start', 'compaction_start']);

export interface BarrierState {
  isStreaming: boolean;
  isCompacting: boolean;
  pendingMessageCount: number;
}

export type SettleVerdict = 'settled' | 'busy' | 'pending_messages';

export class SettleTracker {
  /** Count of restart events seen so far. */
  private restarts = 0;
  /** `restarts` as it was at the latest terminal event, or null before the first one. */
  private restartsAtTerminal: number | null = null;
  private compactionWillRetry = false;
  /** Inside an agent loop (agent_start .. agent_end). */
  inAgent = false;
  /** Between auto_retry_start and the retry's agent_start (or auto_retry_end). */
  retrying = false;
  compacting = false;

  /** Feeds one wire event; returns true when it is a terminal event (time for a barrier). */
  observe(event: Record<string, unknown>): boolean {
    const type = typeof event.type === 'string' ? event.type : '';
    if (RESTART.has(type)) this.restarts += 1;
    switch (type) {
      case 'agent_start':
        this.inAgent = true;
        this.retrying = false;
        // The continuation a `willRetry` compaction announced has begun.
        this.compactionWillRetry = false;
        break;
      case 'agent_end':
        this.inAgent = false;
        break;
      case 'auto_retry_start':
        this.retrying = true;
        break;
      case 'auto_retry_end':
        this.retrying = false;
        break;
      case 'compaction_start':
        this.compacting = true;
        break;
      case 'compaction_end':
        this.compacting = false;
        this.compactionWillRetry = event.willRetry === true;
        break;
      default:
        break;
    }
    if (!TERMINAL.has(type)) return false;
    this.restartsAtTerminal = this.restarts;
    return true;
  }

  /** A token for the barrier: evaluate() with it once the barrier's get_state answered. */
  mark(): number | null {
    return this.restartsAtTerminal;
  }

  evaluate(mark: number | null, state: BarrierState): SettleVerdict {
    if (mark === null || mark !== this.restarts) return 'busy';
    if (this.compactionWillRetry || this.inAgent || this.retrying || this.compacting) return 'busy';
    if (state.isStreaming || state.isCompacting) return 'busy';
    if (state.pendingMessageCount > 0) return 'pending_messages';
    return 'settled';
  }

  /** Whether a message should be queued with `steer`/`follow_up` rather than sent as a prompt. */
  get betweenLoops(): boolean {
    return this.retrying || this.compacting || this.compactionWillRetry;
  }
}

export function barrierState(data: unknown): BarrierState {
  const d = (data ?? {}) as Record<string, unknown>;
  return {
    isStreaming: d.isStreaming === true,
    isCompacting: d.isCompacting === true,
    pendingMessageCount: typeof d.pendingMessageCount === 'number' ? d.pendingMessageCount : 0,
  };
}
