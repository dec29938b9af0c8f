/**
 * Discord's quirks end to end: the real discord.js client against the fake Discord, the real
 * controller, relay and delivery, the real RunManager with the real pi agent and the scripted
 * model. The product's shared scenarios (/run, errors, authorization, steer, `later:`, stop,
 * refine, playtest, own messages, mentions) are the chat contract's (discord-contract.test.ts);
 * this file keeps what only Discord does: guild commands and autocomplete, the deferred ephemeral
 * acknowledgement, nonces, threads opened from the header, and the restart (rejoining threads,
 * reactions on messages from before the restart arriving as partials). Ack timing across a burst:
 * discord-concurrency.test.ts; archived threads and the REST port: discord-port.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockLlm } from '../../support/mock-llm.js';
import { makeTempDir, useTempDirs } from '../../support/temp.js';
import { AGENT_WAIT, blockUntilFile, botMessages, gateFile, release, releaseAll, runCommand, startWorld, type World } from './discord-e2e-support.js';

useTempDirs();

let llm: MockLlm;
let w: World;

beforeAll(async () => {
  llm = await MockLlm.start();
  w = await startWorld(llm);
});

afterAll(async () => {
  releaseAll();
  await w?.close();
  await llm?.close();
});

const settle = async (runId: string) => {
  await w.h.engine.manager.waitForSettled(runId);
  await w.bot.idle();
};
const lastNote = (threadId: string, re: RegExp) => w.fake.waitFor(() => botMessages(w.fake, threadId).find((m) => re.test(m.content)), { description: `note ${re}`, ...AGENT_WAIT });

// Ceilings, not sleeps: on a loaded 2-core machine a real pi start can take many seconds.
describe('Discord bot against the fake Discord: Discord quirks', { timeout: 120_000 }, () => {
  it('registers the guild commands at start-up and autocompletes card ids from the card list', async () => {
    expect(w.fake.commands().map((c) => c.name)).toEqual(['run', 'runs', 'card', 'help']);
    const choices = await w.fake.sendAutocomplete({ name: 'run', options: { card: 'jump' }, focused: 'card' });
    expect(choices).toEqual([{ name: 'card-1 — Add a jump button', value: 'card-1' }]);
    const show = await w.fake.sendAutocomplete({ name: 'card', subcommand: 'show', options: { id: 'card' }, focused: 'id' });
    expect(show.map((c) => c.value)).toEqual(['card-1']);
  });

  it('/run is deferred ephemerally; the header is posted with an enforced nonce and opens a public thread of the channel named after the card; after a restart the bot rejoins the threads of active runs, and 🛑 on a header from before (a partial) stops the run visibly', async () => {
    const go = gateFile(makeTempDir());
    llm.reset();
    llm.respond(blockUntilFile(llm, go, 'busy-restart'));
    const { cmd, run, threadId, headerId } = await runCommand(w);
    const ack = await cmd.ack;
    expect(ack.type).toBe(5);
    expect((ack.data as { flags?: number } | undefined)?.flags).toBe(64);
    await llm.waitForSignal('busy-restart');
    await w.bot.idle();

    const header = w.fake.message(headerId)!;
    expect(header.channelId).toBe(w.fake.channels.general);
    expect(header.nonce).toBeDefined();
    expect(header.enforceNonce).toBe(true);
    const thread = w.fake.thread(threadId)!;
    expect(thread.parentId).toBe(w.fake.channels.general);
    expect(thread.name).toContain('card-1');
    const nonces = [w.fake.channels.general, threadId].flatMap((id) => botMessages(w.fake, id)).filter((m) => m.source === 'rest').map((m) => m.nonce);
    expect(nonces.every((n) => n !== undefined)).toBe(true);
    expect(new Set(nonces).size).toBe(nonces.length);

    await w.bot.stop();
    // Simulate Discord dropping the bot from the thread while it was away.
    w.fake.state.channels.get(threadId)!.memberIds.delete(w.fake.botUser.id);

    w.bot = w.newBot();
    await w.bot.start();
    expect(w.fake.thread(threadId)!.memberIds.has(w.fake.botUser.id)).toBe(true);

    w.fake.addReaction({ messageId: headerId, emoji: '🛑', user: 'alice' });
    await lastNote(threadId, /Run \S+ stopped by Alice/);
    await settle(run.id);
    expect(w.h.engine.manager.get(run.id)!.status).toBe('stopped');
    const final = botMessages(w.fake, threadId).find((m) => m.content.includes(`**Run ${run.id.slice(0, 8)} stopped**`));
    expect(final).toBeDefined();
    release(go);
  });

  it('caused no 429 in this whole file', () => {
    expect(w.fake.rateLimitHits).toEqual([]);
  });

  it('ignores commands from a server other than DISCORD_GUILD_ID', async () => {
    const foreign = w.fake.sendCommand({ name: 'runs', user: 'alice', guildId: '999999999999999999' });
    // Events arrive in order on the one gateway connection: once a later command is answered,
    // the foreign one has been handled.
    const later = w.fake.sendCommand({ name: 'runs', user: 'alice' });
    await later.waitForOriginal((m) => m.content.length > 0, AGENT_WAIT);
    await w.bot.idle();
    expect(foreign.record.callbacks).toEqual([]);
  });
});
