/**
 * Slack's quirks end to end in Socket Mode: the real Bolt App against the fake Slack, the real
 * controller, relay and delivery, the real RunManager with the real pi agent and the scripted
 * model. The product's shared scenarios (/run, errors, authorization, steer, `later:`, stop,
 * refine, playtest, own messages, mentions) are the chat contract's (slack-contract.test.ts);
 * this file keeps what only Slack does, on one busy run: redelivered envelopes (of the command and
 * of a reply) act once, Slack's entities are decoded inbound and its mrkdwn used outbound, every
 * post carries the outbox metadata with unfurls off, the bot's own edits (message_changed) are
 * ignored. Retried HTTP events and signatures: slack-http-mode.test.ts; 429s: slack-delivery.test.ts.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '../../../src/core/types.js';
import { messageText, MockLlm, transcript } from '../../support/mock-llm.js';
import { makeTempDir, useTempDirs } from '../../support/temp.js';
import { blockUntilFile, botPosts, release, runCommand, startWorld, threadPosts, type StartedRun, type World } from './slack-e2e-support.js';

useTempDirs();

const LONG = { timeoutMs: 100_000 };
let llm: MockLlm;
let w: World;
/** One run for the whole file, blocked in a bash tool until `go` exists. */
let busy: StartedRun & { go: string; before: number };

beforeAll(async () => {
  llm = await MockLlm.start();
  w = await startWorld(llm);
});

afterAll(async () => {
  if (busy) release(busy.go);
  await w?.close();
  await llm?.close();
});

const settle = async (runId: string) => {
  await w.h.engine.manager.waitForSettled(runId);
  await w.bot.idle();
};
const reactionsOf = (ts: string) => w.slack.message('general', ts)!.reactions.map((r) => r.name);

describe('Slack bot (Socket Mode): Slack quirks', () => {
  it('a redelivered /run envelope starts one run, not two', async () => {
    const go = path.join(makeTempDir(), 'go');
    llm.respond(blockUntilFile(llm, go, 'busy'));
    const before = w.h.engine.manager.list(1000).length;
    const started = await runCommand(w);
    busy = { ...started, go, before };
    const again = w.slack.redeliver(started.cmd.delivery);
    await w.slack.waitForAck(again);
    await llm.waitForSignal('busy');
    await w.bot.idle();
    expect(w.h.engine.manager.list(1000)).toHaveLength(before + 1);
    expect(botPosts(w.slack).filter((m) => !m.threadTs && m.text.includes('card-1') && m.createdAt >= started.cmd.record.dispatchedAt)).toHaveLength(1);
  });

  it("a reply's Slack entities are decoded for the agent, and its redelivered envelope steers once", async () => {
    const { rootTs } = busy;
    const steer = w.slack.userMessage({ channel: 'general', thread_ts: rootTs, text: 'use a spring for the jump &amp; keep it &lt;short&gt;', user: 'alice' });
    await w.slack.waitFor(() => reactionsOf(steer.ts).length > 0, LONG);
    expect(reactionsOf(steer.ts)).toEqual(['eyes']);
    const first = w.slack.eventDeliveries((e) => e.ts === steer.ts)[0]!;
    await w.slack.waitForAck(w.slack.redeliver(first));
    await w.bot.idle();
    expect(w.slack.eventDeliveries((e) => e.ts === steer.ts)).toHaveLength(2);
  });

  it("ignores its own messages and its own edits (message_changed of chat.update never reaches the controller)", async () => {
    const { rootTs } = busy;
    const own = w.slack.seedMessage({ channel: 'general', thread_ts: rootTs, text: 'steer from myself' });
    w.slack.dispatch({ type: 'message', channel: w.slack.channels.general, user: w.slack.botUserId, bot_id: w.slack.botId, text: own.text, ts: own.ts, thread_ts: rootTs, channel_type: 'channel' });
    const human = w.slack.userMessage({ channel: 'general', thread_ts: rootTs, text: 'steer from a human', user: 'alice' });
    await w.slack.waitFor(() => reactionsOf(human.ts).length > 0, LONG);

    llm.respond((req) => (req.messages.at(-1)?.role === 'tool' ? { text: 'finished' } : { text: `ok: ${transcript(req).at(-1)}` }));
    release(busy.go);
    await settle(busy.run.id);
    expect(w.h.engine.manager.get(busy.run.id)!.status).toBe('succeeded');
    expect(reactionsOf(own.ts)).toEqual([]);
    expect(w.slack.eventDeliveries((e) => e.subtype === 'message_changed').length).toBeGreaterThan(0);

    // What the model was told: the decoded steer once (not twice: the redelivery was dropped), the human's, never the bot's own.
    const said = llm.requests.at(-1)!.messages.filter((m) => m.role === 'user').map(messageText).join('\n');
    expect(said.split('use a spring for the jump & keep it <short>')).toHaveLength(2);
    expect(said).toContain('steer from a human');
    expect(llm.requests.map((r) => transcript(r).join('\n')).join('\n')).not.toContain('steer from myself');
    const notes = threadPosts(w.slack, busy.rootTs).map((m) => m.text).join('\n');
    expect(notes.split('🧭 steer from alice'), notes).toHaveLength(3);
  });

  it("every post is Slack mrkdwn with the outbox metadata (a unique nonce), unfurls and link_names off; the header is the only top-level post and every chat.update succeeded", () => {
    const run: Run = busy.run;
    const header = w.slack.message('general', busy.rootTs)!;
    expect(header.text).toContain(`*Run ${run.id.slice(0, 8)}`); // **bold** became Slack's *bold*
    expect(header.text).not.toContain('**');
    expect(botPosts(w.slack).filter((m) => !m.threadTs)).toEqual([header]);
    const posts = [...botPosts(w.slack), ...botPosts(w.slack, 'notify')];
    expect(posts.length).toBeGreaterThan(5);
    for (const m of posts) expect(m).toMatchObject({ unfurlLinks: false, unfurlMedia: false, linkNames: undefined, metadata: { event_type: 'chatops_outbox' } });
    for (const m of posts) expect(m.text).not.toContain('**');
    const nonces = posts.map((m) => m.metadata?.event_payload.nonce);
    expect(new Set(nonces).size).toBe(nonces.length);
    const status = threadPosts(w.slack, busy.rootTs)[0]!;
    expect(status.edits.length).toBeGreaterThan(0);
    expect(w.slack.updates.length).toBeGreaterThan(0);
    expect(w.slack.updates.every((u) => u.ok)).toBe(true);
    const final = threadPosts(w.slack, busy.rootTs).find((m) => m.text.includes(`*Run ${run.id.slice(0, 8)} succeeded*`));
    expect(final).toBeDefined();
  });
});
