/**
 * A run whose thread cannot be opened (the bot may not write in the channel, `/run` typed inside
 * a thread) would run on where nobody can see, steer or stop it: it is stopped, and the command's
 * own answer says why and what to fix. Real engine (pi, git, SQLite), a recording port.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChatUser, CommandEvent } from '../../../src/bots/hub/chat-types.js';
import { ChatHub } from '../../../src/bots/hub/hub.js';
import { silentLogger } from '../../../src/logger.js';
import { makeHarness, type Harness } from '../../support/engine-harness.js';
import { MockLlm } from '../../support/mock-llm.js';
import { useTempDirs } from '../../support/temp.js';
import { portReceiver, RecordingPort, TEST_LIMITS } from './recording-port.js';

useTempDirs();

let llm: MockLlm;
const cleanups: (() => Promise<void>)[] = [];
beforeAll(async () => {
  llm = await MockLlm.start();
});
afterAll(async () => {
  await llm.close();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  llm.reset();
});

const ada: ChatUser = { id: 'test:ada', displayName: 'Ada', roleIds: [], isBot: false };
let n = 0;

function command(text: string, thread: string | null = null): CommandEvent & { answers: string[] } {
  const answers: string[] = [];
  const [name, ...rest] = text.replace(/^\//, '').split(' ');
  return {
    kind: 'command', platform: 'test', dedupeKey: `evt-${++n}`, user: ada, channel: 'test:chan', raw: null, name: name!, options: {}, text: rest.join(' '), thread,
    answers,
    respond: async (t) => void answers.push(t),
  };
}

async function setup(port: RecordingPort): Promise<{ h: Harness; bot: ChatHub }> {
  const h = await makeHarness(llm);
  h.engine.cards.add({ id: 'card-1', title: 'Add a jump button', body: 'Space makes the player jump.' });
  const bot = new ChatHub({ store: h.engine.store, manager: h.engine.manager, auth: { allowedUsers: ['test:ada'], allowedRoles: [], allowAll: false }, logger: silentLogger() });
  await bot.start([portReceiver(port, null)]);
  cleanups.push(async () => {
    await bot.stop();
    await h.engine.close();
  });
  return { h, bot };
}

describe('a run whose thread cannot be opened', () => {
  it('is stopped, and the /run answer says the platform refused and what to fix (no "channel log")', async () => {
    const port = new RecordingPort();
    const refusal = 'Slack not_in_channel: the bot is not in this channel: invite it with /invite @<bot name>';
    // Every top-level post in the channel is refused (the header, then the failure note).
    port.failNext((c) => c.op === 'post' && c.thread === null, { kind: 'permanent', reason: refusal }, 10);
    const { h, bot } = await setup(port);
    const c = command('/run card-1');
    await bot.handle(c);
    expect(c.answers).toHaveLength(1);
    expect(c.answers[0]).toMatch(/^⛔ Run \w+ on card-1 was stopped: its thread could not be opened/);
    expect(c.answers[0]).toContain('invite it with /invite @');
    expect(c.answers[0]).not.toMatch(/channel log/);
    const [run] = h.engine.manager.list();
    const settled = await h.engine.manager.waitForSettled(run!.id);
    expect(settled.status).toBe('stopped');
    await bot.delivery.drain();
    // The header was tried once, its note once; nothing else was attempted in the dead thread.
    expect(port.failed.map((f) => f.body.slice(0, 20))).toHaveLength(2);
    expect(port.calls.filter((x) => x.op === 'post' || x.op === 'createThread')).toEqual([]);
  });

  it('typed inside a thread where threads cannot nest, /run is refused before anything starts, saying where to run it', async () => {
    const port = new RecordingPort({ ...TEST_LIMITS, nestedThreads: false });
    const { h, bot } = await setup(port);
    const c = command('/run card-1', 'test:a-thread');
    await bot.handle(c);
    expect(c.answers).toEqual([expect.stringContaining('run /run in a channel, not in a thread')]);
    expect(h.engine.manager.list()).toEqual([]);
    expect(port.calls).toEqual([]);
  });
});
