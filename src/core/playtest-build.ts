/**
 * `cargo run` as a build and a game. The build writes to a cargo target folder every run shares
 * (PLAYTEST_CARGO_TARGET_DIR), so a new worktree reuses the compiled dependencies (Bevy) of the
 * others; the game binary is then copied into the playtest's own folder and started from there.
 *
 * Why more than a shared CARGO_TARGET_DIR: cargo names a workspace's own crates by their path
 * *relative to the workspace*, so two worktrees of one repository are the same crate to it, and
 * a build of worktree B right after worktree A can call A's binary fresh and hand it over
 * (test/core/playtest-cargo.test.ts shows it). So builds take turns (one at a time per bot), and
 * when the previous build came from another worktree the workspace's own crates are cleaned
 * first (`cargo clean -p`); dependencies stay.
 */
import fs from 'node:fs';
import path from 'node:path';
import shellQuote from 'shell-quote';
import { execa } from 'execa';
import type { Logger } from 'pino';
import { ensurePrivateDir } from './private-files.js';
import type { PlaytestProcess, ProcessResult } from './playtest-process.js';

export interface CargoRun {
  /** Options for `cargo build` (everything between `cargo run` and `--`). */
  buildArgs: string[];
  /** `--bin NAME` / `--example NAME`, when given. */
  target: { kind: 'bin' | 'example'; name: string } | null;
  /** Arguments after `--`, for the game. */
  gameArgs: string[];
}

/** `cargo run [options] [-- game args]` split up, or null for any other command line. */
export function parseCargoRun(command: string): CargoRun | null {
  const parts = shellQuote.parse(command);
  if (parts.some((p) => typeof p !== 'string')) return null;
  const words = parts as string[];
  if (words[0] !== 'cargo' || words[1] !== 'run') return null;
  const sep = words.indexOf('--');
  const buildArgs = sep < 0 ? words.slice(2) : words.slice(2, sep);
  const gameArgs = sep < 0 ? [] : words.slice(sep + 1);
  let target: CargoRun['target'] = null;
  buildArgs.forEach((w, i) => {
    const m = /^--(bin|example)(?:=(.+))?$/.exec(w);
    const name = m?.[2] ?? buildArgs[i + 1];
    if (m && name) target = { kind: m[1] as 'bin' | 'example', name };
  });
  return { buildArgs, target, gameArgs };
}

export interface BuildRequest {
  cwd: string;
  env: Record<string, string>;
  run: CargoRun;
  /** Where the game binary is copied to (created 0700). */
  destDir: string;
  /** Starts a process of the playtest (sandboxed, stoppable, its lines go to the output). */
  spawn(command: string, args: string[], env: Record<string, string>, onStdout: (line: string) => void): PlaytestProcess;
  /** True once the playtest was stopped. */
  cancelled(): boolean;
  /** Resolves when the playtest is stopped (a build waiting for its turn gives up). */
  stopped: Promise<void>;
  /** Called when the build has to wait for another run's build first. */
  onWait(): void;
}

export type BuildResult = { ok: true; binary: string } | { ok: false; result: ProcessResult | null; message: string };

interface Artifact {
  executable: string;
  kind: string[];
  name: string;
}

const MARKER = '.chatops-last-worktree';

export class CargoBuilds {
  private turn: Promise<void> = Promise.resolve();
  private queued = 0;

  /** `targetDir` null: each worktree builds into its own `target/`. */
  constructor(
    readonly targetDir: string | null,
    private readonly log: Logger,
  ) {}

  /** Builds, then copies the game binary to `destDir`. Builds into a shared folder take turns. */
  async build(req: BuildRequest): Promise<BuildResult> {
    if (!this.targetDir) return this.buildNow(req, null);
    const previous = this.turn;
    let release!: () => void;
    this.turn = new Promise((resolve) => (release = resolve));
    if (this.queued > 0) req.onWait();
    this.queued += 1;
    try {
      // A stop while waiting gives up at once; the next build still waits for the one before.
      const myTurn = await Promise.race([previous.then(() => true), req.stopped.then(() => false)]);
      if (!myTurn) {
        void previous.then(release);
        return { ok: false, result: null, message: 'stopped while waiting for its turn to build' };
      }
      try {
        return await this.buildNow(req, this.targetDir);
      } finally {
        release();
      }
    } finally {
      this.queued -= 1;
    }
  }

