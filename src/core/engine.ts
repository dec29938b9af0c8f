/**
 * Builds the run engine from the config: store, worktrees, playtests, the pi driver and the
 * RunManager, with start-up recovery done. The CLI, the console mode and the chat adapters all
 * start from here.
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { openStore, type Store } from '../store/index.js';
import type { AgentDriver } from './agent/agent-driver.js';
import { PiDriver } from './agent/pi-driver.js';
import { ensurePrivateDir } from './private-files.js';
import { Redactor } from './redact.js';
import { Sandbox, sandboxLayout } from './sandbox.js';
import { Cards } from './cards.js';
import { EventLog } from './event-log.js';
import { Housekeeping, type HousekeepingReport } from './housekeeping.js';
import { acquireDataLock, type DataLock } from './data-lock.js';
import { Playtests } from './playtest.js';
import { ProcessRecorder, recordingAgent } from './process-records.js';
import { RunManager } from './run-manager.js';
import { reapLeftovers } from './run-recovery.js';
import { WorktreeJanitor } from './worktree-janitor.js';
import { Worktrees } from './worktrees.js';

export interface RunEngine {
  config: Config;
  store: Store;
  cards: Cards;
  manager: RunManager;
  worktrees: Worktrees;
  /** Lists and prunes the bot's worktrees (`chatops worktrees`). */
  janitor: WorktreeJanitor;
  /** Worktree and data clean-up; runs by itself only when started with `housekeeping`. */
  housekeeping: Housekeeping;
  /** Replaces every known secret by `[redacted]` (for text that leaves without passing the store). */
  redact: (text: string) => string;
  /** Stops housekeeping, every active run (they become `interrupted`) and every playtest; the store stays open. */
  stopRuns(): Promise<void>;
  /** `stopRuns`, then releases the DATA_DIR lock and closes the store. */
  close(): Promise<void>;
  /** Synchronous last resort for `process.on('exit')`: kills agent and playtest process trees. */
  killAllSync(): void;
}

export interface EngineOptions {
  /** Another agent driver (tests of misbehaving agents use fixture scripts through the config instead). */
  agent?: AgentDriver;
  now?: () => Date;
  /** Playtest stop grace period. */
  playtestStopTimeoutMs?: number;
  /** How often queued runs look at the shared queue again (default 1 s). */
  queuePollMs?: number;
  /**
   * The long-running bot: prune old worktrees and data now and once a day. `onReport` hears
   * every pass (e.g. to tell a chat what could not be removed).
   */
  housekeeping?: boolean | { onReport: (report: HousekeepingReport) => void };
  /** How long the event log batches events (default 100 ms; the delivery bench scales it with its clock). */
  eventFlushMs?: number;
  /**
   * The bot: take the DATA_DIR lock (src/core/data-lock.ts) before anything else, or fail with
   * DATA_DIR_IN_USE. CLI commands share the database without it.
   */
  lock?: boolean;
}

