/**
 * The one reader of the environment. `loadConfig(env)` validates every variable documented in
 * `.env.example` and returns typed options; nothing else in `src/` touches `process.env`.
 */
import fs from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import shellQuote from 'shell-quote';
import { z } from 'zod';
import { parseLimits, type LimitsConfig } from './config-limits.js';
import { parsePlaytestConfig, type PlaytestConfig } from './config-playtest.js';
import { UserError } from './core/errors.js';
import { buildAgentEnv, looksSecret } from './agent-env.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface DiscordConfig {
  token: string;
  guildId: string;
  notifyChannelId: string | null;
  apiBase: string | null;
}

export interface SlackConfig {
  botToken: string;
  appToken: string | null;
  signingSecret: string | null;
  port: number | null;
  apiUrl: string | null;
  notifyChannel: string | null;
}

export interface AuthConfig {
  /** `platform:userId` entries, e.g. `discord:1234`, `slack:U0123`. */
  allowedUsers: string[];
  /** Discord role ids. */
  allowedRoles: string[];
  allowAll: boolean;
}

export type SandboxMode = 'auto' | 'bwrap' | 'off';

export interface SandboxConfig {
  mode: SandboxMode;
  /** AGENT_SANDBOX_RW / AGENT_SANDBOX_RO: extra absolute paths (~ expanded). */
  rw: string[];
  ro: string[];
}

export interface Config {
  repoRoot: string;
  dataDir: string;
  worktreesDir: string;
  sessionsDir: string;
  dbFile: string;
  baseBranch: string | null;
  /** The agent executable and the arguments that always precede ours. */
  agentCommand: string;
  agentArgs: string[];
  playtestCommand: string;
  piAgentDir: string;
  logLevel: LogLevel;
  /** Environment handed to agent and playtest processes: an allowlist (src/agent-env.ts). */
  agentEnv: Record<string, string>;
  // --- issue 8 (safety) ---
  /** Every known secret value, replaced by `[redacted]` in events, outbox rows and logs. */
  secretValues: string[];
  sandbox: SandboxConfig;
  discord: DiscordConfig | null;
  slack: SlackConfig | null;
  auth: AuthConfig;
  /** The run queue: agents at once (MAX_CONCURRENT_RUNS) and queued + running runs per person (MAX_RUNS_PER_USER, null: no limit). */
  queue: { maxConcurrentRuns: number; maxRunsPerUser: number | null };
  /** Time, cost, disk and retention bounds (src/config-limits.ts). */
  limits: LimitsConfig;
  /** Playtest display, capture and shared build settings (src/config-playtest.ts). */
  playtest: PlaytestConfig;
}

/** The bot's own credentials, removed from its environment once read (see scrubBotSecrets). */
const BOT_SECRETS = ['DISCORD_TOKEN', 'SLACK_BOT_TOKEN', 'SLACK_APP_TOKEN', 'SLACK_SIGNING_SECRET'] as const;