  private async buildNow(req: BuildRequest, targetDir: string | null): Promise<BuildResult> {
    if (req.cancelled()) return { ok: false, result: null, message: 'stopped before the build' };
    const env = targetDir ? { ...req.env, CARGO_TARGET_DIR: targetDir } : { ...req.env };
    if (targetDir) {
      fs.mkdirSync(targetDir, { recursive: true });
      const marker = path.join(targetDir, MARKER);
      const last = fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8') : null;
      if (last !== req.cwd) {
        const cleaned = await this.cleanWorkspace(req, env);
        if (!cleaned.ok) return cleaned;
        fs.writeFileSync(marker, req.cwd);
      }
    }
    const artifacts: Artifact[] = [];
    const proc = req.spawn('cargo', ['build', ...req.run.buildArgs, '--message-format=json-render-diagnostics'], env, (line) => {
      if (!line.startsWith('{')) return;
      try {
        const msg = JSON.parse(line) as { reason?: string; executable?: string | null; target?: { kind?: string[]; name?: string } };
        if (msg.reason === 'compiler-artifact' && msg.executable) artifacts.push({ executable: msg.executable, kind: msg.target?.kind ?? [], name: msg.target?.name ?? '' });
      } catch {
        // Not one of cargo's messages.
      }
    });
    const result = await proc.result;
    if (req.cancelled()) return { ok: false, result, message: 'stopped during the build' };
    if (result.exitCode !== 0) {
      const why = result.exitCode === undefined ? `could not run cargo: ${result.shortMessage ?? 'unknown error'}` : `\`cargo build\` exited with code ${result.exitCode}`;
      return { ok: false, result, message: `The build failed: ${why}.` };
    }
    const picked = pickExecutable(artifacts, req.run.target);
    if (typeof picked === 'string') return { ok: false, result, message: picked };
    ensurePrivateDir(req.destDir);
    const binary = path.join(req.destDir, path.basename(picked.executable));
    fs.rmSync(binary, { force: true });
    fs.copyFileSync(picked.executable, binary);
    fs.chmodSync(binary, 0o700);
    this.log.info({ cwd: req.cwd, from: picked.executable, binary }, 'playtest build copied');
    return { ok: true, binary };
  }

  /** `cargo clean -p` for every crate of the worktree's workspace (not its dependencies). */
  private async cleanWorkspace(req: BuildRequest, env: Record<string, string>): Promise<BuildResult | { ok: true }> {
    const lines: string[] = [];
    const meta = await req.spawn('cargo', ['metadata', '--no-deps', '--format-version', '1'], env, (l) => lines.push(l)).result;
    if (req.cancelled()) return { ok: false, result: meta, message: 'stopped before the build' };
    if (meta.exitCode !== 0) return { ok: false, result: meta, message: `\`cargo metadata\` failed (exit code ${meta.exitCode ?? 'none'}): is Cargo.toml valid?` };
    let names: string[] = [];
    try {
      names = (JSON.parse(lines.join('')) as { packages: { name: string }[] }).packages.map((p) => p.name);
    } catch {
      return { ok: false, result: meta, message: '`cargo metadata` printed something that is not its JSON' };
    }
    if (names.length === 0) return { ok: true };
    const clean = await req.spawn('cargo', ['clean', ...names.flatMap((n) => ['-p', n])], env, () => {}).result;
    if (clean.exitCode !== 0 && !req.cancelled()) return { ok: false, result: clean, message: `\`cargo clean -p ${names.join(' -p ')}\` failed (exit code ${clean.exitCode ?? 'none'})` };
    return { ok: true };
  }
}

/** The binary `cargo run` would start, or why there is none to pick. */
function pickExecutable(artifacts: Artifact[], target: CargoRun['target']): Artifact | string {
  const kind = target?.kind ?? 'bin';
  const candidates = artifacts.filter((a) => a.kind.includes(kind) && (!target || a.name === target.name));
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length === 0) {
    return target ? `The build made no ${kind} named "${target.name}".` : 'The build made no binary to run: is there a src/main.rs or a [[bin]] in Cargo.toml?';
  }
  const names = [...new Set(candidates.map((a) => a.name))].join(', ');
  return `The build made several binaries (${names}): set PLAYTEST_COMMAND to \`cargo run --bin <name>\`.`;
}
