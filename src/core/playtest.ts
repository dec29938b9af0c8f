/**
 * Playtests: the team's game command (`cargo run` by default) run from a run's worktree, one at
 * a time per run. Output reaches the run's events as bounded, batched tails. A stop collects the
 * whole process tree first (cargo starts the game as its child) and kills every member and
 * group, so nothing outlives it.
 */
import fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { execa } from 'execa';
import type { Logger } from 'pino';
import type { Duration } from '../config-limits.js';
import { UserError, errorText } from './errors.js';
import { processTree, signalTree } from './process-tree.js';
import { Redactor } from './redact.js';
import type { Sandbox } from './sandbox.js';
import type { Actor, RunEventData } from './types.js';

export interface PlaytestsOptions {
  /** A shell command line, e.g. `cargo run`. */
  command: string;
  /** The whole environment of the playtest process (nothing else is inherited). */
  env: Record<string, string>;
  logger: Logger;
  onEvent: (runId: string, data: RunEventData) => void;
  /** How long a stop waits after SIGTERM before SIGKILL. Default 5000 ms. */
  stopTimeoutMs?: number;
  /** Output is sent at most this often. Default 2000 ms. */
  outputFlushMs?: number;
  /** PLAYTEST_TIMEOUT: a playtest running this long is stopped (and the thread told). None when omitted. */
  timeout?: Duration;
  /** Known secrets, redacted from the output as it streams (also across chunk boundaries). */
  redactor?: Redactor;
  /** Run the command inside this sandbox, with the display; null or absent: unconfined. */
  sandbox?: Sandbox | null;
  /** Told each playtest process as it starts and once it has exited (the engine records them: src/core/process-records.ts). */
  processes?: { onSpawn(runId: string, pid: number, cwd: string): void; onExit(runId: string, pid: number): void };
}

/** Lines kept for an output event and for the exit event's tail. */
const TAIL_LINES = 20;
/** Upper bound of an event's text. */
const MAX_TEXT = 1500;
/** Longest line kept; longer lines (and output without newlines) are cut. */
const MAX_LINE = 400;
const POLL_MS = 25;

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;

interface Playtest {
  pid: number;
  tail: string[];
  pending: string[];
  skipped: number;
  timer: NodeJS.Timeout | null;
  /** Ends the playtest at PLAYTEST_TIMEOUT. */
  deadline: NodeJS.Timeout | null;
  stoppedBy: { by: Actor | null } | null;
  done: Promise<void>;
  /** Closes our ends of its output pipes (the process is ended, but something may still hold them). */
  closeOutput: () => void;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Alive and not a zombie (a killed child nobody has reaped yet counts as gone). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return !fs.existsSync('/proc/self/stat');
  }
}

/** Keeps the end of `text` within `max` characters. */
function tailText(text: string, max = MAX_TEXT): string {
  return text.length <= max ? text : `…${text.slice(text.length - max + 1)}`;
}

export class Playtests {
  private readonly command: string;
  private readonly env: Record<string, string>;
  private readonly log: Logger;
  private readonly onEvent: PlaytestsOptions['onEvent'];
  private readonly stopTimeoutMs: number;
  private readonly outputFlushMs: number;
  private readonly timeout: Duration | null;
  private readonly redactor: Redactor;
  private readonly sandbox: Sandbox | null;
  private readonly active = new Map<string, Playtest>();

  constructor(private readonly options: PlaytestsOptions) {
    this.command = options.command;
    this.env = options.env;
    this.log = options.logger;
    this.onEvent = options.onEvent;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 5000;
    this.outputFlushMs = options.outputFlushMs ?? 2000;
    this.timeout = options.timeout ?? null;
    this.redactor = options.redactor ?? Redactor.none();
    this.sandbox = options.sandbox ?? null;
  }

  /** Whether a playtest process (or its output) is still live for the run. */
  isRunning(runId: string): boolean {
    return this.active.has(runId);
  }