const optional = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const schema = z.object({
  REPO_ROOT: optional,
  DATA_DIR: optional,
  WORKTREES_DIR: optional,
  BASE_BRANCH: optional,
  AGENT_COMMAND: optional,
  AGENT_ARGS: optional,
  PLAYTEST_COMMAND: optional,
  PI_CODING_AGENT_DIR: optional,
  LOG_LEVEL: optional.pipe(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional()),
  DISCORD_TOKEN: optional,
  DISCORD_GUILD_ID: optional.pipe(z.string().regex(/^\d{5,25}$/, 'must be a numeric Discord id').optional()),
  DISCORD_NOTIFY_CHANNEL_ID: optional.pipe(z.string().regex(/^\d{5,25}$/, 'must be a numeric Discord id').optional()),
  DISCORD_API_BASE: optional.pipe(z.string().url('must be a URL such as http://127.0.0.1:8080/api').optional()),
  SLACK_BOT_TOKEN: optional.pipe(z.string().startsWith('xoxb-', 'must be the Bot User OAuth Token (xoxb-…)').optional()),
  SLACK_APP_TOKEN: optional.pipe(z.string().startsWith('xapp-', 'must be an app-level token (xapp-…) with connections:write').optional()),
  SLACK_SIGNING_SECRET: optional,
  PORT: optional.pipe(z.coerce.number().int().min(1).max(65535).optional()),
  SLACK_API_URL: optional.pipe(z.string().url('must be a URL such as http://127.0.0.1:8080/api/').optional()),
  SLACK_NOTIFY_CHANNEL: optional.pipe(z.string().regex(/^[CG][A-Z0-9]{6,}$/, 'must be a channel id such as C0123ABCD (channel details, at the bottom)').optional()),
  ALLOWED_USERS: optional,
  ALLOWED_ROLES: optional.pipe(z.string().regex(/^\d{5,25}(\s*,\s*\d{5,25})*$/, 'must be comma-separated numeric Discord role ids').optional()),
  ALLOW_ALL_USERS: optional.pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no']).optional()),
  MAX_CONCURRENT_RUNS: optional.pipe(z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').max(1000).optional()),
  MAX_RUNS_PER_USER: optional.pipe(z.coerce.number().int('must be a whole number').min(1, 'must be at least 1 (unset it for no limit)').optional()),
  // --- limits (src/config-limits.ts parses them) ---
  RUN_TIMEOUT: optional,
  AGENT_IDLE_TIMEOUT: optional,
  PLAYTEST_TIMEOUT: optional,
  RUN_BUDGET_USD: optional,
  WORKTREE_RETENTION: optional,
  MIN_FREE_DISK: optional,
  AGENT_MAX_LINE: optional,
  DATA_RETENTION: optional,
  // --- playtests (src/config-playtest.ts parses them; DISPLAY/XAUTHORITY are the bot's own X session) ---
  PLAYTEST_DISPLAY: optional,
  PLAYTEST_RESOLUTION: optional,
  PLAYTEST_CAPTURE_AFTER: optional,
  PLAYTEST_CLIP: optional,
  PLAYTEST_CARGO_TARGET_DIR: optional,
  DISPLAY: optional,
  XAUTHORITY: optional,
  // --- issue 8 (safety) ---
  AGENT_ENV: optional.pipe(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\s*,\s*[A-Za-z_][A-Za-z0-9_]*)*$/, 'must be comma-separated variable names').optional()),
  SECRET_VALUES: optional,
  AGENT_SANDBOX: optional.pipe(z.enum(['auto', 'bwrap', 'off']).optional()),
  AGENT_SANDBOX_RW: optional,
  AGENT_SANDBOX_RO: optional,
});

/**
 * Loads `<cwd>/.env` into the process environment if the file exists (variables already set
 * win). Returns the file loaded, if any.
 */
export function loadDotEnv(cwd: string = process.cwd()): string | null {
  const file = path.join(cwd, '.env');
  if (!fs.existsSync(file)) return null;
  const before = { ...process.env };
  process.loadEnvFile(file);
  Object.assign(process.env, before);
  return file;
}

/**
 * Removes the bot's own secrets from this process's environment once the config holds them, so
 * nothing the bot spawns later (its own git calls) inherits them. Agent and playtest processes
 * get `Config.agentEnv`, an allowlist that never had them.
 */
export function scrubBotSecrets(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of BOT_SECRETS) delete env[name];
}

/** The pi CLI shipped in this project's own dependencies (its package exports no package.json). */
export function bundledPiCli(): string {
  const require = createRequire(import.meta.url);
  const name = '@mariozechner/pi-coding-agent';
  for (const dir of require.resolve.paths(name) ?? []) {
    const cli = path.join(dir, name, 'dist', 'cli.js');
    if (fs.existsSync(cli)) return cli;
  }
  throw new UserError('CONFIG_INVALID', `${name} is not installed: run "npm ci", or set AGENT_COMMAND (see .env.example)`);
}

