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
import { Cards } from './cards.js';
import { EventLog } from './event-log.js';
import { Playtests } from './playtest.js';
import { RunManager } from './run-manager.js';
import { Worktrees } from './worktrees.js';

export interface RunEngine {
  config: Config;
  store: Store;
  cards: Cards;
  manager: RunManager;
  worktrees: Worktrees;
  /** Stops every active run and playtest (runs become `interrupted`) and closes the store. */
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
  /** How long the event log batches events (default 100 ms; the delivery bench scales it with its clock). */
  eventFlushMs?: number;
}

export async function createRunEngine(config: Config, logger: Logger, options: EngineOptions = {}): Promise<RunEngine> {
  fs.mkdirSync(config.dataDir, { recursive: true });
  fs.mkdirSync(config.sessionsDir, { recursive: true });
  const store = openStore(config.dbFile);
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
  const events = new EventLog(store.events, logger.child({ component: 'events' }), { now: options.now, flushMs: options.eventFlushMs });
  const playtests = new Playtests({
    command: config.playtestCommand,
    env: config.agentEnv,
    logger: logger.child({ component: 'playtest' }),
    onEvent: (runId, data) => events.append(runId, data),
    stopTimeoutMs: options.playtestStopTimeoutMs,
  });
  const agent =
    options.agent ??
    new PiDriver({
      command: config.agentCommand,
      args: config.agentArgs,
      agentDir: config.piAgentDir,
      env: config.agentEnv,
      logger: logger.child({ component: 'agent' }),
    });
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
  });
  manager.recoverInterrupted();
  let closed: Promise<void> | null = null;
  return {
    config,
    store,
    cards,
    manager,
    worktrees,
    killAllSync: () => manager.killAllSync(),
    close: () =>
      (closed ??= (async () => {
        await manager.shutdown();
        store.close();
      })()),
  };
}
