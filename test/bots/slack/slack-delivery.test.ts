/**
 * Slack delivery end to end: several runs at once in one channel (all threads share the
 * channel's ≈1 post/s) cause zero 429s with every thread complete and in order; an injected 429
 * on one thread's post neither duplicates it nor holds up another thread; a post whose answer
 * was lost is found again by its metadata instead of being posted twice. Windows ×0.1 as in
 * slack-e2e-support.ts.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MockLlm, numberedLinesResponder } from '../../support/mock-llm.js';
import { makeTempDir, useTempDirs } from '../../support/temp.js';
import { messageIdsOf } from '../../../src/bots/slack/refs.js';
import { blockUntilFile, release, runCommand, startWorld, threadPosts, type World } from './slack-e2e-support.js';

useTempDirs();

const RUNS = 6;
const LINES = 80;
const LONG = { timeoutMs: 60_000 };
let llm: MockLlm;
let w: World;

/** Card `card-cNN`: one bash call, then LINES numbered lines (split over several messages). */
const fastResponder = numberedLinesResponder(LINES, 40);

beforeAll(async () => {
  llm = await MockLlm.start(fastResponder);
  w = await startWorld(llm);
  for (let i = 1; i <= RUNS; i++) w.h.engine.cards.add({ id: `card-c${i}`, title: `Concurrent card ${i}`, body: 'Answer with numbered lines.' });
});

afterAll(async () => {
  await w?.close();
  await llm?.close();
});

it(`${RUNS} concurrent runs in one channel cause zero 429s and every thread gets its content complete and in order`, async () => {
  const cmds = Array.from({ length: RUNS }, (_, i) => w.slack.slashCommand({ command: '/run', text: `card-c${i + 1}`, user: 'alice' }));
  for (const ack of await Promise.all(cmds.map((c) => c.ack))) expect(ack.latencyMs).toBeLessThan(3_000);
  const m = w.h.engine.manager;
  const runs = await w.slack.waitFor(() => (m.list(100).length === RUNS ? m.list(100) : undefined), LONG);
  await Promise.all(runs.map((r) => m.waitForSettled(r.id)));
  await w.bot.idle();

  expect(w.slack.rateLimitHits).toEqual([]);
  for (const run of runs) {
    expect(m.get(run.id)!.status).toBe('succeeded');
    const tag = run.cardId.replace('card-', '');
    const rootTs = messageIdsOf(w.h.engine.store.chatThreads.threadOfRun(run.id)!.thread!).ts;
    const posts = threadPosts(w.slack, rootTs);
    expect(posts[0]!.text, 'the live status message comes first').toMatch(/^✅ \*succeeded\*/);
    const finalAt = posts.findIndex((p) => p.text.includes(`*Run ${run.id.slice(0, 8)} succeeded*`));
    expect(finalAt, 'the final result is posted').toBeGreaterThan(0);
    for (const p of posts.slice(finalAt + 1)) expect(p.text, 'only the rest of the final result follows it').toMatch(/\(\d\/\d\)$/);
    // The digests carry the whole answer once, in order (the final result repeats it as its summary).
    const numbered = posts.slice(0, finalAt).flatMap((p) => [...p.text.matchAll(new RegExp(`${tag} line (\\d{3})`, 'g'))].map((x) => Number(x[1])));
    expect(numbered, `thread of ${run.cardId}`).toEqual(Array.from({ length: LINES }, (_, i) => i + 1));
    expect(posts.some((p) => /\(2\/\d\)$/.test(p.text)), 'the long answer was split').toBe(true);
    for (const p of posts) expect(p.text.length).toBeLessThanOrEqual(4_000);
  }
  expect(w.slack.botPosts('notify')).toHaveLength(RUNS * 2);
  // Edits stayed within the shared Tier 3 budget: no chat.update was refused.
  expect(w.slack.updates.every((u) => u.ok)).toBe(true);
});

/** Two runs held busy in one channel, so their threads only get what the test causes. */
async function twoBusyRuns(tag: string) {
  const go = path.join(makeTempDir(), 'go');
  llm.respond(blockUntilFile(llm, go, `${tag}-a`));
  const a = await runCommand(w, 'card-c1');
  await llm.waitForSignal(`${tag}-a`);
  llm.respond(blockUntilFile(llm, go, `${tag}-b`));
  const b = await runCommand(w, 'card-c2');
  await llm.waitForSignal(`${tag}-b`);
  await w.bot.idle();
  return {
    a,
    b,
    finish: async () => {
      llm.respond(fastResponder);
      release(go);
      await Promise.all([a, b].map((x) => w.h.engine.manager.waitForSettled(x.run.id)));
      await w.bot.idle();
    },
  };
}

it('a 429 on one thread’s post neither duplicates it nor stalls another thread of the channel', async () => {
  const { a, b, finish } = await twoBusyRuns('rl');
  const hits = w.slack.rateLimitHits.length;
  w.slack.injectRateLimit({ method: 'chat.postMessage', retryAfterMs: 1_000 });
  // A steer from alice shows in the thread as a digest line: one chat.postMessage per thread.
  w.slack.userMessage({ channel: 'general', thread_ts: a.rootTs, text: 'note for a', user: 'alice' });
  await w.slack.waitFor(() => w.slack.rateLimitHits.length > hits, { description: 'the injected 429' });
  w.slack.userMessage({ channel: 'general', thread_ts: b.rootTs, text: 'note for b', user: 'alice' });

  const inB = await w.slack.waitFor(() => threadPosts(w.slack, b.rootTs).find((m) => m.text.includes('note for b')), LONG);
  expect(threadPosts(w.slack, a.rootTs).filter((m) => m.text.includes('note for a')), 'A still waits for its Retry-After').toEqual([]);
  const inA = await w.slack.waitFor(() => threadPosts(w.slack, a.rootTs).find((m) => m.text.includes('note for a')), LONG);
  expect(inA.createdAt).toBeGreaterThan(inB.createdAt);
  expect(inA.createdAt - w.slack.rateLimitHits.at(-1)!.at).toBeGreaterThanOrEqual(1_000);
  await finish();
  expect(threadPosts(w.slack, a.rootTs).filter((m) => m.text.includes('note for a'))).toHaveLength(1);
  expect(w.slack.rateLimitHits.slice(hits).map((h) => h.injected)).toEqual([true]);
});