  /**
   * Spawns the command in `cwd` (the run's worktree) in its own process group, and emits
   * `started` at once. Output follows as `output` events; the end as `exited`, or `failed` when
   * the command could not start (missing folder, command not found). Throws
   * `UserError('PLAYTEST')` when one already runs for this run.
   */
  start(runId: string, cwd: string, by: Actor | null): void {
    if (this.active.has(runId)) {
      throw new UserError('PLAYTEST', 'a playtest is already running for this run; stop it first');
    }
    if (!fs.existsSync(cwd) || !fs.statSync(cwd).isDirectory()) {
      throw new UserError('PLAYTEST', `the run's worktree ${cwd} is gone, so there is nothing to playtest; start a new run`);
    }
    const sandboxed = this.sandbox?.wrap('/bin/sh', ['-c', this.command], { cwd, env: this.env, display: true });
    const subprocess = execa(sandboxed?.command ?? this.command, sandboxed?.args ?? [], {
      shell: !sandboxed,
      cwd,
      env: this.env,
      extendEnv: false,
      detached: true,
      cleanup: false,
      stdin: 'ignore',
      buffer: false,
      reject: false,
      windowsHide: true,
    });
    const entry: Playtest = {
      pid: subprocess.pid ?? 0,
      tail: [],
      pending: [],
      skipped: 0,
      timer: null,
      deadline: null,
      stoppedBy: null,
      done: Promise.resolve(),
      closeOutput: () => {
        subprocess.stdout?.destroy();
        subprocess.stderr?.destroy();
      },
    };
    this.active.set(runId, entry);
    if (entry.pid > 0) this.options.processes?.onSpawn(runId, entry.pid, cwd);
    this.log.info({ runId, pid: entry.pid, cwd, command: this.command }, 'playtest started');
    this.emit(runId, { type: 'playtest', phase: 'started', text: this.command, exitCode: null, by });
    if (this.timeout) {
      const limit = this.timeout;
      entry.deadline = setTimeout(() => {
        if (this.active.get(runId) !== entry || entry.stoppedBy) return;
        this.log.info({ runId, pid: entry.pid, timeout: limit.text }, 'playtest reached PLAYTEST_TIMEOUT; stopping it');
        this.emit(runId, { type: 'warning', message: `🎮 The playtest ran for ${limit.text} (PLAYTEST_TIMEOUT); stopping it. React 🎮 again to start a new one.` });
        void this.stop(runId, null);
      }, limit.ms);
      entry.deadline.unref();
    }

    for (const stream of [subprocess.stdout, subprocess.stderr]) {
      if (!stream) continue;
      const decoder = new StringDecoder('utf8');
      const secrets = this.redactor.stream();
      let carry = '';
      const take = (chunk: string): void => {
        const parts = (carry + chunk).split(/\r\n|\n|\r/);
        carry = parts.pop() ?? '';
        if (carry.length > MAX_LINE) {
          parts.push(carry);
          carry = '';
        }
        for (const line of parts) this.addLine(runId, entry, line);
      };
      stream.on('data', (chunk: Buffer) => take(secrets.push(decoder.write(chunk))));
      stream.on('end', () => {
        take(secrets.push(decoder.end()) + secrets.end());
        if (carry) this.addLine(runId, entry, carry);
        carry = '';
      });
    }

    entry.done = subprocess.then(
      (result) => this.finish(runId, entry, result),
      (err: unknown) => this.finish(runId, entry, { failed: true, shortMessage: errorText(err) }),
    );
  }

  /**
   * Stops the run's playtest: SIGTERM to its whole process tree and groups, SIGKILL to whatever
   * is left after `stopTimeoutMs`. Resolves once the process has exited and its `exited` event
   * (naming `by`) was emitted; false when nothing was running. Safe to call twice.
   */
  async stop(runId: string, by: Actor | null): Promise<boolean> {
    const entry = this.active.get(runId);
    if (!entry) return false;
    if (entry.stoppedBy) {
      await entry.done;
      return true;
    }
    entry.stoppedBy = { by };
    this.log.info({ runId, pid: entry.pid, by }, 'stopping playtest');
    // Collect the tree before anyone exits and is re-parented away from it.
    const pids = entry.pid > 0 ? processTree(entry.pid) : [];
    const signal = (sig: NodeJS.Signals): void => {
      const now = entry.pid > 0 ? processTree(entry.pid) : [];
      const all = [...new Set([...pids, ...now, ...pids.flatMap((p) => (running(p) ? processTree(p) : []))])];
      if (entry.pid > 0) signalTree([entry.pid], sig); // the group, even when its leader is gone
      signalTree(all, sig);
      for (const pid of all) if (!pids.includes(pid)) pids.push(pid);
    };
    signal('SIGTERM');
    if (!(await this.waitGone(entry, pids, this.stopTimeoutMs))) {
      this.log.warn({ runId, alive: pids.filter(running) }, 'playtest ignored SIGTERM; killing');
      signal('SIGKILL');
      if (!(await this.waitGone(entry, pids, this.stopTimeoutMs))) {
        // The playtest is gone, but a process that left its tree (started in a group of its own
        // as it was being stopped) may still hold its output open: stop reading, so the stop ends.
        this.log.warn({ runId, alive: pids.filter(running) }, 'playtest output still open after SIGKILL; closing our end');
        entry.closeOutput();
      }
    }
    await entry.done;
    return true;
  }

