/**
 * Playtests: the team's game command (`cargo run` by default) run from a run's worktree, one at
 * a time per run, on a display of its own (src/core/playtest-display.ts). `cargo run` is built
 * first (src/core/playtest-build.ts) and the thread sees the phases: started, building (with the
 * elapsed time), running, output batches, exited or failed with the output's tail. Every line
 * goes to the full log in DATA_DIR/playtests/<runId>/<n>.log; screenshots and clips
 * (src/core/playtest-media.ts) are emitted as `playtest_media` events.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Duration } from '../config-limits.js';
import type { PlaytestConfig } from '../config-playtest.js';
import { UserError, errorText } from './errors.js';
import { CargoBuilds, parseCargoRun, type CargoRun } from './playtest-build.js';
import { detectCaptureTools, type CaptureTools } from './playtest-capture.js';
import { openDisplay, type PlaytestDisplay } from './playtest-display.js';
import { PlaytestCamera } from './playtest-media.js';
import { MAX_TEXT, PlaytestOutput, endHead } from './playtest-output.js';
import { killPlaytestProcessSync, spawnPlaytestProcess, stopPlaytestProcess, type PlaytestProcess, type ProcessResult } from './playtest-process.js';
import { ensurePrivateDir } from './private-files.js';
import { Redactor } from './redact.js';
import type { Sandbox } from './sandbox.js';
import type { Actor, RunEventData } from './types.js';

export type PlaytestSettings = Pick<PlaytestConfig, 'display' | 'hostDisplay' | 'resolution' | 'captureAfter' | 'clip' | 'cargoTargetDir' | 'filesDir'>;

export interface PlaytestsOptions {
  /** A shell command line, e.g. `cargo run`. */
  command: string;
  /** The whole environment of the playtest process (nothing else is inherited). */
  env: Record<string, string>;
  logger: Logger;
  onEvent: (runId: string, data: RunEventData) => void;
  /** Display, capture, shared cargo target and DATA_DIR/playtests (src/config-playtest.ts). */
  settings: PlaytestSettings;
  /** How long a stop waits after SIGTERM before SIGKILL. Default 5000 ms. */
  stopTimeoutMs?: number;
  /** Output is sent at most this often. Default 2000 ms. */
  outputFlushMs?: number;
  /** While building, a `building` event with the elapsed time this often. Default 10 000 ms. */
  progressMs?: number;
  /** PLAYTEST_TIMEOUT: a game running this long is stopped (and the thread told). None when omitted. */
  timeout?: Duration;
  /** Known secrets, redacted from the output as it streams (also across chunk boundaries). */
  redactor?: Redactor;
  /** Run the build and the game inside this sandbox, with the display; null or absent: unconfined. */
  sandbox?: Sandbox | null;
  /**
   * Told each playtest process (build, game, virtual X server) as it starts and once it has
   * exited; the engine records them so a restart after a crash can end them (src/core/process-records.ts).
   */
  processes?: { onSpawn(runId: string, pid: number, cwd: string): void; onExit(runId: string, pid: number): void };
}

interface Playtest {
  runId: string;
  cwd: string;
  cargo: CargoRun | null;
  dir: string;
  output: PlaytestOutput;
  phase: 'starting' | 'building' | 'running';
  proc: PlaytestProcess | null;
  display: PlaytestDisplay | null;
  camera: PlaytestCamera | null;
  /** Aborted when the game ends: pending captures give up. */
  ended: AbortController;
  stoppedBy: { by: Actor | null } | null;
  done: Promise<void>;
}

export class Playtests {
  private readonly opts: PlaytestsOptions;
  private readonly log: Logger;
  private readonly redactor: Redactor;
  private readonly builds: CargoBuilds;
  private tools: CaptureTools | null = null;
  private readonly active = new Map<string, Playtest>();

  constructor(options: PlaytestsOptions) {
    this.opts = options;
    this.log = options.logger;
    this.redactor = options.redactor ?? Redactor.none();
    this.builds = new CargoBuilds(options.settings.cargoTargetDir, options.logger);
  }