export async function createRunEngine(config: Config, logger: Logger, options: EngineOptions = {}): Promise<RunEngine> {
  for (const dir of [config.dataDir, config.sessionsDir, config.piAgentDir, config.playtest.filesDir]) ensurePrivateDir(dir);
  const redactor = new Redactor(config.secretValues);
  const store = openStore(config.dbFile, { redact: redactor.redact });
  let lock: DataLock | null = null;
  try {
    if (options.lock) {
      lock = acquireDataLock(store.dataLock, config.dataDir, options.now);
      if (lock.tookOverFrom) logger.warn({ previous: lock.tookOverFrom }, 'took over the DATA_DIR lock of a bot process that is gone');
    }
    // Before anything else: end what a crashed bot left running (agents, tools, playtests).
    await reapLeftovers({ store, repoRoot: config.repoRoot, logger: logger.child({ component: 'recovery' }) });
  } catch (err) {
    lock?.release();
    store.close();
    throw err;
  }
  const recorder = new ProcessRecorder(store.processes, logger.child({ component: 'processes' }), options.now);
  const worktrees = new Worktrees({
    repoRoot: config.repoRoot,
    worktreesDir: config.worktreesDir,
    baseBranch: config.baseBranch,
    logger: logger.child({ component: 'worktrees' }),
  });
  // Keep the bot's own files out of the team's `git status` (only when REPO_ROOT is a repo:
  // card commands work without one, and `run` says clearly when it is missing).
  if (fs.existsSync(`${config.repoRoot}/.git`)) {
    await worktrees.ensureExcluded(config.dataDir);
    await worktrees.ensureExcluded(config.worktreesDir);
  }
  const sandbox = await Sandbox.detect(config.sandbox, sandboxLayout(config), logger.child({ component: 'sandbox' }));
  const events = new EventLog(store.events, logger.child({ component: 'events' }), { now: options.now, redactor, flushMs: options.eventFlushMs });
  const playtests = new Playtests({
    command: config.playtestCommand,
    env: config.agentEnv,
    logger: logger.child({ component: 'playtest' }),
    onEvent: (runId, data) => events.append(runId, data),
    stopTimeoutMs: options.playtestStopTimeoutMs,
    timeout: config.limits.playtestTimeout,
    settings: config.playtest,
    redactor,
    sandbox,
    processes: {
      onSpawn: (runId, pid, cwd) => recorder.record(runId, 'playtest', pid, cwd),
      onExit: (runId, pid) => recorder.forget(runId, 'playtest', pid),
    },
  });
  const driver =
    options.agent ??
    new PiDriver({
      command: config.agentCommand,
      args: config.agentArgs,
      agentDir: config.piAgentDir,
      env: config.agentEnv,
      logger: logger.child({ component: 'agent' }),
      maxLineBytes: config.limits.agentMaxLine,
      redactor,
      sandbox,
    });
  const agent = recordingAgent(driver, recorder);
  const cards = new Cards(store.cards, options.now);
  const manager = new RunManager({
    store,
    cards,
    events,
    agent,
    worktrees,
    playtests,
    repoRoot: config.repoRoot,
    sessionsDir: config.sessionsDir,
    logger: logger.child({ component: 'runs' }),
    now: options.now,
    maxConcurrentRuns: config.queue.maxConcurrentRuns,
    maxRunsPerUser: config.queue.maxRunsPerUser,
    queuePollMs: options.queuePollMs,
    disk: { dir: config.worktreesDir, minFreeBytes: config.limits.minFreeDisk },
    limits: { runTimeout: config.limits.runTimeout, idleTimeout: config.limits.agentIdleTimeout, budgetUsd: config.limits.runBudgetUsd },
  });
  manager.recoverInterrupted();
  const janitor = new WorktreeJanitor({
    store,
    worktrees,
    inUse: (p, runIds) => manager.worktreeInUse(p, runIds),
    hold: (p) => manager.holdForRemoval(p),
    logger: logger.child({ component: 'janitor' }),
    now: options.now,
  });
  const housekeeping = new Housekeeping({
    janitor,
    retention: store.retention,
    worktreeRetentionMs: config.limits.worktreeRetention.ms,
    dataRetentionMs: config.limits.dataRetention.ms,
    logger: logger.child({ component: 'housekeeping' }),
    now: options.now,
    onReport: typeof options.housekeeping === 'object' ? options.housekeeping.onReport : undefined,
  });
  if (options.housekeeping) housekeeping.start();
  let closed: Promise<void> | null = null;
  let stopped: Promise<void> | null = null;
  const stopRuns = () =>
    (stopped ??= (async () => {
      await housekeeping.close();
      await manager.shutdown();
    })());
  return {
    config,
    store,
    cards,
    manager,
    worktrees,
    janitor,
    housekeeping,
    redact: redactor.redact,
    killAllSync: () => manager.killAllSync(),
    stopRuns,
    close: () =>
      (closed ??= (async () => {
        await stopRuns();
        lock?.release();
        store.close();
      })()),
  };
}