  /** Stops every playtest (bot shutdown); resolves when all have exited. */
  async stopAll(by: Actor | null = null): Promise<void> {
    await Promise.all([...this.active.keys()].map((runId) => this.stop(runId, by)));
  }

  /** Last resort on process exit (no event loop left): SIGKILL every playtest's whole tree. */
  killAllSync(): void {
    for (const entry of this.active.values()) signalTree(processTree(entry.pid), 'SIGKILL');
  }

  /** True once the root has exited and every collected pid is gone, false after `ms`. */
  private async waitGone(entry: Playtest, pids: number[], ms: number): Promise<boolean> {
    let exited = false;
    void entry.done.then(() => {
      exited = true;
    });
    const deadline = Date.now() + ms;
    for (;;) {
      if (exited && !pids.some(running)) return true;
      if (Date.now() >= deadline) return false;
      await delay(POLL_MS);
    }
  }

  private addLine(runId: string, entry: Playtest, raw: string): void {
    let line = raw.replace(ANSI, '').trimEnd();
    if (line === '') return;
    if (line.length > MAX_LINE) line = `${line.slice(0, MAX_LINE - 1)}…`;
    entry.tail.push(line);
    if (entry.tail.length > TAIL_LINES) entry.tail.shift();
    entry.pending.push(line);
    if (entry.pending.length > TAIL_LINES) {
      entry.pending.shift();
      entry.skipped += 1;
    }
    if (!entry.timer) entry.timer = setTimeout(() => this.flush(runId, entry), this.outputFlushMs);
  }

  /** Emits the lines gathered since the last output event (only the tail when output floods). */
  private flush(runId: string, entry: Playtest): void {
    entry.timer = null;
    if (entry.pending.length === 0 || this.active.get(runId) !== entry) return;
    const head = entry.skipped > 0 ? `… (${entry.skipped} lines skipped)\n` : '';
    const text = head + tailText(entry.pending.join('\n'), MAX_TEXT - head.length);
    entry.pending = [];
    entry.skipped = 0;
    this.emit(runId, { type: 'playtest', phase: 'output', text, exitCode: null, by: null });
  }

  private finish(
    runId: string,
    entry: Playtest,
    result: { exitCode?: number; signal?: string; failed?: boolean; shortMessage?: string },
  ): void {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = null;
    if (entry.deadline) clearTimeout(entry.deadline);
    entry.deadline = null;
    if (this.active.get(runId) === entry) this.active.delete(runId);
    if (entry.pid > 0) this.options.processes?.onExit(runId, entry.pid);
    const exitCode = result.exitCode ?? null;
    const tail = entry.tail.length > 0 ? `\nLast output:\n${entry.tail.join('\n')}` : '';
    const cmd = `\`${this.command}\``;
    let phase: 'exited' | 'failed' = 'exited';
    let head: string;
    if (entry.stoppedBy) {
      head = `Playtest ${cmd} stopped by ${entry.stoppedBy.by ?? 'the bot'}.`;
    } else if (exitCode === null && !result.signal) {
      phase = 'failed';
      head = `Could not start playtest ${cmd}: ${result.shortMessage ?? 'unknown error'}`;
    } else if (exitCode === 127) {
      phase = 'failed';
      head = `Could not start playtest ${cmd}: command not found (exit 127). Is it installed and on the bot's PATH? Set PLAYTEST_COMMAND to change it.`;
    } else if (exitCode === 126) {
      phase = 'failed';
      head = `Could not start playtest ${cmd}: the command is not executable (exit 126).`;
    } else if (exitCode === null) {
      head = `Playtest ${cmd} was killed by ${result.signal}.`;
    } else {
      head = `Playtest ${cmd} exited with code ${exitCode}.`;
    }
    this.log.info({ runId, pid: entry.pid, exitCode, signal: result.signal, phase }, 'playtest ended');
    const text = head + tailText(tail, MAX_TEXT - head.length);
    this.emit(runId, { type: 'playtest', phase, text, exitCode, by: entry.stoppedBy?.by ?? null });
  }

  private emit(runId: string, data: RunEventData): void {
    try {
      this.onEvent(runId, data);
    } catch (err) {
      this.log.error({ runId, err: errorText(err) }, 'playtest event handler failed');
    }
  }
}
