import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Playtests, type PlaytestSettings } from '../../src/core/playtest.js';
import { Sandbox } from '../../src/core/sandbox.js';
import { silentLogger } from '../../src/logger.js';
import { PlaytestRecorder } from '../support/playtest-recorder.js';
import { hasTool, pixel, xProcesses } from '../support/x11-probe.js';

const GAME = path.resolve('test/fixtures/playtest/colour-game.sh');
const has = hasTool;
const missing = ['Xvfb', 'import', 'display', 'convert'].filter((t) => !has(t));
if (missing.length > 0) {
  console.warn(`playtest display tests skipped: ${missing.join(', ')} not installed (apt-get install xvfb imagemagick; .ci/run does it as root)`);
}
const noFfmpeg = !has('ffmpeg') || !has('ffprobe');
const noSandbox = missing.length === 0 ? await Sandbox.probe() : 'not needed';
if (missing.length === 0 && noSandbox) console.warn(`sandboxed playtest display test skipped: ${noSandbox} (apt-get install bubblewrap)`);
if (missing.length === 0 && noFfmpeg) console.warn('playtest clip test skipped: ffmpeg/ffprobe not installed (apt-get install ffmpeg)');

const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir() };

function worktree(colour: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'playtest-wt-'));
  fs.writeFileSync(path.join(dir, 'colour.txt'), `${colour}\n`);
  return dir;
}

function gone(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return true;
  }
}

let current: Playtests | null = null;

function playtests(rec: PlaytestRecorder, over: Partial<PlaytestSettings> = {}, sandbox: Sandbox | null = null, command = `'${GAME}'`): Playtests {
  const settings: PlaytestSettings = {
    display: 'xvfb',
    hostDisplay: null,
    resolution: { width: 320, height: 240 },
    captureAfter: { ms: 15_000, text: '15s' },
    clip: null,
    cargoTargetDir: null,
    filesDir: fs.mkdtempSync(path.join(os.tmpdir(), 'playtest-files-')),
    ...over,
  };
  current = new Playtests({ command, env, logger: silentLogger(), onEvent: rec.onEvent, outputFlushMs: 20, stopTimeoutMs: 2000, settings, sandbox });
  return current;
}

afterEach(async () => {
  await current?.stopAll();
  current = null;
});

