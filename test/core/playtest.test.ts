import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UserError } from '../../src/core/errors.js';
import { Playtests, type PlaytestsOptions } from '../../src/core/playtest.js';
import type { RunEventData } from '../../src/core/types.js';
import { silentLogger } from '../../src/logger.js';
import { PlaytestRecorder } from '../support/playtest-recorder.js';

const GAME = fileURLToPath(new URL('../fixtures/playtest/game.mjs', import.meta.url));
const game = (flags: string): string => `"${process.execPath}" "${GAME}" ${flags}`;

const env: Record<string, string> = {};
for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;

class Recorder extends PlaytestRecorder {
  /** Waits for the fixture's `pids <self> <child> <child>` line. */
  async pids(runId: string): Promise<number[]> {
    const e = await this.waitFor(runId, (d) => d.phase === 'output' && /pids \d+/.test(d.text));
    return e.text.match(/pids (\d+) (\d+) (\d+)/)!.slice(1).map(Number);
  }
}

/** Gone, or a zombie waiting to be reaped. */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}

const cwd = fs.realpathSync(os.tmpdir());
let current: Playtests | null = null;

function playtests(command: string, rec: Recorder, opts: Partial<Pick<PlaytestsOptions, 'stopTimeoutMs' | 'timeout' | 'onEvent'>> = {}): Playtests {
  const filesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'playtest-files-'));
  const settings = { display: 'off', hostDisplay: null, resolution: { width: 320, height: 240 }, captureAfter: { ms: 1000, text: '1s' }, clip: null, cargoTargetDir: null, filesDir } as const;
  current = new Playtests({ command, env, logger: silentLogger(), onEvent: rec.onEvent, outputFlushMs: 20, settings, ...opts });
  return current;
}

afterEach(async () => {
  vi.useRealTimers();
  await current?.stopAll();
  current = null;
});

