/**
 * The Discord receiver's own life, against the fake Discord with the real discord.js client: it
 * takes interactions from its first moment (also while it still registers its slash commands),
 * and it ends, instead of sitting there deaf, when Discord closes the gateway for good. No agent
 * runs here: `/runs` and `/help` are answered from the store.
 */
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { MockLlm } from '../../support/mock-llm.js';
import { useTempDirs } from '../../support/temp.js';
import { AGENT_WAIT, startWorld, type World } from './discord-e2e-support.js';

useTempDirs();

let llm: MockLlm;
let w: World | null = null;

beforeAll(async () => {
  llm = await MockLlm.start();
});
afterEach(async () => {
  await w?.close();
  w = null;
});
afterAll(async () => {
  await llm?.close();
});

const COMMANDS_PUT = { method: 'PUT', path: /^\/applications\/\d+\/guilds\/\d+\/commands$/ };

describe('Discord receiver lifecycle', () => {
  it('answers an interaction that arrives while it still registers its slash commands', async () => {
    w = await startWorld(llm, { startBot: false });
    const registering = w.fake.holdRequest(COMMANDS_PUT);
    const starting = w.bot.start();
    await registering.reached;

    const cmd = w.fake.sendCommand({ name: 'help', user: 'alice' });
    const ack = await cmd.ack;
    expect(ack.latencyMs).toBeLessThan(3_000); // Discord's real budget
    const answer = await cmd.waitForOriginal((m) => m.content.length > 0, AGENT_WAIT);
    expect(answer.content).toMatch(/\/run/);
    // Still registering: the answer came from inside that window, not after it.
    expect(w.fake.commands()).toEqual([]);

    registering.release();
    await starting;
    expect(w.fake.commands().map((c) => c.name)).toEqual(['run', 'runs', 'card', 'help']);
  });

  it.each([
    [4004, 'authentication failed'],
    [4014, 'disallowed intents'],
  ])('stops when Discord closes the gateway for good (%i, %s): hub.done resolves', async (code) => {
    w = await startWorld(llm);
    w.fake.disconnectGateway({ code });
    await expect(w.bot.hub.done).resolves.toBe('discord');
    // It does not come back by itself.
    expect(w.fake.isGatewayConnected()).toBe(false);
  });
});
