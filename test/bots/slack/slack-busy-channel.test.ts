/**
 * A busy Slack channel: five runs started together in one channel, all threads sharing the
 * channel's post budget (windows ×0.1 as in slack-e2e-support.ts), the real pi against the
 * scripted model. Content comes first: each run's thread shows its tool while the tool still
 * runs, so a reply there steers it; and 🛑 on a header stops an answer that is still streaming.
 * Every wait ends on a signal (a tool's gate file, the model's requests, the fake's messages).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { messageIdsOf } from '../../../src/bots/slack/refs.js';
import type { Run } from '../../../src/core/types.js';
import { MockLlm, transcript, type MockRequest } from '../../support/mock-llm.js';
import { makeTempDir, useTempDirs } from '../../support/temp.js';
import { startWorld, threadPosts, type World } from './slack-e2e-support.js';

useTempDirs();

const RUNS = 5;
const LONG = { timeoutMs: 100_000 };
let llm: MockLlm;
let w: World;
let gates: string;

/** The run a model request belongs to (the prompt names it). */
function runIdOf(req: MockRequest): string {
  return /Run id: ([0-9a-f-]{36})/.exec(transcript(req).join('\n'))?.[1] ?? 'unknown';
}

const gateOf = (runId: string) => path.join(gates, `go-${runId}`);

beforeAll(async () => {
  llm = await MockLlm.start();
  w = await startWorld(llm);
  gates = makeTempDir();
  for (let i = 1; i <= RUNS; i++) w.h.engine.cards.add({ id: `card-b${i}`, title: `Busy card ${i}`, body: 'Run the build, then answer.' });
});

afterEach(() => {
  // Whatever a failed test left blocked is released.
  for (const run of w.h.engine.manager.list(100)) fs.writeFileSync(gateOf(run.id), '');
  llm.reset();
});

afterAll(async () => {
  await w?.close();
  await llm?.close();
});

async function startTogether(): Promise<Run[]> {
  const m = w.h.engine.manager;
  const before = new Set(m.list(100).map((r) => r.id));
  const cmds = Array.from({ length: RUNS }, (_, i) => w.slack.slashCommand({ command: '/run', text: `card-b${i + 1}`, user: 'alice' }));
  for (const ack of await Promise.all(cmds.map((c) => c.ack))) expect(ack.latencyMs).toBeLessThan(3_000);
  return w.slack.waitFor(() => {
    const runs = m.list(100).filter((r) => !before.has(r.id));
    return runs.length === RUNS ? runs : undefined;
  }, LONG);
}

const rootOf = (run: Run) => messageIdsOf(w.h.engine.store.chatThreads.threadOfRun(run.id)!.thread!).ts;
const threadText = (run: Run) => threadPosts(w.slack, rootOf(run)).map((p) => p.text).join('\n');

describe('a busy Slack channel', () => {
  it('five runs at once: each thread shows its running tool while it runs, and a reply there steers it', async () => {
    llm.respond((req) => {
      const id = runIdOf(req);
      if (req.messages.at(-1)?.role === 'tool') return { text: `done with ${id.slice(0, 8)}` };
      return { toolCalls: [{ name: 'bash', arguments: { command: `${llm.signalCommand(`tool-${id}`)}; while [ ! -f '${gateOf(id)}' ]; do sleep 0.05; done; echo built-${id.slice(0, 8)}` } }] };
    });
    const runs = await startTogether();
    for (const run of runs) {
      await llm.waitForSignal(`tool-${run.id}`);
      // The tool is still running (its gate is closed): the thread already shows it.
      await w.slack.waitFor(() => w.h.engine.store.chatThreads.threadOfRun(run.id)?.thread && /bash/.test(threadText(run)), LONG);
      expect(fs.existsSync(gateOf(run.id))).toBe(false);
      const steer = w.slack.userMessage({ channel: 'general', thread_ts: rootOf(run), text: `steer ${run.id.slice(0, 8)}: jump higher`, user: 'alice' });
      await w.slack.waitFor(() => w.slack.message('general', steer.ts)!.reactions.some((r) => r.users.includes(w.slack.botUserId)), LONG);
      fs.writeFileSync(gateOf(run.id), '');
    }
    for (const run of runs) await w.h.engine.manager.waitForSettled(run.id);
    await w.bot.idle();
    for (const run of runs) {
      expect(w.h.engine.manager.get(run.id)!.status).toBe('succeeded');
      // The model's call after the tool carried this run's steer (and only this run's).
      const after = llm.requests.filter((r) => runIdOf(r) === run.id && r.messages.some((m) => m.role === 'tool'));
      const said = after.map((r) => transcript(r).join('\n')).join('\n');
      expect(said).toContain(`steer ${run.id.slice(0, 8)}: jump higher`);
      for (const other of runs.filter((o) => o.id !== run.id)) expect(said).not.toContain(`steer ${other.id.slice(0, 8)}`);
    }
    expect(w.slack.rateLimitHits).toEqual([]);
  });

  it('🛑 on a header stops an answer that is still streaming, while four other runs stream in the channel', async () => {
    llm.respond(() => ({ streamUntilAborted: 'more of a long answer… ', delayMs: 100 }));
    const runs = await startTogether();
    await llm.waitForRequests(RUNS);
    const target = runs[2]!;
    await w.slack.waitFor(() => w.h.engine.store.chatThreads.threadOfRun(target.id)?.thread, LONG);
    w.slack.addReaction({ channel: 'general', ts: rootOf(target), name: 'octagonal_sign', user: 'alice' });
    const stopped = await w.h.engine.manager.waitForSettled(target.id);
    expect(stopped.status).toBe('stopped');
    const request = llm.requests.find((r) => runIdOf(r) === target.id)!;
    expect(request.aborted, 'the answer was cut off mid-stream').toBe(true);
    // The others are still streaming; stop them too.
    const others = runs.filter((r) => r.id !== target.id);
    for (const run of others) expect(w.h.engine.manager.isActive(run.id)).toBe(true);
    await Promise.all(others.map((run) => w.h.engine.manager.stop(run.id, null)));
    await w.bot.idle();
    await w.slack.waitFor(() => /stopped/.test(threadText(target)), LONG);
    expect(w.slack.rateLimitHits).toEqual([]);
  });
});
