/**
 * Ten runs started at once in one channel (the delivery benchmark, `npm run bench`, takes 20 and
 * 50 through the same path and measures them), against the fake Discord with Discord's ratios
 * (5 creates per channel window, reactions ≈ 1 per 250 ms, 50 requests/s global; windows ×0.1):
 * delivery must pace every lane so that Discord never answers 429, and every run's thread must
 * get all of its content, complete and in order.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MockLlm, numberedLinesResponder } from '../../support/mock-llm.js';
import { useTempDirs } from '../../support/temp.js';
import { botMessages, startWorld, type World } from './discord-e2e-support.js';
import { channelIdOf } from '../../../src/bots/discord/refs.js';

useTempDirs();

const RUNS = 10;
const LINES = 80;
let llm: MockLlm;
let w: World;

/** Card `card-cNN`: one bash call, then LINES numbered lines (split over several messages). */
const fastResponder = numberedLinesResponder(LINES, 30);

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
  const t0 = Date.now();
  const acks = Array.from({ length: RUNS }, (_, i) => w.fake.sendCommand({ name: 'run', options: { card: `card-c${i + 1}` }, user: 'alice' }).ack);
  const acked = await Promise.all(acks);
  const maxAckMs = Math.max(...acked.map((a) => a.latencyMs));
  for (const ack of acked) {
    expect(ack.type).toBe(5);
    expect(ack.latencyMs).toBeLessThan(3_000);
  }
  const m = w.h.engine.manager;
  const runs = await w.fake.waitFor(() => (m.list(100).length === RUNS ? m.list(100) : undefined), { timeoutMs: 240_000 });
  const listedMs = Date.now() - t0;
  await Promise.all(runs.map((r) => m.waitForSettled(r.id)));
  const settledMs = Date.now() - t0;
  await w.bot.idle();
  console.info(`[discord] ${RUNS} runs: slowest ack ${maxAckMs} ms, all started after ${listedMs} ms, settled after ${settledMs} ms, delivered after ${Date.now() - t0} ms, ${w.fake.requests.length} requests, ${w.fake.rateLimitHits.length} 429s`);

  expect(w.fake.rateLimitHits).toEqual([]);
  expect(w.fake.threads()).toHaveLength(RUNS);
  for (const run of runs) {
    expect(m.get(run.id)!.status).toBe('succeeded');
    const tag = run.cardId.replace('card-', '');
    const threadId = channelIdOf(w.h.engine.store.chatThreads.threadOfRun(run.id)!.thread!);
    const posts = botMessages(w.fake, threadId);
    expect(posts[0]!.content, 'the live status message comes first').toMatch(/^✅ \*\*succeeded\*\*/);
    // The final result (with the agent's summary, so it is split too) comes last, after every digest.
    const finalAt = posts.findIndex((p) => p.content.includes(`**Run ${run.id.slice(0, 8)} succeeded**`));
    expect(finalAt).toBeGreaterThan(0);
    const parts = posts.slice(finalAt);
    expect(parts.at(-1)!.content).toMatch(new RegExp(`\\(${parts.length}/${parts.length}\\)$`));
    const numbered = (ps: typeof posts) => ps.flatMap((p) => [...p.content.matchAll(new RegExp(`${tag} line (\\d{3})`, 'g'))].map((x) => Number(x[1])));
    const all = Array.from({ length: LINES }, (_, i) => i + 1);
    expect(numbered(posts.slice(0, finalAt)), `digests of ${run.cardId}`).toEqual(all);
    expect(numbered(parts), `final result of ${run.cardId}`).toEqual(all);
    expect(posts.slice(0, finalAt).some((p) => /\(2\/\d\)$/.test(p.content)), 'the long digest was split').toBe(true);
    for (const p of posts) expect(p.content.length).toBeLessThanOrEqual(2_000);
  }
  const notify = botMessages(w.fake, w.fake.channels.notify);
  expect(notify).toHaveLength(RUNS * 2);
}, 300_000);