function splitArgs(name: string, value: string | undefined): string[] {
  if (!value) return [];
  const parsed = shellQuote.parse(value);
  const args: string[] = [];
  for (const part of parsed) {
    if (typeof part !== 'string') {
      throw new UserError('CONFIG_INVALID', `${name} may hold only plain arguments (no pipes, redirects or globs); see .env.example`);
    }
    args.push(part);
  }
  return args;
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new UserError('CONFIG_INVALID', `Invalid configuration:\n  ${lines.join('\n  ')}\nSee .env.example for every variable.`);
  }
  const e = parsed.data;
  let limits: LimitsConfig;
  try {
    limits = parseLimits(e);
  } catch (err) {
    throw new UserError('CONFIG_INVALID', `Invalid configuration:\n  ${(err as Error).message}\nSee .env.example for every variable.`);
  }
  const repoRoot = path.resolve(cwd, e.REPO_ROOT ?? '.');
  const dataDir = path.resolve(repoRoot, e.DATA_DIR ?? '.chatops');
  const worktreesDir = path.resolve(repoRoot, e.WORKTREES_DIR ?? path.join(dataDir, 'worktrees'));
  let playtest: PlaytestConfig;
  try {
    playtest = parsePlaytestConfig(e, dataDir);
  } catch (err) {
    throw new UserError('CONFIG_INVALID', `Invalid configuration:\n  ${(err as Error).message}\nSee .env.example for every variable.`);
  }

  let agentCommand: string;
  let agentArgs: string[];
  if (e.AGENT_COMMAND) {
    const cmd = splitArgs('AGENT_COMMAND', e.AGENT_COMMAND);
    if (cmd.length === 0) throw new UserError('CONFIG_INVALID', 'AGENT_COMMAND is empty; unset it to use the bundled pi');
    agentCommand = cmd[0]!;
    agentArgs = [...cmd.slice(1), ...splitArgs('AGENT_ARGS', e.AGENT_ARGS)];
  } else {
    agentCommand = process.execPath;
    agentArgs = [bundledPiCli(), ...splitArgs('AGENT_ARGS', e.AGENT_ARGS)];
  }

  const piAgentDir = path.resolve(repoRoot, e.PI_CODING_AGENT_DIR ?? path.join(dataDir, 'pi-agent'));
  const agentEnv = buildAgentEnv(env, { agentArgs, piAgentDir, extraNames: list(e.AGENT_ENV) });

  let discord: DiscordConfig | null = null;
  if (e.DISCORD_TOKEN) {
    if (!e.DISCORD_GUILD_ID) {
      throw new UserError('CONFIG_INVALID', 'DISCORD_TOKEN is set but DISCORD_GUILD_ID is not: set it to the id of your server (see .env.example)');
    }
    discord = {
      token: e.DISCORD_TOKEN,
      guildId: e.DISCORD_GUILD_ID,
      notifyChannelId: e.DISCORD_NOTIFY_CHANNEL_ID ?? null,
      apiBase: e.DISCORD_API_BASE ?? null,
    };
  }

  let slack: SlackConfig | null = null;
  if (e.SLACK_BOT_TOKEN) {
    const httpMode = Boolean(e.SLACK_SIGNING_SECRET && e.PORT);
    if (!httpMode && !e.SLACK_APP_TOKEN) {
      throw new UserError(
        'CONFIG_INVALID',
        'SLACK_BOT_TOKEN is set but neither SLACK_APP_TOKEN (Socket Mode) nor SLACK_SIGNING_SECRET with PORT (HTTP mode) is: see .env.example',
      );
    }
    slack = {
      botToken: e.SLACK_BOT_TOKEN,
      appToken: e.SLACK_APP_TOKEN ?? null,
      signingSecret: e.SLACK_SIGNING_SECRET ?? null,
      port: e.PORT ?? null,
      apiUrl: e.SLACK_API_URL ?? null,
      notifyChannel: e.SLACK_NOTIFY_CHANNEL ?? null,
    };
  }

  const allowAll = ['true', '1', 'yes'].includes(e.ALLOW_ALL_USERS ?? 'false');
  const allowedUsers = list(e.ALLOWED_USERS);
  for (const u of allowedUsers) {
    if (!/^(discord|slack|console|cli):[A-Za-z0-9_.-]+$/.test(u)) {
      throw new UserError('CONFIG_INVALID', `ALLOWED_USERS entry "${u}" must look like discord:<user id> or slack:<user id> (see .env.example)`);
    }
  }

  return {
    repoRoot,
    dataDir,
    worktreesDir,
    sessionsDir: path.join(dataDir, 'sessions'),
    dbFile: path.join(dataDir, 'chatops.sqlite'),
    baseBranch: e.BASE_BRANCH ?? null,
    agentCommand,
    agentArgs,
    playtestCommand: e.PLAYTEST_COMMAND ?? 'cargo run',
    piAgentDir,
    logLevel: e.LOG_LEVEL ?? 'info',
    agentEnv,
    ...safetyConfig(e, env, agentEnv, agentArgs),
    discord,
    slack,
    auth: { allowedUsers, allowedRoles: list(e.ALLOWED_ROLES), allowAll },
    queue: { maxConcurrentRuns: e.MAX_CONCURRENT_RUNS ?? Math.max(1, os.availableParallelism()), maxRunsPerUser: e.MAX_RUNS_PER_USER ?? null },
    limits,
    playtest,
  };
}

