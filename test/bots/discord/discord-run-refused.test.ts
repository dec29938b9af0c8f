/**
 * /run typed inside a Discord thread cannot open a thread of its own (threads do not nest): it is
 * refused before anything starts, and the deferred answer says to run it in a channel. Real
 * discord.js client against the fake Discord, real engine.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { channelIdOf, channelRef } from '../../../src/bots/discord/refs.js';
import { MockLlm } from '../../support/mock-llm.js';
import { useTempDirs } from '../../support/temp.js';
import { startWorld, type World } from './discord-e2e-support.js';

useTempDirs();

let llm: MockLlm;
let w: World;

beforeAll(async () => {
  llm = await MockLlm.start();
  w = await startWorld(llm);
});

afterAll(async () => {
  await w?.close();
  await llm?.close();
});

it('/run typed in a thread is refused at once with where to run it; no run starts', async () => {
  const port = w.bot.receiver.port;
  const general = channelRef(w.fake.channels.general);
  const header = await port.post(general, null, 'a conversation', { nonce: 'talk' });
  const thread = channelIdOf(await port.createThread(general, header, 'a conversation'));
  const cmd = w.fake.sendCommand({ name: 'run', options: { card: 'card-1' }, channelId: thread });
  const answer = await cmd.waitForOriginal((m) => m.content.includes('⛔'), { timeoutMs: 15_000 });
  expect(answer.content).toContain('run /run in a channel, not in a thread');
  expect(w.h.engine.manager.list()).toEqual([]);
});
