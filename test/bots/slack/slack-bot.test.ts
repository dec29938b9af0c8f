/**
 * The Slack adapter end to end in Socket Mode: the real Bolt App against the fake Slack, the
 * real controller, relay and delivery, the real RunManager with the real pi agent and the
 * scripted model. One fake, one engine and one bot for the whole file; scenarios run in order.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockLlm, transcript } from '../../support/mock-llm.js';
import { makeTempDir, useTempDirs } from '../../support/temp.js';
import { blockUntilFile, botPosts, release, runCommand, startWorld, threadPosts, type World } from './slack-e2e-support.js';

useTempDirs();

const GAME = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/playtest/game.mjs');
const LONG = { timeoutMs: 30_000 };
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
const note = (rootTs: string, re: RegExp, after = 0) =>
  w.slack.waitFor(() => threadPosts(w.slack, rootTs).slice(after).find((m) => re.test(m.text)), { description: `note ${re}`, ...LONG });
const permalinkRe = (rootTs: string) => `https://fake-workspace.slack.com/archives/${w.slack.channels.general}/p${rootTs.replace('.', '')}`;

describe('Slack bot (Socket Mode) against the fake Slack', () => {
  it('/run is acknowledged before any work, then shows header, thread, live status, digests and the final result with the commit', async () => {
    llm.respond(null); // default responder: "commit" in the prompt → a bash tool that commits
    const worktrees = w.h.config.worktreesDir;
    const cmd = w.slack.slashCommand({ command: '/run', text: 'card-1 commit a jump file', user: 'alice' });
    const ack = await cmd.ack;
    const worktreesAtAck = fs.existsSync(worktrees) ? fs.readdirSync(worktrees) : [];
    const runsAtAck = w.h.engine.manager.list().length;
    expect(ack.latencyMs).toBeLessThan(500);
    expect(worktreesAtAck).toEqual([]);
    expect(runsAtAck).toBe(0);

    const answer = await cmd.waitForResponse((r) => String(r.body.text).includes('Started run'), LONG);
    expect(answer.body.response_type).toBe('ephemeral');
    const run = w.h.engine.manager.list()[0]!;
    expect(Date.parse(run.createdAt)).toBeGreaterThanOrEqual(ack.at);
    await settle(run.id);

    const header = botPosts(w.slack).find((m) => m.text.includes(`Run ${run.id.slice(0, 8)}`) && !m.threadTs)!;
    expect(header.text).toContain(run.branch!);
    expect(header.text).toContain('*Run '); // **bold** became Slack's *bold*
    expect(header.text).not.toContain('**');
    expect(header).toMatchObject({ unfurlLinks: false, unfurlMedia: false, linkNames: undefined, metadata: { event_type: 'chatops_outbox' } });
    expect(String(answer.body.text)).toContain(permalinkRe(header.ts));
    expect(w.slack.message('general', header.ts)!.reactions.map((r) => r.name)).toEqual(['octagonal_sign', 'repeat', 'video_game', 'stop_button']);

    // Everything else is a reply in the header's thread.
    const topLevel = botPosts(w.slack).filter((m) => !m.threadTs);
    expect(topLevel).toEqual([header]);
    const inThread = threadPosts(w.slack, header.ts);
    const status = inThread[0]!;
    expect(status.text).toMatch(/succeeded/);
    expect(status.edits.length).toBeGreaterThan(0);
    expect(w.slack.updates.filter((u) => u.ts === status.ts).every((u) => u.ok)).toBe(true);
    expect(inThread.some((m) => m.text.includes('🔧 bash'))).toBe(true);
    const final = inThread.find((m) => m.text.includes(`*Run ${run.id.slice(0, 8)} succeeded*`))!;
    const settled = w.h.engine.manager.get(run.id)!;
    expect(settled.commitSha).toBeTruthy();
    expect(final.text).toContain(settled.commitSha!.slice(0, 10));
    expect(final.text).toContain(run.branch!);
    for (const m of inThread) expect(m).toMatchObject({ unfurlLinks: false, unfurlMedia: false, linkNames: undefined, metadata: { event_type: 'chatops_outbox' } });
    const nonces = botPosts(w.slack).map((m) => m.metadata?.event_payload.nonce);
    expect(new Set(nonces).size).toBe(nonces.length);

    const notify = botPosts(w.slack, 'notify').filter((m) => m.text.includes(run.id.slice(0, 8)));
    expect(notify).toHaveLength(2);
    expect(notify[0]!.text).toMatch(/started by alice/); // Slack's display name
    expect(notify[1]!.text).toMatch(/succeeded/);
    for (const n of notify) expect(n.text).toContain(permalinkRe(header.ts));
  });

  it('a reply steers the running agent and a `later:` reply follows up; both reach the model and are acknowledged with reactions', async () => {
    const go = path.join(makeTempDir(), 'go');
    llm.reset();
    llm.respond(blockUntilFile(llm, go, 'busy-steer'));
    const { run, rootTs } = await runCommand(w);
    await llm.waitForSignal('busy-steer');
    const steer = w.slack.userMessage({ channel: 'general', thread_ts: rootTs, text: 'use a spring for the jump &amp; keep it short', user: 'alice' });
    const later = w.slack.userMessage({ channel: 'general', thread_ts: rootTs, text: 'later: also add a test', user: 'alice' });
    const reactionsOf = (ts: string) => w.slack.message('general', ts)!.reactions.map((r) => r.name);
    await w.slack.waitFor(() => reactionsOf(steer.ts).length > 0 && reactionsOf(later.ts).length > 0, LONG);
    expect(reactionsOf(steer.ts)).toEqual(['eyes']);
    expect(reactionsOf(later.ts)).toEqual(['incoming_envelope']);
    llm.respond((req) => (req.messages.at(-1)?.role === 'tool' ? { text: 'finished' } : { text: `ok: ${transcript(req).at(-1)}` }));
    release(go);
    await settle(run.id);
    const all = llm.requests.map((r) => transcript(r).join('\n'));
    const steerAt = all.findIndex((t) => t.includes('use a spring for the jump & keep it short')); // Slack's &amp; decoded
    const laterAt = all.findIndex((t) => t.includes('also add a test'));
    expect(steerAt).toBeGreaterThan(0);
    expect(laterAt).toBeGreaterThan(steerAt);
    const lines = threadPosts(w.slack, rootTs).map((m) => m.text).join('\n');
    expect(lines).toContain('🧭 steer from alice');
    expect(lines).toContain('📨 follow-up from alice');
  });

  it(':octagonal_sign: on the header stops the run and says who stopped it', async () => {
    const go = path.join(makeTempDir(), 'go');
    llm.reset();
    llm.respond(blockUntilFile(llm, go, 'busy-stop'));
    const { run, rootTs } = await runCommand(w);
    await llm.waitForSignal('busy-stop');
    w.slack.addReaction({ channel: 'general', ts: rootTs, name: 'octagonal_sign', user: 'alice' });
    await note(rootTs, /stopped by alice/);
    await settle(run.id);
    expect(w.h.engine.manager.get(run.id)!.status).toBe('stopped');
    release(go);
  });

  it('refines in the same thread by a reply after the run settled and by :repeat:; a redelivered envelope of that reply starts nothing more', async () => {
    llm.reset();
    const { run, rootTs } = await runCommand(w);
    await settle(run.id);
    const headersBefore = botPosts(w.slack).filter((m) => !m.threadTs).length;

    const reply = w.slack.userMessage({ channel: 'general', thread_ts: rootTs, text: 'make the jump higher', user: 'alice' });
    const byReply = await w.slack.waitFor(() => w.h.engine.manager.list().find((r) => r.parentRunId === run.id), LONG);
    const first = w.slack.eventDeliveries((e) => e.ts === reply.ts)[0]!;
    const again = w.slack.redeliver(first);
    await w.slack.waitForAck(again);
    await settle(byReply.id);
    expect(transcript(llm.requests.at(-1)!).join('\n')).toContain('make the jump higher');

    w.slack.addReaction({ channel: 'general', ts: rootTs, name: 'repeat', user: 'alice' });
    await note(rootTs, /Refinement \S+ of run \S+ started by alice\.$/m);
    const byReaction = w.h.engine.manager.list().find((r) => r.parentRunId === byReply.id)!;
    await settle(byReaction.id);

    expect(w.h.engine.manager.list().filter((r) => r.parentRunId === run.id)).toHaveLength(1);
    for (const r of [byReply, byReaction]) expect(w.h.engine.store.chatThreads.threadOfRun(r.id)!.thread).toBe(`slack:${w.slack.channels.general}:${rootTs}`);
    expect(botPosts(w.slack).filter((m) => !m.threadTs)).toHaveLength(headersBefore);
    expect(threadPosts(w.slack, rootTs).filter((m) => /\*Run \S+ succeeded\*/.test(m.text))).toHaveLength(3);
  });

  it(':video_game: starts the playtest, removing it stops it, and :stop_button: stops a second one', async () => {
    llm.reset();
    const { run, rootTs } = await runCommand(w);
    await settle(run.id);
    const m = w.h.engine.manager;
    w.slack.addReaction({ channel: 'general', ts: rootTs, name: 'video_game', user: 'alice' });
    await note(rootTs, /playtest started by alice/);
    expect(m.playtestRunning(run.id)).toBe(true);
    w.slack.removeReaction({ channel: 'general', ts: rootTs, name: 'video_game', user: 'alice' });
    await note(rootTs, /Playtest stopped by alice/);
    expect(m.playtestRunning(run.id)).toBe(false);

    const before = threadPosts(w.slack, rootTs).length;
    w.slack.addReaction({ channel: 'general', ts: rootTs, name: 'video_game', user: 'alice' });
    await note(rootTs, /playtest started by alice/, before);
    expect(m.playtestRunning(run.id)).toBe(true);
    w.slack.addReaction({ channel: 'general', ts: rootTs, name: 'stop_button', user: 'alice' });
    await note(rootTs, /Playtest stopped by alice/, before);
    expect(m.playtestRunning(run.id)).toBe(false);
  });

  it('an unknown card gets a private error and starts nothing', async () => {
    const runs = w.h.engine.manager.list(1000).length;
    const posts = w.slack.messages('general').length;
    const cmd = w.slack.slashCommand({ command: '/run', text: 'card-404', user: 'alice' });
    const answer = await cmd.waitForResponse(() => true, LONG);
    expect(answer.body.response_type).toBe('ephemeral');
    expect(String(answer.body.text)).toMatch(/unknown card "card-404"/i);
    expect(String(answer.body.text)).toContain('card-1');
    expect(w.h.engine.manager.list(1000)).toHaveLength(runs);
    expect(w.slack.messages('general')).toHaveLength(posts);
  });

  it('an unauthorized user is refused privately and nothing starts; their steer and :octagonal_sign: do nothing', async () => {
    const runs = w.h.engine.manager.list(1000).length;
    const cmd = w.slack.slashCommand({ command: '/run', text: 'card-1', user: 'bob' });
    const answer = await cmd.waitForResponse(() => true, LONG);
    expect(String(answer.body.text)).toMatch(/not allowed/);
    expect(String(answer.body.text)).toContain(`slack:${w.slack.users.bob}`);
    expect(w.h.engine.manager.list(1000)).toHaveLength(runs);

    const go = path.join(makeTempDir(), 'go');
    llm.reset();
    llm.respond(blockUntilFile(llm, go, 'busy-auth'));
    const { run, rootTs } = await runCommand(w);
    await llm.waitForSignal('busy-auth');
    w.slack.userMessage({ channel: 'general', thread_ts: rootTs, text: 'delete everything', user: 'bob' });
    await note(rootTs, /⛔ bob/);
    w.slack.addReaction({ channel: 'general', ts: rootTs, name: 'octagonal_sign', user: 'bob' });
    await w.slack.waitFor(() => threadPosts(w.slack, rootTs).filter((m) => m.text.includes('⛔ bob')).length === 2, LONG);
    expect(w.h.engine.manager.isActive(run.id)).toBe(true);
    release(go);
    await settle(run.id);
    expect(w.h.engine.manager.get(run.id)!.status).toBe('succeeded');
    expect(llm.requests.some((r) => transcript(r).join('\n').includes('delete everything'))).toBe(false);
  });

  it('a redelivered /run envelope starts one run, not two', async () => {
    llm.reset();
    const before = w.h.engine.manager.list(1000).length;
    const { cmd, run } = await runCommand(w);
    const again = w.slack.redeliver(cmd.delivery);
    await w.slack.waitForAck(again);
    await settle(run.id);
    expect(w.h.engine.manager.list(1000)).toHaveLength(before + 1);
    expect(botPosts(w.slack).filter((m) => !m.threadTs && m.text.includes('card-1') && m.createdAt >= cmd.record.dispatchedAt)).toHaveLength(1);
  });

  it("ignores its own messages and its own edits (message_changed of chat.update never reaches the controller)", async () => {
    const go = path.join(makeTempDir(), 'go');
    llm.reset();
    llm.respond(blockUntilFile(llm, go, 'busy-self'));
    const { run, rootTs } = await runCommand(w);
    await llm.waitForSignal('busy-self');
    const own = w.slack.seedMessage({ channel: 'general', thread_ts: rootTs, text: 'steer from myself' });
    w.slack.dispatch({ type: 'message', channel: w.slack.channels.general, user: w.slack.botUserId, bot_id: w.slack.botId, text: own.text, ts: own.ts, thread_ts: rootTs, channel_type: 'channel' });
    const human = w.slack.userMessage({ channel: 'general', thread_ts: rootTs, text: 'steer from a human', user: 'alice' });
    await w.slack.waitFor(() => w.slack.message('general', human.ts)!.reactions.length > 0, LONG);
    release(go);
    await settle(run.id);
    expect(w.slack.message('general', own.ts)!.reactions).toEqual([]);
    expect(w.slack.eventDeliveries((e) => e.subtype === 'message_changed').length).toBeGreaterThan(0);
    const all = llm.requests.map((r) => transcript(r).join('\n')).join('\n');
    expect(all).toContain('steer from a human');
    expect(all).not.toContain('steer from myself');
  });

  it('<!channel> in the agent output is escaped: no raw <, > or unescaped & in anything the bot posted or edited', async () => {
    llm.reset();
    llm.respond(() => ({ text: '<!channel> the build is green, thanks <!here> <@U999> & <https://evil.example|click me>' }));
    const { run, rootTs } = await runCommand(w);
    await settle(run.id);
    const digest = threadPosts(w.slack, rootTs).find((m) => m.text.includes('the build is green'))!;
    expect(digest.text).toContain('&lt;');
    expect(digest.text).not.toContain('<!channel>');
    const texts = [...botPosts(w.slack), ...botPosts(w.slack, 'notify')].flatMap((m) => [m.text, ...m.edits.map((e) => e.text)]);
    expect(texts.length).toBeGreaterThan(20);
    for (const t of texts) {
      expect(t).not.toMatch(/[<>]/);
      expect(t).not.toMatch(/&(?!amp;|lt;|gt;)/);
    }
    for (const m of botPosts(w.slack)) expect(m.linkNames).toBeUndefined();
  });
});