// --- issue 8 (safety) ---

/** Shorter values would redact ordinary words. */
export const MIN_SECRET_LENGTH = 8;

function expandHome(p: string, home: string | undefined): string {
  const expanded = p === '~' || p.startsWith('~/') ? path.join(home ?? '/', p.slice(1)) : p;
  if (!path.isAbsolute(expanded)) {
    throw new UserError('CONFIG_INVALID', `AGENT_SANDBOX_RW/AGENT_SANDBOX_RO entry "${p}" must be an absolute path or start with ~/ (see .env.example)`);
  }
  return path.resolve(expanded);
}

function safetyConfig(
  e: z.infer<typeof schema>,
  env: NodeJS.ProcessEnv,
  agentEnv: Record<string, string>,
  agentArgs: string[],
): { secretValues: string[]; sandbox: SandboxConfig } {
  const listed = list(e.SECRET_VALUES);
  const short = listed.filter((v) => v.length < MIN_SECRET_LENGTH);
  if (short.length > 0) {
    throw new UserError(
      'CONFIG_INVALID',
      `SECRET_VALUES: ${short.length} value(s) shorter than ${MIN_SECRET_LENGTH} characters; they would redact ordinary words. Remove them (see .env.example)`,
    );
  }
  const platform = [e.DISCORD_TOKEN, e.SLACK_BOT_TOKEN, e.SLACK_APP_TOKEN, e.SLACK_SIGNING_SECRET];
  const passed = Object.entries(agentEnv)
    .filter(([name]) => looksSecret(name))
    .map(([, value]) => value);
  const apiKeys = agentArgs.flatMap((a, i) => (agentArgs[i - 1] === '--api-key' ? [a] : a.startsWith('--api-key=') ? [a.slice('--api-key='.length)] : []));
  const secretValues = [...new Set([...platform, ...passed, ...apiKeys, ...listed])].filter((v): v is string => typeof v === 'string' && v.length >= MIN_SECRET_LENGTH);
  return {
    secretValues,
    sandbox: {
      mode: e.AGENT_SANDBOX ?? 'auto',
      rw: list(e.AGENT_SANDBOX_RW).map((p) => expandHome(p, env.HOME)),
      ro: list(e.AGENT_SANDBOX_RO).map((p) => expandHome(p, env.HOME)),
    },
  };
}

/** The start-up warning for ALLOW_ALL_USERS, or null when it is off. */
export function allowAllUsersWarning(config: Pick<Config, 'auth'>): string | null {
  if (!config.auth.allowAll) return null;
  return (
    'ALLOW_ALL_USERS=true: every user who can reach the bot in its Discord server or Slack workspace may start, steer, stop, ' +
    'refine and playtest runs and read their threads, which means running shell commands through the agent on this machine. ' +
    'Prefer ALLOWED_USERS or ALLOWED_ROLES (see docs/threat-model.md).'
  );
}
