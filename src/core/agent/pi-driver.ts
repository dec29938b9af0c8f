/**
 * The pi coding agent (0.73/0.74) in RPC mode, one process per run (docs/pi-rpc.md). start()
 * spawns the agent, waits for readiness (`get_state`), sends the prompt and returns a PiSession;
 * see pi-session.ts for settling, steering and stopping.
 *
 * A prompt that pi rejects (`success:false`, e.g. no API key for the model) rejects start() with
 * AGENT_START_FAILED, like any other failure before the run began; the process is ended first.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { AppError, errorText } from '../errors.js';
import { Redactor } from '../redact.js';
import type { Sandbox } from '../sandbox.js';
import type { AgentDriver, AgentSession, AgentStartOptions } from './agent-driver.js';
import { describeExit, RpcExitError, RpcProcess } from './pi-process.js';
import { DEFAULT_TIMEOUTS, PiSession, type PiTimeouts } from './pi-session.js';
import { statsUsage } from './pi-stats.js';

export { DEFAULT_TIMEOUTS, type PiTimeouts } from './pi-session.js';

/**
 * Flags always passed after the configured args. Auto-discovered extensions are code from the
 * repository (`.pi/extensions`) and must not load in an untrusted worktree; skills and prompt
 * templates would let a chat message starting with `/` expand into repo-provided text. Context
 * files (AGENTS.md) stay on: they are plain instructions, like the code the agent reads anyway.
 */
export const PI_FIXED_ARGS = ['--no-extensions', '--no-skills', '--no-prompt-templates', '--no-themes', '--offline'] as const;

export interface PiDriverOptions {
  /** Executable, e.g. `process.execPath` (with the pi cli.js as first arg) or `pi`. */
  command: string;
  /** Arguments that precede ours (e.g. the cli.js path, `--provider`, `--model`). */
  args: string[];
  /** PI_CODING_AGENT_DIR: models.json, settings.json, auth.json of the bot's own pi. */
  agentDir: string;
  /** The agent's whole environment (nothing is inherited from the bot's process). */
  env: Record<string, string>;
  logger: Logger;
  timeouts?: Partial<PiTimeouts>;
  /** AGENT_MAX_LINE: a longer stdout line fails the run instead of growing a buffer. */
  maxLineBytes?: number;
  /** Known secrets: redacted in the run's events and in quoted stderr. */
  redactor?: Redactor;
  /** Run the agent inside this sandbox (src/core/sandbox.ts); null or absent: as the bot's user, unconfined. */
  sandbox?: Sandbox | null;
}

/** What pi's own "/login" advice means for a bot operator. */
const NO_MODEL_ADVICE =
  '\nThe bot\'s pi has no model with a key: set AGENT_ARGS (e.g. --provider anthropic --model <model>) and the provider\'s key ' +
  '(e.g. ANTHROPIC_API_KEY), or put models.json/settings.json in PI_CODING_AGENT_DIR; see .env.example and the README.';

export class PiDriver implements AgentDriver {
  private readonly timeouts: PiTimeouts;

  constructor(private readonly options: PiDriverOptions) {
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  }

  /** The full argument list for one run. */
  argsFor(sessionFile: string): string[] {
    return [...this.options.args, '--mode', 'rpc', '--session', sessionFile, ...PI_FIXED_ARGS];
  }

  async start(opts: AgentStartOptions): Promise<AgentSession> {
    const { command } = this.options;
    const logger = this.options.logger.child({ runId: opts.runId, component: 'pi' });
    const sessionFile = path.resolve(opts.sessionFile);
    if (opts.resume && !fs.existsSync(sessionFile)) {
      throw new AppError('AGENT_START_FAILED', `Cannot resume: the agent session file ${sessionFile} does not exist (was it deleted?).`);
    }
    if (!fs.existsSync(opts.cwd)) {
      throw new AppError('AGENT_START_FAILED', `Cannot start the agent: its working directory ${opts.cwd} does not exist.`);
    }
    await fs.promises.mkdir(path.dirname(sessionFile), { recursive: true });

    const env = {
      ...this.options.env,
      PI_CODING_AGENT_DIR: this.options.agentDir,
      PI_OFFLINE: '1',
      PI_SKIP_VERSION_CHECK: '1',
    };
    const args = this.argsFor(sessionFile);
    logger.info({ command, args: redactArgs(args), cwd: opts.cwd, sandbox: Boolean(this.options.sandbox) }, 'starting agent');
    const redactor = this.options.redactor ?? Redactor.none();
    const spawn = this.options.sandbox ? this.options.sandbox.wrap(command, args, { cwd: opts.cwd, sessionFile, env }) : { command, args };
    const proc = new RpcProcess({ ...spawn, cwd: opts.cwd, env, redact: redactor.redact, maxLineBytes: this.options.maxLineBytes }, logger);
    if (opts.onActivity) proc.onActivity = opts.onActivity;
    try {
      await proc.spawned;
    } catch (err) {
      throw spawnError(command, err);
    }

    const session = new PiSession(proc, opts.onEvent, logger, this.timeouts, this.options.maxLineBytes ?? null, redactor);
    const started = Date.now();
    try {
      await proc.request({ type: 'get_state' }, this.timeouts.startMs);
      if (opts.resume) {
        const stats = await proc.request({ type: 'get_session_stats' }, this.timeouts.commandMs);
        session.baseline = statsUsage(stats.data) ?? session.baseline;
      }
      logger.debug({ ms: Date.now() - started }, 'agent ready');
      session.mapper.expectUserMessage(opts.prompt);
      const res = await proc.request({ type: 'prompt', message: opts.prompt }, this.timeouts.commandMs);
      if (!res.success) {
        const reason = res.error ?? 'unknown error';
        throw new AppError('AGENT_START_FAILED', `The agent rejected the prompt: ${reason}${/no api key/i.test(reason) ? NO_MODEL_ADVICE : ''}`);
      }
    } catch (err) {
      const failure = await this.startFailure(proc, err);
      await proc.terminate(proc.tree(), 0, this.timeouts.killMs);
      throw failure;
    }
    session.markRunning();
    return session;
  }

