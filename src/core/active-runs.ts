/**
 * Supervision of live runs: one agent session per run, from launch to settle. Holds each run's
 * working directory while its agent works, turns the agent's outcome into the run's final
 * record, and never leaves a row `running` without an agent behind it.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/index.js';
import type { RunFinish } from '../store/runs-repo.js';
import type { AgentDriver, AgentOutcome, AgentSession } from './agent/agent-driver.js';
import { AppError, errorText, UserError } from './errors.js';
import type { EventLog } from './event-log.js';
import type { WorktreeOps } from './run-ports.js';
import { RunWatchdog, type RunLimitSettings, type Trip } from './run-limits.js';
import { inspectWorktree, recordSettle, UnrecordedSettles } from './run-settle.js';
import type { Run, RunEventData, RunStatus } from './types.js';
import type { WorkDirs } from './work-dirs.js';

export interface ActiveRunsDeps {
  store: Pick<Store, 'runs' | 'settle'>;
  events: EventLog;
  agent: AgentDriver;
  worktrees: WorktreeOps;
  dirs: WorkDirs;
  logger: Logger;
  now: () => Date;
  /** Called after a run settled and released its directory (the run queue admits the next). */
  onSettled?: (run: Run) => void;
  /** Time and cost bounds per run (none when omitted). */
  limits?: RunLimitSettings;
}

const NO_LIMITS: RunLimitSettings = { runTimeout: null, idleTimeout: null, budgetUsd: null };

export interface LaunchOptions {
  prompt: string;
  /** A refinement resumes the run's existing session file. */
  resume: boolean;
  /**
   * Work between the run's start and its agent's (creating the worktree): the run is already
   * visible and stoppable; a failure settles it as failed like an agent that cannot start.
   */
  prepare?: () => Promise<void>;
  /** Called after the run settled and released its directory (e.g. worktree cleanup). */
  afterSettle?: (run: Run) => Promise<void>;
}

interface ActiveRun {
  runId: string;
  /** The row as it was at launch. */
  run: Run;
  cwd: string;
  startedAtMs: number;
  session: AgentSession | null;
  starting: Promise<AgentSession | null>;
  stopRequested: boolean;
  /** Set when the bot itself ends the run (shutdown): the run becomes `interrupted`. */
  interruptReason: string | null;
  /** Time, idle and budget bounds; once tripped, the run fails with its reason. */
  watchdog: RunWatchdog;
  settled: Promise<Run>;
  resolveSettled: (run: Run) => void;
}

const NO_USAGE = { input: 0, output: 0, total: 0, costUsd: 0 };

export class ActiveRuns {
  private readonly active = new Map<string, ActiveRun>();
  /** Failed runs whose final record the database refused: written as soon as it accepts writes. */
  private readonly unrecorded: UnrecordedSettles;

  constructor(private readonly deps: ActiveRunsDeps) {
    this.unrecorded = new UnrecordedSettles(deps.store, deps.events, deps.logger);
    deps.events.onLost((runId, lost, error) => {
      const entry = this.active.get(runId);
      if (!entry) return;
      entry.watchdog.fail(
        `could not save the run's events (${errorText(error)})`,
        `The bot could not store ${lost.length} event(s) of this run (${errorText(error)}); stopping it rather than lose more.`,
      );
    });
  }

