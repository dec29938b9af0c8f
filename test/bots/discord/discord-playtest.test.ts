/**
 * A playtest watched from chat, end to end on Discord: 🎮 on two runs whose worktrees hold
 * different colours posts, in each run's thread, a screenshot (a multipart attachment of the fake
 * Discord) whose pixels have that run's colour; ⏹️ stops each game and its virtual X server.
 * The game is test/fixtures/playtest/colour-game.sh, a real X11 window on its own Xvfb.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockLlm, transcript } from '../../support/mock-llm.js';
import { makeTempDir, useTempDirs } from '../../support/temp.js';
import { hasTool, pixel, xProcesses } from '../../support/x11-probe.js';
import { AGENT_WAIT, botMessages, runCommand, startWorld, type StartedRun, type World } from './discord-e2e-support.js';

useTempDirs();

const GAME = path.resolve('test/fixtures/playtest/colour-game.sh');
const missing = ['Xvfb', 'import', 'display', 'convert', 'xdotool'].filter((t) => !hasTool(t));
if (missing.length > 0) {
  console.warn(`Discord playtest screenshot test skipped: ${missing.join(', ')} not installed (apt-get install xvfb imagemagick xdotool; .ci/run does it as root)`);
}

/** Red, green, blue (0-255) of one pixel of a PNG's bytes. */
function pixelOf(png: Buffer, x: number, y: number): number[] {
  const file = path.join(makeTempDir(), 'shot.png');
  fs.writeFileSync(file, png);
  return pixel(file, x, y);
}

describe.skipIf(missing.length > 0)('playtests on Discord', () => {
  let llm: MockLlm;
  let w: World;
  beforeAll(async () => {
    llm = await MockLlm.start();
    // The first screenshot is taken when the game's window shows (xdotool), not after a delay.
    w = await startWorld(llm, { env: { PLAYTEST_COMMAND: `'${GAME}'`, PLAYTEST_DISPLAY: 'xvfb', PLAYTEST_RESOLUTION: '640x480', PLAYTEST_CAPTURE_AFTER: '60m' } });
  });
  afterAll(async () => {
    await w?.close();
    await llm?.close();
  });

  it("🎮 on two runs posts in each thread a screenshot in that run's own colour; ⏹️ leaves no game or X server", async () => {
    // Each run's agent paints its own worktree: the colour named in its /run prompt.
    llm.respond((req) => {
      if (req.messages.at(-1)?.role === 'tool') return { text: 'painted' };
      const colour = /paint it (\w+)/.exec(transcript(req).join('\n'))?.[1] ?? 'black';
      return { toolCalls: [{ name: 'bash', arguments: { command: `echo ${colour} > colour.txt && git add colour.txt && git commit -qm 'paint it ${colour}'` } }] };
    });
    const runs: [StartedRun, number[]][] = [
      [await runCommand(w, { card: 'card-1', prompt: 'paint it red' }), [255, 0, 0]],
      [await runCommand(w, { card: 'card-1', prompt: 'paint it blue' }), [0, 0, 255]],
    ];
    for (const [r] of runs) expect((await w.h.engine.manager.waitForSettled(r.run.id)).status).toBe('succeeded');

    for (const [r] of runs) w.fake.addReaction({ messageId: r.headerId, emoji: '🎮', user: 'alice' });
    for (const [r, rgb] of runs) {
      const shot = await w.fake.waitFor(
        () => botMessages(w.fake, r.threadId).flatMap((m) => m.attachments).find((a) => a.filename.endsWith('.png')),
        { description: `a screenshot in the thread of run ${r.run.id}`, ...AGENT_WAIT },
      );
      expect(pixelOf(shot.data, 10, 10)).toEqual(rgb);
      expect(pixelOf(shot.data, 320, 240)).toEqual(rgb);
    }

    for (const [r] of runs) w.fake.addReaction({ messageId: r.headerId, emoji: '⏹️', user: 'alice' });
    await w.fake.waitFor(() => runs.every(([r]) => !w.h.engine.manager.playtestRunning(r.run.id)) || undefined, { description: 'both playtests stopped', ...AGENT_WAIT });
    expect(xProcesses()).toEqual([]);
  });
});
