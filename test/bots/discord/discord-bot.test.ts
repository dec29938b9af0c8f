/**
 * The Discord adapter end to end: the real discord.js client against the fake Discord, the real
 * controller, relay and delivery, the real RunManager with the real pi agent and the scripted
 * model. One fake, one engine and one bot for the whole file; scenarios run in order and share
 * runs (each real pi start costs seconds): the /run scenario's run is later refined and playtested.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelIdOf } from '../../../src/bots/discord/refs.js';
import type { Run } from '../../../src/core/types.js';
import { MockLlm, transcript } from '../../support/mock-llm.js';
import { makeTempDir, useTempDirs } from '../../support/temp.js';
import { AGENT_WAIT, blockUntilFile, botMessages, gateFile, release, releaseAll, runCommand, startWorld, type World } from './discord-e2e-support.js';

useTempDirs();

const GAME = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/playtest/game.mjs');
let llm: MockLlm;
let w: World;
/** The run of the `/run` scenario; later scenarios refine and playtest it in its thread. */
let first: { run: Run; threadId: string; headerId: string; latest: Run };

beforeAll(async () => {
  llm = await MockLlm.start();
  w = await startWorld(llm, { env: { PLAYTEST_COMMAND: `'${process.execPath}' '${GAME}'` } });
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
describe('Discord bot against the fake Discord', { timeout: 120_000 }, () => {
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
    expect(ack.latencyMs).toBeLessThan(1_000);
    expect(worktreesAtAck).toEqual([]);
    expect(runsAtAck).toBe(0);

    const answer = await cmd.waitForOriginal((m) => m.content.includes('Started run'), AGENT_WAIT);
    const run = w.h.engine.manager.list()[0]!;
    expect(Date.parse(run.createdAt)).toBeGreaterThanOrEqual(ack.at);
    first = { run, threadId: channelIdOf(w.h.engine.store.chatThreads.threadOfRun(run.id)!.thread!), headerId: '', latest: run };
    await settle(run.id);

    const header = botMessages(w.fake, w.fake.channels.general).find((m) => m.content.includes(`Run ${run.id.slice(0, 8)}`))!;
    expect(header.content).toContain(run.branch!);
    expect(header.nonce).toBeDefined();
    expect(header.enforceNonce).toBe(true);
    const thread = w.fake.thread(header.id)!;
    first.headerId = header.id;
    expect(first.threadId).toBe(thread.id);
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

  it('an unknown card gets a private error and starts nothing', async () => {
    const runs = w.h.engine.manager.list(1000).length;
    const posts = w.fake.messages(w.fake.channels.general).length;
    const cmd = w.fake.sendCommand({ name: 'run', options: { card: 'card-404' }, user: 'alice' });
    const answer = await cmd.waitForOriginal((m) => m.content.length > 0, AGENT_WAIT);
    expect(answer.content).toMatch(/unknown card "card-404"/i);
    expect(answer.content).toContain('card-1');
    expect(answer.flags & 64).toBe(64);
    expect(w.h.engine.manager.list(1000)).toHaveLength(runs);
    expect(w.fake.messages(w.fake.channels.general)).toHaveLength(posts);
  });

  it('an unauthorized user is refused privately and nothing starts', async () => {
    const runs = w.h.engine.manager.list(1000).length;
    const cmd = w.fake.sendCommand({ name: 'run', options: { card: 'card-1' }, user: 'bob' });
    const answer = await cmd.waitForOriginal((m) => m.content.length > 0, AGENT_WAIT);
    expect(answer.content).toMatch(/not allowed/);
    expect(answer.content).toContain(`discord:${w.fake.user('bob').id}`);
    expect(answer.flags & 64).toBe(64);
    expect(w.h.engine.manager.list(1000)).toHaveLength(runs);
  });

  // One busy run for the next scenarios: a bash tool that waits for the test's signal.
  describe('in the thread of a running agent', () => {
    let busy: { run: Run; threadId: string; headerId: string; go: string };
    beforeAll(async () => {
      const go = gateFile(makeTempDir());
      llm.reset();
      llm.respond(blockUntilFile(llm, go, 'busy'));
      const started = await runCommand(w);
      await llm.waitForSignal('busy');
      busy = { ...started, go };
    }, 120_000);
    afterAll(() => releaseAll());

    it("ignores an unauthorized user's reply and 🛑 (refused visibly), and its own messages", async () => {
      const { threadId, headerId, run } = busy;
      w.fake.userMessage({ channelId: threadId, content: 'delete everything', user: 'bob' });
      await lastNote(threadId, /⛔ Bob/);
      w.fake.addReaction({ messageId: headerId, emoji: '🛑', user: 'bob' });
      await w.fake.waitFor(() => botMessages(w.fake, threadId).filter((m) => m.content.includes('⛔ Bob')).length === 2, AGENT_WAIT);
      const own = w.fake.userMessage({ channelId: threadId, content: 'steer from myself', user: w.fake.botUser });
      const marker = w.fake.userMessage({ channelId: threadId, content: 'a human was here', user: 'alice' });
      await w.fake.waitFor(() => w.fake.reactions(threadId, marker.id).length > 0, AGENT_WAIT);
      await w.bot.idle();
      expect(w.fake.reactions(threadId, own.id)).toEqual([]);
      expect(w.h.engine.manager.isActive(run.id)).toBe(true);
    });

    it('a reply steers the agent and a `later:` reply follows up; both reach the model and are acknowledged', async () => {
      const { threadId, run, go } = busy;
      const steer = w.fake.userMessage({ channelId: threadId, content: 'use a spring for the jump', user: 'alice' });
      const later = w.fake.userMessage({ channelId: threadId, content: 'later: also add a test', user: 'alice' });
      await w.fake.waitFor(() => w.fake.reactions(threadId, steer.id).length > 0 && w.fake.reactions(threadId, later.id).length > 0, AGENT_WAIT);
      expect(w.fake.reactions(threadId, steer.id)[0]!.emoji.name).toBe('👀');
      expect(w.fake.reactions(threadId, later.id)[0]!.emoji.name).toBe('📨');
      // The agent's answers mention everyone: they must not ping (checked below).
      llm.respond((req) => ({ text: `@everyone done with: ${transcript(req).at(-1)?.slice(0, 80)} <@&123456789012345678>` }));
      release(go);
      await settle(run.id);
      const all = llm.requests.map((r) => transcript(r).join('\n'));
      const steerAt = all.findIndex((t) => t.includes('use a spring for the jump'));
      const laterAt = all.findIndex((t) => t.includes('also add a test'));
      expect(steerAt).toBeGreaterThan(0);
      expect(laterAt).toBeGreaterThan(steerAt);
      for (const forbidden of ['delete everything', 'steer from myself']) expect(all.join('\n')).not.toContain(forbidden);
      expect(all.join('\n')).toContain('a human was here');
      const lines = botMessages(w.fake, threadId).map((m) => m.content).join('\n');
      expect(lines).toContain('🧭 steer from Alice');
      expect(lines).toContain('📨 follow-up from Alice');
      expect(w.h.engine.manager.get(run.id)!.status).toBe('succeeded');
    });

    it('@everyone in the agent output does not ping: mentions are off on every create and edit', async () => {
      const digest = botMessages(w.fake, busy.threadId).find((m) => m.content.includes('done with:'))!;
      expect(digest.content).not.toMatch(/(^|[^\u200b])@everyone/);
      const created = [w.fake.channels.general, w.fake.channels.notify, ...w.fake.threads().map((t) => t.id)]
        .flatMap((id) => botMessages(w.fake, id))
        .filter((m) => m.source === 'rest');
      expect(created.length).toBeGreaterThan(15);
      for (const m of created) {
        expect(m.allowedMentions, `create ${m.id}: ${m.content.slice(0, 40)}`).toEqual({ parse: [] });
        for (const e of m.edits) expect(e.allowedMentions, `edit of ${m.id}`).toEqual({ parse: [] });
      }
      expect(created.some((m) => m.edits.length > 0)).toBe(true);
    });
  });

  it('refines in the same thread by a reply after the run settled and by 🔁', async () => {
    llm.reset();
    const { run, threadId, headerId } = first;
    const threadsBefore = w.fake.threads().length;

    w.fake.userMessage({ channelId: threadId, content: 'make the jump higher', user: 'alice' });
    await lastNote(threadId, /Refinement \S+ of run \S+ started by Alice with your feedback/);
    const byReply = w.h.engine.manager.list().find((r) => r.parentRunId === run.id)!;
    await settle(byReply.id);
    expect(transcript(llm.requests.at(-1)!).join('\n')).toContain('make the jump higher');

    w.fake.addReaction({ messageId: headerId, emoji: '🔁', user: 'alice' });
    await lastNote(threadId, /Refinement \S+ of run \S+ started by Alice\.$/m);
    const byReaction = w.h.engine.manager.list().find((r) => r.parentRunId === byReply.id)!;
    await settle(byReaction.id);

    for (const r of [byReply, byReaction]) expect(w.h.engine.store.chatThreads.threadOfRun(r.id)!.thread).toBe(`discord:${threadId}`);
    expect(w.fake.threads()).toHaveLength(threadsBefore);
    expect(botMessages(w.fake, threadId).filter((m) => /\*\*Run \S+ succeeded\*\*/.test(m.content))).toHaveLength(3);
    first.latest = byReaction;
  });

  it('🎮 starts the playtest, removing 🎮 stops it, and adding it again starts a new one (⏹️ stops that)', async () => {
    const { threadId, headerId } = first;
    const runId = first.latest.id;
    const m = w.h.engine.manager;
    const after = (n: number, re: RegExp) => w.fake.waitFor(() => botMessages(w.fake, threadId).slice(n).find((x) => re.test(x.content)), AGENT_WAIT);
    let n = botMessages(w.fake, threadId).length;
    w.fake.addReaction({ messageId: headerId, emoji: '🎮', user: 'alice' });
    await after(n, /playtest started by Alice/);
    expect(m.playtestRunning(runId)).toBe(true);
    w.fake.removeReaction({ messageId: headerId, emoji: '🎮', user: 'alice' });
    await after(n, /Playtest stopped by Alice/);
    expect(m.playtestRunning(runId)).toBe(false);

    n = botMessages(w.fake, threadId).length;
    w.fake.addReaction({ messageId: headerId, emoji: '🎮', user: 'alice' });
    await after(n, /playtest started by Alice/);
    expect(m.playtestRunning(runId)).toBe(true);
    w.fake.addReaction({ messageId: headerId, emoji: '⏹️', user: 'alice' });
    await after(n, /Playtest stopped by Alice/);
    expect(m.playtestRunning(runId)).toBe(false);
  });

  it('after a restart it rejoins the threads of active runs, and 🛑 on a header from before (a partial) stops the run visibly', async () => {
    const go = gateFile(makeTempDir());
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
});