  /**
   * Starts the agent (sandboxed like a run, in `cwd`), asks for its configured model and the
   * models it has keys for, and ends it. No model request is made. For `chatops doctor`.
   */
  async probeModels(cwd: string, sessionFile: string): Promise<{ model: string | null; available: string[] }> {
    const env = { ...this.options.env, PI_CODING_AGENT_DIR: this.options.agentDir, PI_OFFLINE: '1', PI_SKIP_VERSION_CHECK: '1' };
    const args = this.argsFor(sessionFile);
    const spawn = this.options.sandbox ? this.options.sandbox.wrap(this.options.command, args, { cwd, sessionFile, env }) : { command: this.options.command, args };
    const proc = new RpcProcess({ ...spawn, cwd, env }, this.options.logger.child({ component: 'pi-probe' }));
    try {
      await proc.spawned.catch((err: unknown) => {
        throw spawnError(this.options.command, err);
      });
      const state = await proc.request({ type: 'get_state' }, this.timeouts.startMs);
      const models = await proc.request({ type: 'get_available_models' }, this.timeouts.commandMs);
      const m = (state.data as { model?: { provider?: string; id?: string } | null } | undefined)?.model;
      const list = ((models.data as { models?: Array<{ provider?: string; id?: string }> } | undefined)?.models ?? []).map((x) => `${x.provider}/${x.id}`);
      return { model: m?.id ? `${m.provider}/${m.id}` : null, available: list };
    } catch (err) {
      throw await this.startFailure(proc, err);
    } finally {
      await proc.terminate(proc.tree(), 0, this.timeouts.killMs);
    }
  }

  private async startFailure(proc: RpcProcess, err: unknown): Promise<AppError> {
    if (err instanceof AppError) return err;
    if (err instanceof RpcExitError) {
      // Let the exit be recorded and stderr drain before quoting it (bounded: a closed stdin
      // can raise this while the process still lives; the caller terminates it next).
      let timer: NodeJS.Timeout | undefined;
      const exit = await Promise.race([
        proc.exited,
        new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), this.timeouts.killMs))),
      ]).finally(() => clearTimeout(timer));
      const stderr = proc.stderrTail();
      return new AppError(
        'AGENT_START_FAILED',
        `The agent exited before it was ready (${exit ? describeExit(exit) : 'its input closed'})${stderr ? `: ${stderr}` : ' without an error message'}`,
        { cause: err },
      );
    }
    const stderr = proc.stderrTail();
    return new AppError('AGENT_START_FAILED', `The agent did not start: ${errorText(err)}${stderr ? `\n${stderr}` : ''}`, { cause: err });
  }
}

/** Hides the value of `--api-key` (AGENT_ARGS may carry one) in logs. */
export function redactArgs(args: string[]): string[] {
  return args.map((arg, i) => (args[i - 1] === '--api-key' ? '[redacted]' : arg.startsWith('--api-key=') ? '--api-key=[redacted]' : arg));
}

function spawnError(command: string, err: unknown): AppError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') {
    return new AppError(
      'AGENT_START_FAILED',
      `Agent command not found: "${command}". Set AGENT_COMMAND to an installed pi executable (see .env.example), or unset it to use the bundled pi.`,
      { cause: err },
    );
  }
  if (code === 'EACCES') {
    return new AppError('AGENT_START_FAILED', `Agent command "${command}" is not executable (check AGENT_COMMAND, see .env.example).`, { cause: err });
  }
  return new AppError('AGENT_START_FAILED', `Could not start the agent "${command}": ${errorText(err)}`, { cause: err });
}
