import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/core/errors.js';
import { Playtests, type PlaytestSettings } from '../../src/core/playtest.js';
import { silentLogger } from '../../src/logger.js';
import { PlaytestRecorder } from '../support/playtest-recorder.js';

const CRATE = path.resolve('test/fixtures/playtest/crate');
const noCargo = spawnSync('cargo', ['--version']).status !== 0;
if (noCargo) console.warn('playtest cargo tests skipped: cargo is not installed (apt-get install cargo; .ci/run does it as root)');

const env: Record<string, string> = { CARGO_NET_OFFLINE: 'true' };
for (const name of ['PATH', 'HOME', 'CARGO_HOME', 'RUSTUP_HOME', 'RUSTUP_TOOLCHAIN']) if (process.env[name]) env[name] = process.env[name]!;

/** A copy of the fixture crate whose game prints `message` (or does not compile). */
function worktree(main: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'playtest-crate-'));
  fs.cpSync(CRATE, dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'src/main.rs'), main);
  return dir;
}
const saying = (message: string) => `fn main() { println!("game says: ${message}"); }\n`;

let current: Playtests | null = null;
function playtests(rec: PlaytestRecorder, over: Partial<PlaytestSettings> = {}): Playtests {
  const filesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'playtest-files-'));
  const settings: PlaytestSettings = {
    display: 'off',
    hostDisplay: null,
    resolution: { width: 320, height: 240 },
    captureAfter: { ms: 1000, text: '1s' },
    clip: null,
    cargoTargetDir: path.join(filesDir, 'cargo-target'),
    filesDir,
    ...over,
  };
  current = new Playtests({ command: 'cargo run', env, logger: silentLogger(), onEvent: rec.onEvent, outputFlushMs: 20, progressMs: 100, settings });
  return current;
}

afterEach(async () => {
  await current?.stopAll();
  current = null;
});

describe('cargo playtests', () => {
  it('refuses a worktree that is not a cargo project with a message that says what to set', () => {
    const rec = new PlaytestRecorder();
    const pt = playtests(rec);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'not-cargo-'));
    expect(() => pt.start('run-js', dir, null)).toThrow(UserError);
    expect(() => pt.start('run-js', dir, null)).toThrow(/has no Cargo\.toml, so `cargo run` has nothing to build.*set PLAYTEST_COMMAND/);
    expect(pt.isRunning('run-js')).toBe(false);
    expect(rec.events).toEqual([]);
  });

  it.skipIf(noCargo)("builds each worktree into the shared target and runs that worktree's own binary (A, B, then A again)", async () => {
    const rec = new PlaytestRecorder();
    const pt = playtests(rec);
    // Both exist before the first build: B's sources are older than A's build output, the case
    // in which a plain shared CARGO_TARGET_DIR hands A's binary to B.
    const a = worktree(saying('A'));
    const b = worktree(saying('B'));
    for (const [runId, dir, message] of [
      ['run-a', a, 'A'],
      ['run-b', b, 'B'],
      ['run-a2', a, 'A'],
    ] as const) {
      pt.start(runId, dir, null);
      const end = await rec.ended(runId);
      expect(end).toMatchObject({ phase: 'exited', exitCode: 0 });
      expect(end.text).toContain(`game says: ${message}`);
      expect(rec.of(runId).map((e) => e.phase).slice(0, 2)).toEqual(['started', 'building']);
      expect(rec.of(runId)[1]!.elapsedMs).toBe(0);
      expect(rec.of(runId).some((e) => e.phase === 'running')).toBe(true);
    }
    // Dependencies (none here) and the target are shared: nothing was built inside the worktrees.
    expect(fs.existsSync(path.join(a, 'target')) || fs.existsSync(path.join(b, 'target'))).toBe(false);
  });

  it.skipIf(noCargo)('posts the tail of a failing build with its exit code and keeps the full log (0600) under DATA_DIR', async () => {
    const rec = new PlaytestRecorder();
    const pt = playtests(rec);
    pt.start('run-broken', worktree('fn main() { let x: u32 = "not a number"; }\n'), 'discord:3');
    const end = await rec.ended('run-broken');
    expect(end.phase).toBe('failed');
    expect(end.exitCode).toBe(101);
    expect(end.text).toMatch(/^The build failed: `cargo build` exited with code 101\./);
    expect(end.text).toMatch(/```\n[\s\S]*mismatched types[\s\S]*\n```/);
    expect(end.text.length).toBeLessThanOrEqual(1500);
    expect(end.logFile).toMatch(/run-broken\/1\.log$/);
    expect(end.text).toContain(`Full log: ${end.logFile}`);
    expect(fs.statSync(end.logFile!).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(end.logFile!, 'utf8')).toContain('error[E0308]: mismatched types');
    expect(rec.of('run-broken').some((e) => e.phase === 'running')).toBe(false);
  });

  it.skipIf(noCargo)("builds take turns on the shared target, and a playtest stopped while waiting for its turn ends at once", async () => {
    const rec = new PlaytestRecorder();
    const gate = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'playtest-gate-')), 'open');
    env.PLAYTEST_TEST_GATE = gate;
    try {
      const pt = playtests(rec);
      const a = worktree(saying('A'));
      // A build script that blocks A's build until the test opens the gate.
      fs.writeFileSync(
        path.join(a, 'build.rs'),
        'fn main() {\n    let gate = std::env::var("PLAYTEST_TEST_GATE").unwrap();\n    while !std::path::Path::new(&gate).exists() {\n        std::thread::sleep(std::time::Duration::from_millis(20));\n    }\n}\n',
      );
      pt.start('run-a', a, null);
      pt.start('run-b', worktree(saying('B')), null);
      await rec.waitFor('run-b', (e) => e.phase === 'building' && /waiting for another run's build/.test(e.text));
      expect(await pt.stop('run-b', 'discord:1')).toBe(true);
      expect(rec.of('run-b').at(-1)).toMatchObject({ phase: 'exited', by: 'discord:1' });
      expect(rec.of('run-b').some((e) => e.phase === 'running')).toBe(false);
      // A is still building (its gate is shut) while B has already ended.
      expect(pt.isRunning('run-a')).toBe(true);
      expect(rec.of('run-a').some((e) => e.phase === 'running')).toBe(false);
      // While it builds, the live status keeps getting the elapsed time (and cargo's last line).
      const later = await rec.waitFor('run-a', (e) => e.phase === 'building' && /Compiling tiny-game/.test(e.text));
      expect(later.elapsedMs).toBeGreaterThan(0);
      fs.writeFileSync(gate, '');
      const end = await rec.ended('run-a');
      expect(end).toMatchObject({ phase: 'exited', exitCode: 0 });
      expect(end.text).toContain('game says: A');
    } finally {
      delete env.PLAYTEST_TEST_GATE;
    }
  });
});