  /** Whether a playtest (its build, game or output) is still live for the run. */
  isRunning(runId: string): boolean {
    return this.active.has(runId);
  }

  /**
   * Starts the run's playtest in `cwd` (its worktree) and emits `started` at once; the rest
   * follows as events. Throws `UserError('PLAYTEST')` when one already runs for this run, the
   * worktree is gone, or `cargo run` has no Cargo.toml to build.
   */
  start(runId: string, cwd: string, by: Actor | null): void {
    if (this.active.has(runId)) throw new UserError('PLAYTEST', 'a playtest is already running for this run; stop it first');
    if (!fs.existsSync(cwd) || !fs.statSync(cwd).isDirectory()) {
      throw new UserError('PLAYTEST', `the run's worktree ${cwd} is gone, so there is nothing to playtest; start a new run`);
    }
    const cargo = parseCargoRun(this.opts.command);
    if (cargo && !fs.existsSync(path.join(cwd, 'Cargo.toml'))) {
      throw new UserError(
        'PLAYTEST',
        `this run's worktree has no Cargo.toml, so \`${this.opts.command}\` has nothing to build. If the game is not a Rust/cargo project, set PLAYTEST_COMMAND in the bot's .env to the command that starts it (see .env.example).`,
      );
    }
    const dir = path.join(this.opts.settings.filesDir, runId);
    ensurePrivateDir(dir);
    const n = fs.readdirSync(dir).filter((f) => /^\d+\.log$/.test(f)).length + 1;
    const entry: Playtest = {
      runId,
      cwd,
      cargo,
      dir,
      output: new PlaytestOutput(path.join(dir, `${n}.log`), this.opts.outputFlushMs ?? 2000, (text) => this.emitPhase(entry, 'output', text, null, null), this.redactor.redact),
      phase: 'starting',
      proc: null,
      display: null,
      camera: null,
      ended: new AbortController(),
      stoppedBy: null,
      done: Promise.resolve(),
    };
    this.active.set(runId, entry);
    this.log.info({ runId, cwd, log: entry.output.logFile, command: this.opts.command }, 'playtest started');
    entry.output.write(`playtest of run ${runId} in ${cwd}: ${this.opts.command}`);
    this.emitPhase(entry, 'started', this.opts.command, null, by);
    entry.done = this.play(entry, n).catch((err: unknown) => this.log.error({ runId, err: errorText(err) }, 'playtest failed unexpectedly'));
  }

  /**
   * Stops the run's playtest (its build or game, whole tree, then its display). Resolves once
   * all of it is gone and the `exited` event (naming `by`) was emitted; false when nothing was
   * running. Safe to call twice.
   */
  async stop(runId: string, by: Actor | null): Promise<boolean> {
    const entry = this.active.get(runId);
    if (!entry) return false;
    if (!entry.stoppedBy) {
      entry.stoppedBy = { by };
      this.log.info({ runId, by }, 'stopping playtest');
      entry.ended.abort();
      if (entry.proc) await stopPlaytestProcess(entry.proc, this.opts.stopTimeoutMs ?? 5000, this.log);
    }
    await entry.done;
    return true;
  }

  /** Stops every playtest (bot shutdown); resolves when all have exited. */
  async stopAll(by: Actor | null = null): Promise<void> {
    await Promise.all([...this.active.keys()].map((runId) => this.stop(runId, by)));
  }

  /** Last resort on process exit (no event loop left): SIGKILL every playtest's tree and display. */
  killAllSync(): void {
    for (const entry of this.active.values()) {
      if (entry.proc) killPlaytestProcessSync(entry.proc);
      entry.display?.killSync();
    }
  }