describe.skipIf(missing.length > 0)('Playtests on a virtual display', () => {
  it("shows each run's own worktree colour, on a display of its own, as a PNG screenshot", async () => {
    const rec = new PlaytestRecorder();
    const pt = playtests(rec);
    pt.start('run-red', worktree('#ff0000'), 'discord:1');
    pt.start('run-blue', worktree('#0000ff'), 'slack:U1');
    const [red, blue] = await Promise.all([rec.nextMedia('run-red'), rec.nextMedia('run-blue')]);
    for (const [media, rgb] of [
      [red, [255, 0, 0]],
      [blue, [0, 0, 255]],
    ] as const) {
      expect(media.files).toHaveLength(1);
      const shot = media.files[0]!;
      expect(shot).toMatchObject({ kind: 'screenshot', contentType: 'image/png', name: expect.stringMatching(/\.png$/) });
      expect(shot.bytes).toBe(fs.statSync(shot.path).size);
      expect(fs.statSync(shot.path).mode & 0o777).toBe(0o600);
      expect(pixel(shot.path, 10, 10)).toEqual(rgb);
      expect(pixel(shot.path, 300, 200)).toEqual(rgb);
      expect(media.note).toMatch(/showed its window/);
    }
    const displays = await Promise.all(
      ['run-red', 'run-blue'].map(async (id) => (await rec.waitFor(id, (e) => e.phase === 'output' && /on :\d+/.test(e.text))).text.match(/on (:\d+)/)![1]),
    );
    expect(displays[0]).not.toBe(displays[1]);
    // Only a client with the playtest's own cookie gets in: not one with just the display's name.
    const intruder = spawnSync('xwininfo', ['-root'], { env: { PATH: env.PATH, DISPLAY: displays[0]!, XAUTHORITY: '/nonexistent' }, encoding: 'utf8', timeout: 10_000 });
    expect(intruder.status).not.toBe(0);
    expect(intruder.stderr).toMatch(/unable to open display|Authorization required/i);
    expect(rec.of('run-red').map((e) => e.phase).slice(0, 2)).toEqual(['started', 'running']);
  });

  it('stops the game and its X server with the playtest, leaving no process', async () => {
    const rec = new PlaytestRecorder();
    const pt = playtests(rec);
    pt.start('run-stop', worktree('green'), null);
    await rec.nextMedia('run-stop');
    const before = xProcesses();
    expect(before.length).toBeGreaterThanOrEqual(2);
    expect(await pt.stop('run-stop', 'discord:9')).toBe(true);
    for (const pid of before) expect(gone(pid)).toBe(true);
    expect(xProcesses()).toEqual([]);
    const end = rec.of('run-stop').at(-1)!;
    expect(end).toMatchObject({ phase: 'exited', by: 'discord:9' });
    expect(end.text).toContain('stopped by discord:9');
  });

  it('takes a new screenshot on capture (📸) while the game runs, and says how to start one when none runs', async () => {
    const rec = new PlaytestRecorder();
    const pt = playtests(rec);
    await expect(pt.capture('run-cap', 'discord:7')).rejects.toThrow('no playtest is running for this run; react 🎮 to start one');
    pt.start('run-cap', worktree('#00ff00'), null);
    const first = await rec.nextMedia('run-cap');
    const count = rec.all('run-cap').length;
    await pt.capture('run-cap', 'discord:7');
    const again = await rec.nextMedia('run-cap', count);
    expect(again.by).toBe('discord:7');
    expect(again.files).toHaveLength(1);
    expect(again.files[0]!.path).not.toBe(first.files[0]!.path);
    expect(pixel(again.files[0]!.path, 20, 20)).toEqual([0, 255, 0]);
  });

  it.skipIf(noFfmpeg)('records an H.264 MP4 clip with the first screenshot when PLAYTEST_CLIP is set', async () => {
    const rec = new PlaytestRecorder();
    const pt = playtests(rec, { clip: { ms: 1000, text: '1s' } });
    pt.start('run-clip', worktree('#ff00ff'), null);
    const media = await rec.nextMedia('run-clip');
    expect(media.files.map((f) => f.kind)).toEqual(['screenshot', 'clip']);
    const clip = media.files[1]!;
    expect(clip).toMatchObject({ contentType: 'video/mp4', name: expect.stringMatching(/\.mp4$/) });
    const probe = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,pix_fmt,width,height:format=duration', '-of', 'json', clip.path], { encoding: 'utf8' });
    const info = JSON.parse(probe) as { streams: { codec_name: string; pix_fmt: string; width: number; height: number }[]; format: { duration: string } };
    expect(info.streams[0]).toMatchObject({ codec_name: 'h264', pix_fmt: 'yuv420p', width: 320, height: 240 });
    expect(Number(info.format.duration)).toBeGreaterThan(0.5);
  });

  it.skipIf(noSandbox)('draws on its own virtual display from inside the bubblewrap sandbox', async () => {
    const rec = new PlaytestRecorder();
    const data = fs.mkdtempSync(path.join(os.tmpdir(), 'playtest-data-'));
    const dir = worktree('#ffff00');
    // The bot's folder (with the fixture) is hidden inside: the game is the worktree's own script.
    fs.copyFileSync(GAME, path.join(dir, 'game.sh'));
    const layout = { bwrap: 'bwrap', botDirs: [path.resolve('.')], dataDir: data, worktreesDir: path.join(data, 'worktrees'), repoRoot: data, piAgentDir: path.join(data, 'pi'), programPaths: [], rw: [], ro: [] };
    const pt = playtests(rec, { filesDir: path.join(data, 'playtests') }, new Sandbox(layout), './game.sh');
    pt.start('run-boxed', dir, null);
    const media = await rec.nextMedia('run-boxed');
    expect(pixel(media.files[0]!.path, 10, 10)).toEqual([255, 255, 0]);
  });

  describe("on the host's display", () => {
    let host: ReturnType<typeof spawn> | null = null;
    afterAll(() => void host?.kill('SIGKILL'));

    it("captures only the game's own window, never the rest of the host's screen", async () => {
      // The "host": an X server of its own at 800x600 standing in for someone's desktop.
      host = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '800x600x24', '-nolisten', 'tcp'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
      const number = await new Promise<string>((resolve) => {
        let text = '';
        host!.stdio[3]!.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          if (text.includes('\n')) resolve(text.trim());
        });
      });
      const rec = new PlaytestRecorder();
      const pt = playtests(rec, { display: 'host', hostDisplay: { DISPLAY: `:${number}` } });
      pt.start('run-host', worktree('#00ffff'), null);
      const media = await rec.nextMedia('run-host');
      const shot = media.files[0]!.path;
      expect(execFileSync('convert', [shot, '-format', '%wx%h', 'info:'], { encoding: 'utf8' })).toBe('640x480');
      expect(pixel(shot, 5, 5)).toEqual([0, 255, 255]);
      expect(pixel(shot, 635, 475)).toEqual([0, 255, 255]);
    });
  });
});
