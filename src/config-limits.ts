/**
 * The bounds on what runs may use (issue 9): time limits, the cost cap, disk and retention, and
 * the longest agent line. `loadConfig` hands the raw strings in; durations are parsed by `ms`,
 * sizes by `bytes`, and every bad value names its variable and what to write instead.
 */
import bytes from 'bytes';
import ms from 'ms';

/** A duration as configured: milliseconds, and the text the operator wrote (for messages). */
export interface Duration {
  ms: number;
  text: string;
}

export interface LimitsConfig {
  /** A run (one agent session) is failed after this long. */
  runTimeout: Duration;
  /** A run whose agent wrote nothing for this long is failed. */
  agentIdleTimeout: Duration;
  /** A playtest's game is stopped after running this long (the build before it is not counted). */
  playtestTimeout: Duration;
  /** Cost cap per run in USD, or null for none. */
  runBudgetUsd: number | null;
  /** Settled worktrees older than this are pruned. */
  worktreeRetention: Duration;
  /** A run is refused when the worktrees' disk has less free space than this (bytes); 0 = no check. */
  minFreeDisk: number;
  /** Longest line the agent may write (bytes); a longer one fails the run. */
  agentMaxLine: number;
  /** Events and delivered chat messages of runs settled longer ago than this are deleted. */
  dataRetention: Duration;
}

/** The raw values, exactly as `loadConfig` read them (undefined when unset or blank). */
export type LimitsEnv = Partial<
  Record<
    | 'RUN_TIMEOUT'
    | 'AGENT_IDLE_TIMEOUT'
    | 'PLAYTEST_TIMEOUT'
    | 'RUN_BUDGET_USD'
    | 'WORKTREE_RETENTION'
    | 'MIN_FREE_DISK'
    | 'AGENT_MAX_LINE'
    | 'DATA_RETENTION',
    string
  >
>;

export const LIMIT_DEFAULTS = {
  RUN_TIMEOUT: '60m',
  AGENT_IDLE_TIMEOUT: '15m',
  PLAYTEST_TIMEOUT: '10m',
  WORKTREE_RETENTION: '14d',
  MIN_FREE_DISK: '2GB',
  AGENT_MAX_LINE: '8MB',
  DATA_RETENTION: '90d',
} as const;

/** Node's timers hold at most 2^31-1 ms (about 24.8 days); a longer one would fire at once. */
const MAX_TIMER_MS = 20 * 24 * 60 * 60 * 1000;

/**
 * Parses a duration with a unit (`90s`, `30m`, `2h`, `14d`). A bare number is refused: `ms`
 * would read it as milliseconds, which is never what an operator means by `RUN_TIMEOUT=60`.
 */
export function parseDuration(name: string, value: string, maxMs = Number.MAX_SAFE_INTEGER): Duration {
  const text = value.trim();
  const hint = `${name} must be a duration with a unit such as 90s, 30m, 2h or 14d (got "${value}")`;
  if (/^\d+(\.\d+)?$/.test(text)) throw new Error(`${hint}: add a unit`);
  let parsed: number | undefined;
  try {
    parsed = ms(text as ms.StringValue);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'number' || !Number.isFinite(parsed) || parsed <= 0) throw new Error(hint);
  if (parsed > maxMs) throw new Error(`${name} may be at most ${ms(maxMs, { long: true })} (got "${value}")`);
  return { ms: parsed, text };
}

/** Parses a size such as `2GB`, `512MB`, `8MB` (binary units, as the `bytes` package reads them). */
export function parseSize(name: string, value: string): number {
  const parsed = bytes.parse(value.trim());
  if (parsed === null || !Number.isFinite(parsed) || parsed <= 0 || !/[a-z]/i.test(value)) {
    throw new Error(`${name} must be a size with a unit such as 512MB, 2GB or 8MB (got "${value}")`);
  }
  return Math.floor(parsed);
}

function parseBudget(value: string | undefined): number | null {
  if (value === undefined) return null;
  const text = value.trim().replace(/^\$/, '');
  const n = Number(text);
  if (text === '' || !Number.isFinite(n) || n <= 0) {
    throw new Error(`RUN_BUDGET_USD must be a positive amount of US dollars such as 2 or 2.50 (got "${value}"); leave it unset for no cap`);
  }
  return n;
}

/** `take(fn, fallback)`: fn's value, or `fallback` with fn's error message added to `problems`. */
export function collecting(problems: string[]): <T>(fn: () => T, fallback: T) => T {
  return (fn, fallback) => {
    try {
      return fn();
    } catch (err) {
      problems.push((err as Error).message);
      return fallback;
    }
  };
}

/** Returns the limits, or throws an Error whose message lists every bad variable. */
export function parseLimits(env: LimitsEnv): LimitsConfig {
  const problems: string[] = [];
  const take = collecting(problems);
  const duration = (name: keyof typeof LIMIT_DEFAULTS, maxMs?: number) =>
    take(() => parseDuration(name, env[name] ?? LIMIT_DEFAULTS[name], maxMs), { ms: 1, text: '' });
  const size = (name: keyof typeof LIMIT_DEFAULTS) => take(() => parseSize(name, env[name] ?? LIMIT_DEFAULTS[name]), 1);
  const limits: LimitsConfig = {
    runTimeout: duration('RUN_TIMEOUT', MAX_TIMER_MS),
    agentIdleTimeout: duration('AGENT_IDLE_TIMEOUT', MAX_TIMER_MS),
    playtestTimeout: duration('PLAYTEST_TIMEOUT', MAX_TIMER_MS),
    runBudgetUsd: take(() => parseBudget(env.RUN_BUDGET_USD), null),
    worktreeRetention: duration('WORKTREE_RETENTION'),
    // 0 turns the check off.
    minFreeDisk: env.MIN_FREE_DISK?.trim() === '0' ? 0 : size('MIN_FREE_DISK'),
    agentMaxLine: size('AGENT_MAX_LINE'),
    dataRetention: duration('DATA_RETENTION'),
  };
  if (problems.length > 0) throw new Error(problems.join('\n  '));
  return limits;
}