  /** Takes a screenshot of the run's running game and emits it as `playtest_media` (📸). */
  async capture(runId: string, by: Actor | null): Promise<void> {
    const entry = this.active.get(runId);
    if (!entry || entry.stoppedBy) throw new UserError('PLAYTEST', 'no playtest is running for this run; react 🎮 to start one');
    if (entry.phase !== 'running' || !entry.camera) throw new UserError('PLAYTEST', 'the game is not running yet (it is still building or starting); react 📸 again once it runs');
    if (!entry.camera.hasDisplay) throw new UserError('PLAYTEST', 'this playtest has no display to capture (see PLAYTEST_DISPLAY in .env.example)');
    const file = await entry.camera.shot();
    this.emit(runId, { type: 'playtest_media', files: [file], note: null, by });
  }

  private async play(entry: Playtest, n: number): Promise<void> {
    let result: ProcessResult | null = null;
    let failure: string | null = null;
    try {
      let command = this.opts.command;
      let args: string[] = [];
      if (entry.cargo) {
        const built = await this.build(entry, entry.cargo);
        if (!built.ok) {
          result = built.result;
          failure = entry.stoppedBy ? null : built.message;
        } else {
          [command, args] = [built.binary, entry.cargo.gameArgs];
        }
      }
      if (!failure && !entry.stoppedBy) {
        // After the build: a long build keeps no idle X server.
        entry.display = await openDisplay(this.opts.settings, this.opts.env, path.join(entry.dir, `${n}.xauth`), this.log);
        if (entry.display.pid) this.opts.processes?.onSpawn(entry.runId, entry.display.pid, entry.cwd);
        if (entry.display.note) this.emit(entry.runId, { type: 'warning', message: `🎮 ${entry.display.note}` });
        const tools = (this.tools ??= detectCaptureTools(this.opts.env.PATH ?? '/usr/bin:/bin'));
        entry.camera = new PlaytestCamera(entry.display, tools, this.opts.settings, entry.dir, n, `playtest-${entry.runId.slice(0, 8)}`);
        await entry.camera.before();
        result = await this.runGame(entry, command, args);
      }
    } catch (err) {
      if (!entry.stoppedBy) failure = err instanceof UserError ? `Could not start the playtest: ${err.message}` : `Could not start the playtest: ${errorText(err)}`;
    } finally {
      entry.ended.abort();
      entry.output.flush();
      await entry.display?.close();
      if (entry.display?.pid) this.opts.processes?.onExit(entry.runId, entry.display.pid);
      if (entry.cargo) fs.rmSync(path.join(entry.dir, 'bin'), { recursive: true, force: true });
    }
    this.finish(entry, result, failure);
  }

  private async build(entry: Playtest, cargo: CargoRun): ReturnType<CargoBuilds['build']> {
    entry.phase = 'building';
    entry.output.section('cargo build');
    const started = Date.now();
    const progress = (): void => this.emitPhase(entry, 'building', entry.output.last ?? 'cargo build', null, null, Date.now() - started);
    progress();
    const timer = setInterval(progress, this.opts.progressMs ?? 10_000);
    try {
      return await this.builds.build({
        cwd: entry.cwd,
        env: this.opts.env,
        run: cargo,
        destDir: path.join(entry.dir, 'bin'),
        cancelled: () => entry.stoppedBy !== null,
        stopped: new Promise((resolve) => entry.ended.signal.addEventListener('abort', () => resolve(), { once: true })),
        onWait: () => {
          entry.output.last = "waiting for another run's build to finish (builds share one cargo target and take turns)";
          progress();
        },
        spawn: (command, args, env, onStdout) =>
          this.spawn(entry, command, args, env, false, (line, stream) => (stream === 'stdout' ? onStdout(line) : entry.output.add(line, { batch: false }))),
      });
    } finally {
      clearInterval(timer);
    }
  }

