/**
 * The bounds of one run while it is live: wall time (RUN_TIMEOUT), agent silence
 * (AGENT_IDLE_TIMEOUT) and spend (RUN_BUDGET_USD, checked on the `usage` event the agent driver
 * emits after every model call). The first bound crossed trips the watchdog once with the reason
 * the run fails with; the caller ends the run through the agent's stop sequence.
 */
import type { Duration } from '../config-limits.js';
import type { RunEventData } from './types.js';

export interface RunLimitSettings {
  runTimeout: Duration | null;
  idleTimeout: Duration | null;
  /** USD per run; null for no cap. */
  budgetUsd: number | null;
}

export interface Trip {
  /** The run's error: "timed out after 30m", "no progress for 15m", "budget of $2.00 reached ($2.04 spent)". */
  reason: string;
  /** The thread's warning, naming the setting. */
  message: string;
}

export function usd(n: number): string {
  return `$${n.toFixed(2)}`;
}

export class RunWatchdog {
  private runTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private tripped: Trip | null = null;
  private disposed = false;
  private warnedNoPrice = false;

  constructor(
    private readonly settings: RunLimitSettings,
    private readonly onTrip: (trip: Trip) => void,
    private readonly onWarning: (message: string) => void,
  ) {}

  /** Starts the run's clock (call when the run launches; the idle clock waits for `agentStarted`). */
  start(): void {
    const { runTimeout } = this.settings;
    if (runTimeout) {
      this.runTimer = setTimeout(
        () => this.trip(`timed out after ${runTimeout.text}`, `The run took longer than RUN_TIMEOUT (${runTimeout.text}); stopping it.`),
        runTimeout.ms,
      );
      this.runTimer.unref();
    }
  }

  /**
   * The agent is up: from now on it must show progress every AGENT_IDLE_TIMEOUT. Preparing the
   * worktree and starting the agent process do not count as silence.
   */
  agentStarted(): void {
    const { idleTimeout } = this.settings;
    if (idleTimeout && !this.idleTimer && !this.tripped && !this.disposed) {
      this.idleTimer = setTimeout(
        () =>
          this.trip(
            `no progress for ${idleTimeout.text}`,
            `The agent has shown no sign of progress for ${idleTimeout.text} (AGENT_IDLE_TIMEOUT); stopping the run.`,
          ),
        idleTimeout.ms,
      );
      this.idleTimer.unref();
    }
  }

  /** The agent wrote something: the idle clock starts over. */
  activity(): void {
    this.idleTimer?.refresh();
  }

  /** The event as it should be stored: usage carries the budget so the status can show spent / budget. */
  annotate(event: RunEventData): RunEventData {
    if (event.type !== 'usage' || this.settings.budgetUsd === null) return event;
    return { ...event, budgetUsd: this.settings.budgetUsd };
  }

  /** Checks the spend after a model call; trips at the budget, warns once when the model has no price. */
  observe(event: RunEventData): void {
    const budget = this.settings.budgetUsd;
    if (event.type !== 'usage' || budget === null || this.tripped) return;
    if (event.costUsd >= budget) {
      this.trip(
        `budget of ${usd(budget)} reached (${usd(event.costUsd)} spent)`,
        `The run has spent ${usd(event.costUsd)}, reaching RUN_BUDGET_USD (${usd(budget)}); stopping it.`,
      );
    } else if (!this.warnedNoPrice && event.costUsd === 0 && event.total > 0) {
      this.warnedNoPrice = true;
      this.onWarning(
        `The model reports no price (${event.total} tokens so far at $0.00), so the budget of ${usd(budget)} (RUN_BUDGET_USD) cannot be enforced for this run. Give the model a cost in pi's models.json to enforce it.`,
      );
    }
  }

  /** Why the run was ended, if a bound was crossed. */
  get trippedBy(): Trip | null {
    return this.tripped;
  }

  /** Stops the clocks (the run settled). */
  dispose(): void {
    this.disposed = true;
    if (this.runTimer) clearTimeout(this.runTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.runTimer = null;
    this.idleTimer = null;
  }

  /** Ends the run for another reason the bot cannot live with (e.g. its events cannot be stored). */
  fail(reason: string, message: string): void {
    this.trip(reason, message);
  }

  private trip(reason: string, message: string): void {
    if (this.tripped) return;
    this.tripped = { reason, message };
    this.dispose();
    this.onTrip(this.tripped);
  }
}
