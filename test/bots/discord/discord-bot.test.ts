/**
 * The Discord adapter end to end: the real discord.js client against the fake Discord, the real
 * controller, relay and delivery, the real RunManager with the real pi agent and the scripted
 * model. One fake, one engine and one bot for the whole file; scenarios run in order.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockLlm, transcript } from '../../support/mock-llm.js';
import { makeTempDir, useTempDirs } from '../../support/temp.js';
import { blockUntilFile, botMessages, release, runCommand, startWorld, type World } from './discord-e2e-support.js';

useTempDirs();

const GAME = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/playtest/game.mjs');
let llm: MockLlm;
let w: World;

beforeAll(async () => {
  llm = await MockLlm.start();
  w = await startWorld(llm, { env: { PLAYTEST_COMMAND: `'${process.execPath}' '${GAME}'` } });
});

afterAll(async () => {
  await w?.close();
  await llm?.close();
});

const settle = async (runId: string) => {
  await w.h.engine.manager.waitForSettled(runId);
  await w.bot.idle();
};
const lastNote = (threadId: string, re: RegExp) => w.fake.waitFor(() => botMessages(w.fake, threadId).find((m) => re.test(m.content)), { description: `note ${re}` });

describe('Discord bot against the fake Discord', () => {
  it('registers the guild commands at start-up and autocompletes card ids from the card list', async () => {
    expect(w.fake.commands().map((c) => c.name)).toEqual(['run', 'runs', 'card', 'help']);
    const choices = await w.fake.sendAutocomplete({ name: 'run', options: { card: 'jump' }, focused: 'card' });
    expect(choices).toEqual([{ name: 'card-1 — Add a jump button', value: 'card-1' }]);
    const show = await w.fake.sendAutocomplete({ name: 'card', subcommand: 'show', options: { id: 'card' }, focused: 'id' });
    expect(show.map((c) => c.value)).toEqual(['card-1']);
  });

  it('/run acknowledges before any work, then shows header, thread, live status, digests and the final result with the commit', async () => {
    llm.respond(null); // default responder: "commit" in the prompt → a bash tool that commits
    const worktrees = w.h.config.worktreesDir;
    const cmd = w.fake.sendCommand({ name: 'run', options: { card: 'card-1', prompt: 'commit a jump file' }, user: 'alice' });
    const ack = await cmd.ack;
    // Checked at the moment the fake recorded the acknowledgement: no run, no worktree yet.
    const worktreesAtAck = fs.existsSync(worktrees) ? fs.readdirSync(worktrees) : [];
    const runsAtAck = w.h.engine.manager.list().length;
    expect(ack.type).toBe(5);
    expect((ack.data as { flags?: number } | undefined)?.flags).toBe(64);
    expect(ack.latencyMs).toBeLessThan(500);
    expect(worktreesAtAck).toEqual([]);
    expect(runsAtAck).toBe(0);

    const answer = await cmd.waitForOriginal((m) => m.content.includes('Started run'));
    const run = w.h.engine.manager.list()[0]!;
    expect(Date.parse(run.createdAt)).toBeGreaterThanOrEqual(ack.at);
    await settle(run.id);

    const header = botMessages(w.fake, w.fake.channels.general).find((m) => m.content.includes(`Run ${run.id.slice(0, 8)}`))!;
    expect(header.content).toContain(run.branch!);
    expect(header.nonce).toBeDefined();
    expect(header.enforceNonce).toBe(true);
    const thread = w.fake.thread(header.id)!;
    expect(thread.parentId).toBe(w.fake.channels.general);
    expect(thread.name).toContain('card-1');
    expect(answer.content).toContain(`https://discord.com/channels/${w.fake.guildId}/${thread.id}`);
    expect(w.fake.reactions(w.fake.channels.general, header.id).map((r) => r.emoji.name)).toEqual(['🛑', '🔁', '🎮', '⏹️']);

    const inThread = botMessages(w.fake, thread.id);
    const status = inThread[0]!;
    expect(status.content).toMatch(/succeeded/);
    expect(status.edits.length).toBeGreaterThan(0);
    expect(inThread.some((m) => m.content.includes('🔧 bash'))).toBe(true);
    const final = inThread.find((m) => m.content.includes(`**Run ${run.id.slice(0, 8)} succeeded**`))!;
    const settled = w.h.engine.manager.get(run.id)!;
    expect(settled.commitSha).toBeTruthy();
    expect(final.content).toContain(settled.commitSha!.slice(0, 10));
    expect(final.content).toContain(run.branch!);

    const notify = botMessages(w.fake, w.fake.channels.notify).filter((m) => m.content.includes(run.id.slice(0, 8)));
    expect(notify).toHaveLength(2);
    expect(notify[0]!.content).toMatch(/started by Alice/);
    expect(notify[1]!.content).toMatch(/succeeded/);
    for (const n of notify) expect(n.content).toContain(`https://discord.com/channels/${w.fake.guildId}/${thread.id}`);
  });

  it('a reply steers the running agent and a `later:` reply follows up; both reach the model and are acknowledged', async () => {
    const go = path.join(makeTempDir(), 'go');
    llm.reset();
    llm.respond(blockUntilFile(llm, go, 'busy-steer'));
    const { run, threadId } = await runCommand(w);
    await llm.waitForSignal('busy-steer');
    const steer = w.fake.userMessage({ channelId: threadId, content: 'use a spring for the jump', user: 'alice' });
    const later = w.fake.userMessage({ channelId: threadId, content: 'later: also add a test', user: 'alice' });
    await w.fake.waitFor(() => w.fake.reactions(threadId, steer.id).length > 0 && w.fake.reactions(threadId, later.id).length > 0);
    expect(w.fake.reactions(threadId, steer.id)[0]!.emoji.name).toBe('👀');
    expect(w.fake.reactions(threadId, later.id)[0]!.emoji.name).toBe('📨');
    llm.respond((req) => (req.messages.at(-1)?.role === 'tool' ? { text: 'finished' } : { text: `ok: ${transcript(req).at(-1)}` }));
    release(go);
    await settle(run.id);
    const all = llm.requests.map((r) => transcript(r).join('\n'));
    const steerAt = all.findIndex((t) => t.includes('use a spring for the jump'));
    const laterAt = all.findIndex((t) => t.includes('also add a test'));
    expect(steerAt).toBeGreaterThan(0);
    expect(laterAt).toBeGreaterThan(steerAt);
    const lines = botMessages(w.fake, threadId).map((m) => m.content).join('\n');
    expect(lines).toContain('🧭 steer from Alice');
    expect(lines).toContain('📨 follow-up from Alice');
  });

  it('🛑 on the header stops the run and says who stopped it', async () => {
    const go = path.join(makeTempDir(), 'go');
    llm.reset();
    llm.respond(blockUntilFile(llm, go, 'busy-stop'));
    const { run, threadId, headerId } = await runCommand(w);
    await llm.waitForSignal('busy-stop');
    w.fake.addReaction({ messageId: headerId, emoji: '🛑', user: 'alice' });
    await lastNote(threadId, /stopped by Alice/);
    await settle(run.id);
    expect(w.h.engine.manager.get(run.id)!.status).toBe('stopped');
    release(go);
  });

  it('refines in the same thread by a reply after the run settled and by 🔁', async () => {
    llm.reset();
    const { run, threadId, headerId } = await runCommand(w);
    await settle(run.id);
    const threadsBefore = w.fake.threads().length;

    w.fake.userMessage({ channelId: threadId, content: 'make the jump higher', user: 'alice' });
    const byReply = await w.fake.waitFor(() => w.h.engine.manager.list().find((r) => r.parentRunId === run.id));
    await settle(byReply.id);
    expect(transcript(llm.requests.at(-1)!).join('\n')).toContain('make the jump higher');

    w.fake.addReaction({ messageId: headerId, emoji: '🔁', user: 'alice' });
    await lastNote(threadId, /Refinement \S+ of run \S+ started by Alice\.$/m);
    const byReaction = w.h.engine.manager.list().find((r) => r.parentRunId === byReply.id)!;
    await settle(byReaction.id);

    for (const r of [byReply, byReaction]) expect(w.h.engine.store.chatThreads.threadOfRun(r.id)!.thread).toBe(`discord:${threadId}`);
    expect(w.fake.threads()).toHaveLength(threadsBefore);
    expect(botMessages(w.fake, threadId).filter((m) => /\*\*Run \S+ succeeded\*\*/.test(m.content))).toHaveLength(3);
  });

  it('🎮 starts the playtest, removing 🎮 stops it, and adding it again starts a new one (⏹️ stops that)', async () => {
    llm.reset();
    const { run, threadId, headerId } = await runCommand(w);
    await settle(run.id);
    const m = w.h.engine.manager;
    w.fake.addReaction({ messageId: headerId, emoji: '🎮', user: 'alice' });
    await lastNote(threadId, /playtest started by Alice/);
    expect(m.playtestRunning(run.id)).toBe(true);
    w.fake.removeReaction({ messageId: headerId, emoji: '🎮', user: 'alice' });
    await lastNote(threadId, /Playtest stopped by Alice/);
    expect(m.playtestRunning(run.id)).toBe(false);

    const before = botMessages(w.fake, threadId).length;
    w.fake.addReaction({ messageId: headerId, emoji: '🎮', user: 'alice' });
    await w.fake.waitFor(() => botMessages(w.fake, threadId).slice(before).find((x) => /playtest started by Alice/.test(x.content)));
    expect(m.playtestRunning(run.id)).toBe(true);
    w.fake.addReaction({ messageId: headerId, emoji: '⏹️', user: 'alice' });
    await w.fake.waitFor(() => botMessages(w.fake, threadId).slice(before).find((x) => /Playtest stopped by Alice/.test(x.content)));
    expect(m.playtestRunning(run.id)).toBe(false);
  });

  it('an unknown card gets a private error and starts nothing', async () => {
    const runs = w.h.engine.manager.list(1000).length;
    const posts = w.fake.messages(w.fake.channels.general).length;
    const cmd = w.fake.sendCommand({ name: 'run', options: { card: 'card-404' }, user: 'alice' });
    const answer = await cmd.waitForOriginal((m) => m.content.length > 0);
    expect(answer.content).toMatch(/unknown card "card-404"/i);
    expect(answer.content).toContain('card-1');
    expect(answer.flags & 64).toBe(64);
    expect(w.h.engine.manager.list(1000)).toHaveLength(runs);
    expect(w.fake.messages(w.fake.channels.general)).toHaveLength(posts);
  });

  it('an unauthorized user is refused privately and nothing starts; their steer and 🛑 do nothing', async () => {
    const runs = w.h.engine.manager.list(1000).length;
    const cmd = w.fake.sendCommand({ name: 'run', options: { card: 'card-1' }, user: 'bob' });
    const answer = await cmd.waitForOriginal((m) => m.content.length > 0);
    expect(answer.content).toMatch(/not allowed/);
    expect(answer.content).toContain(`discord:${w.fake.user('bob').id}`);
    expect(w.h.engine.manager.list(1000)).toHaveLength(runs);

    const go = path.join(makeTempDir(), 'go');
    llm.reset();
    llm.respond(blockUntilFile(llm, go, 'busy-auth'));
    const { run, threadId, headerId } = await runCommand(w);
    await llm.waitForSignal('busy-auth');
    w.fake.userMessage({ channelId: threadId, content: 'delete everything', user: 'bob' });
    await lastNote(threadId, /⛔ Bob/);
    w.fake.addReaction({ messageId: headerId, emoji: '🛑', user: 'bob' });
    await w.fake.waitFor(() => botMessages(w.fake, threadId).filter((m) => m.content.includes('⛔ Bob')).length === 2);
    expect(w.h.engine.manager.isActive(run.id)).toBe(true);
    release(go);
    await settle(run.id);
    expect(w.h.engine.manager.get(run.id)!.status).toBe('succeeded');
    expect(llm.requests.some((r) => transcript(r).join('\n').includes('delete everything'))).toBe(false);
  });

  it('ignores its own messages: a message authored by the bot in a run thread never reaches the controller', async () => {
    const go = path.join(makeTempDir(), 'go');
    llm.reset();
    llm.respond(blockUntilFile(llm, go, 'busy-self'));
    const { run, threadId } = await runCommand(w);
    await llm.waitForSignal('busy-self');
    const own = w.fake.userMessage({ channelId: threadId, content: 'steer from myself', user: w.fake.botUser });
    const human = w.fake.userMessage({ channelId: threadId, content: 'steer from a human', user: 'alice' });
    await w.fake.waitFor(() => w.fake.reactions(threadId, human.id).length > 0);
    release(go);
    await settle(run.id);
    expect(w.fake.reactions(threadId, own.id)).toEqual([]);
    const all = llm.requests.map((r) => transcript(r).join('\n')).join('\n');
    expect(all).toContain('steer from a human');
    expect(all).not.toContain('steer from myself');
  });

  it('@everyone in the agent output does not ping: mentions are off on every create and edit', async () => {
    llm.reset();
    llm.respond(() => ({ text: '@everyone the build is green, thanks @here <@&123456789012345678>' }));
    const { run, threadId } = await runCommand(w);
    await settle(run.id);
    const digest = botMessages(w.fake, threadId).find((m) => m.content.includes('the build is green'))!;
    expect(digest.content).not.toMatch(/(^|[^\u200b])@everyone/);
    const created = [w.fake.channels.general, w.fake.channels.notify, ...w.fake.threads().map((t) => t.id)]
      .flatMap((id) => botMessages(w.fake, id))
      .filter((m) => m.source === 'rest');
    expect(created.length).toBeGreaterThan(20);
    for (const m of created) {
      expect(m.allowedMentions, `create ${m.id}: ${m.content.slice(0, 40)}`).toEqual({ parse: [] });
      for (const e of m.edits) expect(e.allowedMentions, `edit of ${m.id}`).toEqual({ parse: [] });
    }
    expect(created.some((m) => m.edits.length > 0)).toBe(true);
  });

  it('after a restart it rejoins the threads of active runs and acts on a 🛑 on a message from before (partials)', async () => {
    const go = path.join(makeTempDir(), 'go');
    llm.reset();
    llm.respond(blockUntilFile(llm, go, 'busy-restart'));
    const { run, threadId, headerId } = await runCommand(w);
    await llm.waitForSignal('busy-restart');
    await w.bot.stop();
    // Simulate Discord dropping the bot from the thread while it was away.
    w.fake.state.channels.get(threadId)!.memberIds.delete(w.fake.botUser.id);

    w.bot = w.newBot();
    await w.bot.start();
    expect(w.fake.thread(threadId)!.memberIds.has(w.fake.botUser.id)).toBe(true);
    expect(w.bot.client.channels.cache.get(w.fake.channels.general)).toBeDefined();

    w.fake.addReaction({ messageId: headerId, emoji: '🛑', user: 'alice' });
    await lastNote(threadId, /stopped by Alice/);
    await settle(run.id);
    expect(w.h.engine.manager.get(run.id)!.status).toBe('stopped');
    release(go);
  });

  it('caused no 429 in this whole file', () => {
    expect(w.fake.rateLimitHits).toEqual([]);
  });
});