  private async runGame(entry: Playtest, command: string, args: string[]): Promise<ProcessResult> {
    const env = { ...this.opts.env, ...entry.display!.env, ...(entry.cargo ? { CARGO_MANIFEST_DIR: entry.cwd } : {}) };
    entry.output.section('game');
    entry.phase = 'running';
    const proc = this.spawn(entry, command, args, env, !entry.cargo, (line) => entry.output.add(line));
    this.emitPhase(entry, 'running', entry.cargo ? `${path.basename(command)} ${args.join(' ')}`.trim() : command, null, null);
    const timeout = this.opts.timeout;
    const deadline = timeout
      ? setTimeout(() => {
          if (this.active.get(entry.runId) !== entry || entry.stoppedBy) return;
          this.log.info({ runId: entry.runId, timeout: timeout.text }, 'playtest reached PLAYTEST_TIMEOUT; stopping it');
          this.emit(entry.runId, { type: 'warning', message: `🎮 The playtest ran for ${timeout.text} (PLAYTEST_TIMEOUT); stopping it. React 🎮 again to start a new one.` });
          void this.stop(entry.runId, null);
        }, timeout.ms)
      : null;
    deadline?.unref();
    const capture = entry.camera!.hasDisplay ? this.firstCapture(entry) : Promise.resolve();
    const result = await proc.result;
    if (deadline) clearTimeout(deadline);
    entry.ended.abort();
    await capture;
    return result;
  }

  private async firstCapture(entry: Playtest): Promise<void> {
    try {
      const media = await entry.camera!.first(entry.ended.signal);
      if (media) this.emit(entry.runId, { type: 'playtest_media', files: media.files, note: media.note, by: null });
    } catch (err) {
      if (entry.ended.signal.aborted) return;
      this.emit(entry.runId, { type: 'warning', message: `🎮 Could not capture the playtest's screen: ${err instanceof UserError ? err.message : errorText(err)}` });
    }
  }

  private spawn(entry: Playtest, command: string, args: string[], env: Record<string, string>, shell: boolean, onLine: (line: string, stream: 'stdout' | 'stderr') => void): PlaytestProcess {
    const { sandbox } = this.opts;
    const target = this.opts.settings.cargoTargetDir;
    // A stop between two of its processes: start no further one.
    if (entry.stoppedBy) throw new Error('the playtest was stopped');
    const [cmd, argv] = shell ? ['/bin/sh', ['-c', command]] : [command, args];
    const wrapped = sandbox?.wrap(cmd, argv, { cwd: entry.cwd, env, display: true, rw: target ? [target] : [], ro: [path.join(entry.dir, 'bin')] });
    const proc = spawnPlaytestProcess(wrapped?.command ?? cmd, wrapped?.args ?? argv, { cwd: entry.cwd, env, shell: false, redactor: this.redactor, onLine });
    entry.proc = proc;
    const { processes } = this.opts;
    if (processes && proc.pid > 0) {
      processes.onSpawn(entry.runId, proc.pid, entry.cwd);
      void proc.result.then(() => processes.onExit(entry.runId, proc.pid));
    }
    return proc;
  }

  private finish(entry: Playtest, result: ProcessResult | null, failure: string | null): void {
    if (this.active.get(entry.runId) === entry) this.active.delete(entry.runId);
    const exitCode = result?.exitCode ?? null;
    const { phase, head } = endHead(this.opts.command, entry.stoppedBy, failure, result);
    const logLine = `\nFull log: ${entry.output.logFile}`;
    const text = head + entry.output.tailBlock(MAX_TEXT - head.length - logLine.length) + logLine;
    entry.output.write(`===== ${head}`);
    entry.output.close();
    this.log.info({ runId: entry.runId, exitCode, signal: result?.signal, phase }, 'playtest ended');
    this.emitPhase(entry, phase, text, exitCode, entry.stoppedBy?.by ?? null);
  }

  private emitPhase(entry: Playtest, phase: Extract<RunEventData, { type: 'playtest' }>['phase'], text: string, exitCode: number | null, by: Actor | null, elapsedMs?: number): void {
    const withLog = phase === 'exited' || phase === 'failed' || phase === 'started';
    this.emit(entry.runId, { type: 'playtest', phase, text, exitCode, by, ...(elapsedMs === undefined ? {} : { elapsedMs }), ...(withLog ? { logFile: entry.output.logFile } : {}) });
  }

  private emit(runId: string, data: RunEventData): void {
    try {
      this.opts.onEvent(runId, data);
    } catch (err) {
      this.log.error({ runId, err: errorText(err) }, 'playtest event handler failed');
    }
  }
}