describe('Playtests', () => {
  it('emits started, output batches and exited with the exit code and last lines', async () => {
    const rec = new Recorder();
    const pt = playtests(game('--lines 3 --stderr --exit 3'), rec);
    pt.start('run-1', cwd, 'discord:42');
    expect(pt.isRunning('run-1')).toBe(true);
    expect(rec.of('run-1')[0]).toEqual({ type: 'playtest', phase: 'started', text: game('--lines 3 --stderr --exit 3'), exitCode: null, by: 'discord:42', logFile: expect.stringMatching(/run-1\/1\.log$/) });

    const end = await rec.ended('run-1');
    expect(end.phase).toBe('exited');
    expect(end.exitCode).toBe(3);
    expect(end.text).toContain('exited with code 3');
    expect(end.text).toContain('line 3');
    expect(end.text).toContain('warning: from stderr');
    expect(pt.isRunning('run-1')).toBe(false);
  });

  it('sends output while running, refuses a second start, and stops the whole tree', async () => {
    const rec = new Recorder();
    const pt = playtests(game('--lines 2'), rec);
    pt.start('run-2', cwd, 'slack:U1');
    const [self, sameGroup, ownGroup] = await rec.pids('run-2');
    const output = rec.of('run-2').filter((e) => e.phase === 'output').map((e) => e.text).join('\n');
    expect(output).toContain('line 1\nline 2');

    expect(() => pt.start('run-2', cwd, 'slack:U1')).toThrow(UserError);
    expect(() => pt.start('run-2', cwd, 'slack:U1')).toThrow('a playtest is already running for this run; stop it first');
    for (const pid of [self!, sameGroup!, ownGroup!]) expect(gone(pid)).toBe(false);

    expect(await pt.stop('run-2', 'slack:U2')).toBe(true);
    for (const pid of [self!, sameGroup!, ownGroup!]) expect(gone(pid)).toBe(true);
    expect(pt.isRunning('run-2')).toBe(false);
    const end = rec.of('run-2').at(-1)!;
    expect(end.phase).toBe('exited');
    expect(end.by).toBe('slack:U2');
    expect(end.text).toContain('stopped by slack:U2');

    expect(await pt.stop('run-2', 'slack:U2')).toBe(false);
    pt.start('run-2', cwd, null);
    await rec.pids('run-2');
  });

  it('kills with SIGKILL what ignores SIGTERM', async () => {
    const rec = new Recorder();
    const pt = playtests(game('--lines 0 --ignore-term'), rec, { stopTimeoutMs: 300 });
    pt.start('run-3', cwd, null);
    const pids = await rec.pids('run-3');
    const [first, second] = await Promise.all([pt.stop('run-3', 'cli:ann'), pt.stop('run-3', 'cli:bob')]);
    expect([first, second]).toEqual([true, true]);
    for (const pid of pids) expect(gone(pid)).toBe(true);
    const ends = rec.of('run-3').filter((e) => e.phase === 'exited' || e.phase === 'failed');
    expect(ends).toHaveLength(1);
    expect(ends[0]!.by).toBe('cli:ann');
  });

  it('reports a command that does not exist as failed (exit 127)', async () => {
    const rec = new Recorder();
    const pt = playtests('definitely-not-a-game-command-xyz --release', rec);
    pt.start('run-4', cwd, null);
    const end = await rec.ended('run-4');
    expect(end.phase).toBe('failed');
    expect(end.exitCode).toBe(127);
    expect(end.text).toContain('command not found');
    expect(pt.isRunning('run-4')).toBe(false);
  });

  it('refuses a worktree folder that is gone', () => {
    const rec = new Recorder();
    const pt = playtests(game('--exit 0'), rec);
    expect(() => pt.start('run-5', path.join(cwd, 'no-such-worktree-xyz'), null)).toThrow(UserError);
    expect(pt.isRunning('run-5')).toBe(false);
    expect(rec.events).toEqual([]);
  });

  it('keeps only a bounded tail when output floods', async () => {
    const rec = new Recorder();
    const pt = playtests(game('--lines 5000'), rec);
    pt.start('run-6', cwd, null);
    await rec.pids('run-6');
    await pt.stop('run-6', null);
    const events = rec.of('run-6');
    for (const e of events) expect(e.text.length).toBeLessThanOrEqual(1500);
    const outputs = events.filter((e) => e.phase === 'output');
    expect(outputs.length).toBeLessThan(50);
    expect(outputs.map((e) => e.text).join('\n')).toContain('lines skipped');
  });

  it('stopAll stops every run', async () => {
    const rec = new Recorder();
    const pt = playtests(game('--lines 1'), rec);
    pt.start('run-a', cwd, null);
    pt.start('run-b', cwd, null);
    const pids = [...(await rec.pids('run-a')), ...(await rec.pids('run-b'))];
    await pt.stopAll();
    expect(pt.isRunning('run-a') || pt.isRunning('run-b')).toBe(false);
    for (const pid of pids) expect(gone(pid)).toBe(true);
    expect(rec.of('run-a').at(-1)!.text).toContain('stopped by the bot');
    expect(rec.of('run-b').at(-1)!.phase).toBe('exited');
  });

  it('stops a playtest at PLAYTEST_TIMEOUT, whole tree, and says so in the thread', async () => {
    const rec = new Recorder();
    const warnings: string[] = [];
    const onEvent = (runId: string, data: RunEventData): void => (data.type === 'warning' ? void warnings.push(data.message) : rec.onEvent(runId, data));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'], shouldAdvanceTime: true });
    const pt = playtests(game('--lines 1'), rec, { timeout: { ms: 10 * 60_000, text: '10m' }, onEvent });
    pt.start('run-t', cwd, 'discord:42');
    const pids = await rec.pids('run-t');
    expect(pt.isRunning('run-t')).toBe(true);
    vi.advanceTimersByTime(10 * 60_000);
    const end = await rec.ended('run-t');
    expect(end.phase).toBe('exited');
    expect(end.text).toContain('stopped by the bot');
    for (const pid of pids) expect(gone(pid)).toBe(true);
    expect(pt.isRunning('run-t')).toBe(false);
    expect(warnings).toEqual([expect.stringContaining('ran for 10m (PLAYTEST_TIMEOUT)')]);
  });
});
