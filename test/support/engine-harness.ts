/**
 * A whole run engine for tests: a temp git repo, the real pi agent pointed at a scripted model
 * server on 127.0.0.1, a real SQLite file, and the config as `loadConfig` builds it.
 */
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config.js';
import { createRunEngine, type EngineOptions, type RunEngine } from '../../src/core/engine.js';
import type { Run, RunEvent, RunEventData } from '../../src/core/types.js';
import { silentLogger } from '../../src/logger.js';
import { afterAll, afterEach, beforeAll, vi } from 'vitest';
import { MockLlm } from './mock-llm.js';
import { makePiAgentDir, type PiAgentDirOptions } from './pi-agent-dir.js';
import { makeTempDir, makeTempRepo } from './temp.js';

export interface HarnessOptions {
  /** Extra environment variables (e.g. AGENT_COMMAND for a fixture agent, PLAYTEST_COMMAND). */
  env?: Record<string, string>;
  engine?: EngineOptions;
  /** Reuse an existing repository and data dir (a "restart"). */
  repo?: string;
  dataDir?: string;
  maxRetries?: number;
  /** The mock model's price (USD per million tokens), for budget tests. */
  modelCost?: PiAgentDirOptions['cost'];
}

export interface Harness {
  repo: string;
  dataDir: string;
  env: Record<string, string>;
  config: Config;
  engine: RunEngine;
}

/** The environment a test agent gets: enough to find node and git, nothing of the developer's. */
export function baseEnv(): Record<string, string> {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG'];
  const out: Record<string, string> = { GIT_CONFIG_NOSYSTEM: '1' };
  for (const k of keep) if (process.env[k]) out[k] = process.env[k]!;
  return out;
}

/** A repository, a data dir and the environment the bot would run with, without starting anything. */
export async function makeBotEnv(llm: MockLlm, options: HarnessOptions = {}): Promise<{ repo: string; dataDir: string; env: Record<string, string> }> {
  const repo = options.repo ?? (await makeTempRepo());
  const dataDir = options.dataDir ?? path.join(makeTempDir('chatops-data-'), 'data');
  const pi = makePiAgentDir({ baseUrl: llm.baseUrl, maxRetries: options.maxRetries, cost: options.modelCost });
  const env: Record<string, string> = {
    ...baseEnv(),
    ...pi.env,
    REPO_ROOT: repo,
    DATA_DIR: dataDir,
    PI_CODING_AGENT_DIR: pi.dir,
    LOG_LEVEL: 'silent',
    // Tests that are not about the run queue run their agents side by side.
    MAX_CONCURRENT_RUNS: '100',
    // The agent sees only allowlisted variables; these two keep git and temp files as the tests expect.
    AGENT_ENV: 'GIT_CONFIG_NOSYSTEM,TMPDIR',
    // Sandbox tests turn it on; the others work with host paths (pid files, temp dirs) in their tools.
    AGENT_SANDBOX: 'off',
    // Playtests here need no screen (an Xvfb costs a second each); test/core/playtest-display.test.ts has them.
    PLAYTEST_DISPLAY: 'off',
    ...options.env,
  };
  // Fixture agents read their instructions from FIXTURE_* variables: let those through the allowlist.
  const fixtureVars = Object.keys(options.env ?? {}).filter((k) => k.startsWith('FIXTURE_'));
  if (fixtureVars.length > 0 && !options.env?.AGENT_ENV) env.AGENT_ENV = [env.AGENT_ENV, ...fixtureVars].join(',');
  return { repo, dataDir, env };
}

export async function makeHarness(llm: MockLlm, options: HarnessOptions = {}): Promise<Harness> {
  const { repo, dataDir, env } = await makeBotEnv(llm, options);
  const config = loadConfig(env, repo);
  const engine = await createRunEngine(config, silentLogger(), options.engine);
  return { repo, dataDir, env, config, engine };
}

/** The run's events, or only the data of those of one type. */
export function eventsOf<T extends RunEventData['type']>(engine: RunEngine, run: Run, type: T): Extract<RunEventData, { type: T }>[] {
  return engine.manager
    .events(run.id)
    .map((e: RunEvent) => e.data)
    .filter((d): d is Extract<RunEventData, { type: T }> => d.type === type);
}

/** Resolves with the first persisted event of `runId` (or any run) matching `predicate`. */
export function nextEvent(engine: RunEngine, predicate: (e: RunEvent) => boolean): Promise<RunEvent> {
  return new Promise((resolve) => {
    const off = engine.manager.subscribe((e) => {
      if (predicate(e)) {
        off();
        resolve(e);
      }
    });
  });
}

export interface ScriptedModel {
  /** The scripted model server of this test file (started before its first test). */
  readonly llm: MockLlm;
  /** Closes `engine` after the current test. */
  track(engine: RunEngine): RunEngine;
}

/**
 * For a test file of engine tests: one scripted model server for the file; after each test,
 * real timers again, every tracked engine closed and the model reset.
 */
export function useScriptedModel(): ScriptedModel {
  const engines: RunEngine[] = [];
  let llm: MockLlm | null = null;
  beforeAll(async () => {
    llm = await MockLlm.start();
  });
  afterAll(async () => {
    await llm?.close();
  });
  afterEach(async () => {
    vi.useRealTimers();
    for (const e of engines.splice(0)) await e.close();
    llm?.reset();
  });
  return {
    get llm() {
      if (!llm) throw new Error('the scripted model starts in beforeAll; use it inside tests');
      return llm;
    },
    track(engine) {
      engines.push(engine);
      return engine;
    },
  };
}