  /**
   * Starts the agent for a run row already inserted as `running` whose directory is claimed.
   * Resolves once the agent runs; when it cannot start, the run is settled as failed first and
   * the promise rejects with AGENT_START_FAILED.
   */
  async launch(runId: string, cwd: string, options: LaunchOptions): Promise<Run> {
    const { store, events, logger } = this.deps;
    const run = store.runs.get(runId)!;
    const log = logger.child({ runId, cardId: run.cardId });
    events.append(runId, { type: 'run_started', cardId: run.cardId, branch: run.branch, worktreePath: run.worktreePath, refinementOf: run.parentRunId });
    let resolveSettled!: (run: Run) => void;
    const settled = new Promise<Run>((resolve) => (resolveSettled = resolve));
    const watchdog = new RunWatchdog(
      this.deps.limits ?? NO_LIMITS,
      (trip) => this.limitReached(entry, trip),
      (message) => events.append(runId, { type: 'warning', message }),
    );
    const entry: ActiveRun = {
      runId,
      run,
      cwd,
      startedAtMs: this.deps.now().getTime(),
      session: null,
      starting: Promise.resolve(null),
      stopRequested: false,
      interruptReason: null,
      watchdog,
      settled,
      resolveSettled,
    };
    this.active.set(runId, entry);
    watchdog.start();
    const onEvent = (data: RunEventData): void => {
      events.append(runId, watchdog.annotate(data));
      watchdog.observe(data);
    };
    const afterSettle = options.afterSettle ?? (async () => {});
    const prepare = options.prepare ?? (async () => {});
    entry.starting = prepare()
      .then(() => {
        // Stopped while preparing: no agent is started at all.
        if (entry.stopRequested || entry.interruptReason !== null) throw new AppError('STOPPED_BEFORE_START', 'stopped before the agent started');
        return this.deps.agent.start({ runId, cwd, sessionFile: run.sessionFile!, resume: options.resume, prompt: options.prompt, onEvent, onActivity: () => watchdog.activity() });
      })
      .then(
        (session) => {
          entry.session = session;
          watchdog.agentStarted();
          void session.done.then((outcome) => this.settle(entry, outcome, afterSettle));
          if (entry.stopRequested) void session.stop();
          return session;
        },
        (err: unknown) => {
          if (entry.stopRequested || entry.interruptReason !== null) {
            void this.settle(entry, { status: 'stopped', summary: null, error: null, usage: NO_USAGE }, afterSettle);
            return null;
          }
          log.warn({ err }, 'agent failed to start');
          const message = errorText(err);
          events.append(runId, { type: 'error', message });
          void this.settle(entry, { status: 'failed', summary: null, error: message, usage: NO_USAGE }, afterSettle);
          return null;
        },
      );
    if (!(await entry.starting)) {
      const failed = await entry.settled;
      if (failed.status === 'stopped' || failed.status === 'interrupted') {
        throw new UserError('RUN_STOPPED', `run ${runId.slice(0, 8)} was ${failed.status} before its agent started`);
      }
      throw new AppError('AGENT_START_FAILED', `run ${runId.slice(0, 8)} failed to start: ${failed.error ?? 'unknown error'}`);
    }
    log.info({ cwd, resume: options.resume }, 'run started');
    return store.runs.get(runId)!;
  }

  /** A bound was crossed: say so in the thread and end the run through the stop sequence. */
  private limitReached(entry: ActiveRun, trip: Trip): void {
    if (this.active.get(entry.runId) !== entry) return;
    this.deps.logger.warn({ runId: entry.runId, reason: trip.reason }, 'run limit reached; stopping the run');
    this.deps.events.append(entry.runId, { type: 'warning', message: trip.message });
    void this.stop(entry.runId, () => {}).catch((err: unknown) =>
      this.deps.logger.error({ err, runId: entry.runId }, 'stopping a run at its limit failed'),
    );
  }

  private async settle(entry: ActiveRun, outcome: AgentOutcome, afterSettle: (run: Run) => Promise<void>): Promise<void> {
    entry.watchdog.dispose();
    let run: Run;
    try {
      run = await this.finalize(entry, outcome);
    } catch (err) {
      // Never leave a run `running` without an agent: record the failure as best we can.
      this.deps.logger.error({ err, runId: entry.runId }, 'settling a run failed');
      this.active.delete(entry.runId);
      this.deps.dirs.release(entry.cwd, entry.runId);
      const now = this.deps.now();
      const finish: RunFinish = {
        tokensInput: outcome.usage.input,
        tokensOutput: outcome.usage.output,
        tokensTotal: outcome.usage.total,
        costUsd: outcome.usage.costUsd,
        status: 'failed',
        summary: outcome.summary,
        commitSha: null,
        error: `the run ended (${outcome.status}) but its outcome could not be recorded: ${errorText(err)}`,
        now: now.toISOString(),
      };
      const base = this.readRun(entry.runId) ?? entry.run;
      // Callers see the outcome the database will get once it accepts writes.
      run = this.unrecorded.record(base, finish, now.getTime() - entry.startedAtMs) ?? { ...base, ...finish, finishedAt: finish.now };
    }
    await afterSettle(run).catch((err: unknown) => this.deps.logger.warn({ err, runId: entry.runId }, 'after-settle work failed'));
    const final = this.unrecorded.has(entry.runId) ? run : (this.readRun(entry.runId) ?? run);
    entry.resolveSettled(final);
    try {
      this.deps.onSettled?.(final);
    } catch (err) {
      this.deps.logger.error({ err, runId: entry.runId }, 'after a run settled, the queue could not move on');
    }
  }

  private readRun(runId: string): Run | undefined {
    try {
      return this.deps.store.runs.get(runId);
    } catch {
      return undefined;
    }
  }

  /** Head commit, dirty warning, files changed, usage and status; releases the directory. */
  private async finalize(entry: ActiveRun, outcome: AgentOutcome): Promise<Run> {
    const { store, events, logger } = this.deps;
    const id = entry.runId;
    const report = await inspectWorktree(this.deps.worktrees, store.runs.get(id)!, entry.cwd).catch((err: unknown) => {
      logger.warn({ err, runId: id }, 'could not read the worktree while settling');
      return { commitSha: null, dirty: null, filesChanged: [] };
    });
    if (report.dirty) events.append(id, { type: 'warning', message: `the worktree has uncommitted changes:\n${report.dirty}` });
    // A shutdown interrupts only runs it had to stop; one that finished meanwhile keeps its outcome.
    const interrupted = entry.interruptReason !== null && outcome.status === 'stopped';
    // A run ended at its time or budget limit failed, unless it finished meanwhile.
    const limited = entry.watchdog.trippedBy !== null && outcome.status !== 'succeeded' ? entry.watchdog.trippedBy : null;
    const status: RunStatus = limited ? 'failed' : interrupted ? 'interrupted' : outcome.status;
    const now = this.deps.now();
    // Row and run_settled in one transaction: a thread never lacks the final result of a settled row.
    const finished = recordSettle(store, events, store.runs.get(id)!, {
      status,
      summary: outcome.summary,
      commitSha: report.commitSha,
      error: limited ? limited.reason : interrupted ? entry.interruptReason : outcome.error,
      tokensInput: outcome.usage.input,
      tokensOutput: outcome.usage.output,
      tokensTotal: outcome.usage.total,
      costUsd: outcome.usage.costUsd,
      now: now.toISOString(),
    }, report.filesChanged, now.getTime() - entry.startedAtMs);
    this.active.delete(id);
    this.deps.dirs.release(entry.cwd, id);
    logger.info({ runId: id, status, commitSha: report.commitSha }, 'run settled');
    return finished;
  }

  has(runId: string): boolean {
    return this.active.has(runId);
  }

  ids(): string[] {
    return [...this.active.keys()];
  }

  /** The live session of a run, waiting for its start; UserError when it is not running. */
  async session(runId: string): Promise<AgentSession> {
    const entry = this.active.get(runId);
    const session = entry && (entry.session ?? (await entry.starting));
    if (!session || !this.active.has(runId)) throw new UserError('RUN_NOT_ACTIVE', `run ${runId.slice(0, 8)} is not running`);
    return session;
  }

  /** Runs the stop sequence and resolves after the run settled. False when it was not running. */
  async stop(runId: string, onFirstRequest: () => void): Promise<boolean> {
    const entry = this.active.get(runId);
    if (!entry) return false;
    if (!entry.stopRequested) {
      entry.stopRequested = true;
      onFirstRequest();
    }
    const session = entry.session ?? (await entry.starting);
    if (session) await session.stop();
    await entry.settled;
    return true;
  }

  /** Resolves with the run once settled; undefined when it is not active. */
  settled(runId: string): Promise<Run> | undefined {
    return this.active.get(runId)?.settled;
  }

  /** Process ids of the running agents (each its own process group leader). */
  agentPids(): number[] {
    return [...this.active.values()].flatMap((e) => (e.session?.pid ? [e.session.pid] : []));
  }

  /** Stops every active run; they settle as `interrupted` with `reason`. */
  async interruptAll(reason: string): Promise<void> {
    await Promise.all(
      [...this.active.values()].map(async (entry) => {
        entry.interruptReason = reason;
        const session = entry.session ?? (await entry.starting);
        if (session) await session.stop();
        await entry.settled;
      }),
    );
    if (!this.unrecorded.retry()) {
      this.deps.logger.error(
        { runs: this.unrecorded.ids },
        'shutting down with failed runs the database would not record; they become interrupted at the next start',
      );
      this.unrecorded.dispose();
    }
  }
}
