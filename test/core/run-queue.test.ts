/**
 * The run queue with the real pi against the scripted model: at most MAX_CONCURRENT_RUNS agents
 * at once (counted at the model server), queued runs with their places, 🛑 on a queued run, a
 * per-person limit, and a restart that keeps the queue. Tools block on gate files, never on time.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '../../src/core/types.js';
import { eventsOf, makeHarness, type Harness } from '../support/engine-harness.js';
import { MockLlm, transcript, type MockRequest } from '../support/mock-llm.js';
import { makeTempDir, useTempDirs } from '../support/temp.js';

useTempDirs();

let llm: MockLlm;
let gates: string;
const engines: Harness[] = [];

beforeAll(async () => {
  llm = await MockLlm.start();
});
afterEach(async () => {
  for (const h of engines.splice(0)) {
    for (const r of h.engine.manager.list(100)) fs.writeFileSync(gate(r.id), '');
    await h.engine.close();
  }
  llm.reset();
});
afterAll(async () => {
  await llm.close();
});

const gate = (runId: string) => path.join(gates, `go-${runId}`);
const runIdOf = (req: MockRequest) => /Run id: ([0-9a-f-]{36})/.exec(transcript(req).join('\n'))?.[1] ?? 'refinement';
/** Runs that reached the model so far. */
const modelRuns = () => new Set(llm.requests.map(runIdOf));

/** Each run's agent runs one bash tool that says `tool-<run id>` and waits for its gate file. */
function gatedResponder(): void {
  llm.respond((req) => {
    const id = runIdOf(req);
    if (req.messages.at(-1)?.role === 'tool') return { text: `done ${id.slice(0, 8)}` };
    return { toolCalls: [{ name: 'bash', arguments: { command: `${llm.signalCommand(`tool-${id}`)}; while [ ! -f '${gate(id)}' ]; do sleep 0.05; done; echo ok` } }] };
  });
}

async function harness(env: Record<string, string>, reuse?: Harness): Promise<Harness> {
  gates ??= makeTempDir();
  const h = await makeHarness(llm, { env, repo: reuse?.repo, dataDir: reuse?.dataDir, engine: { queuePollMs: 50 } });
  if (!reuse) for (let i = 1; i <= 4; i++) h.engine.cards.add({ id: `card-q${i}`, title: `Queued card ${i}`, body: 'Build it.' });
  engines.push(h);
  return h;
}

/** Starts runs and resolves with their rows once each is running or queued. */
/**
 * Starts one run per card, each after the previous one's row exists (its `onCreated`), so the
 * queue's order is the cards' order: two starts in flight at once may insert in either order.
 */
async function startAll(h: Harness, cards: string[], startedBy = 'cli:ada'): Promise<{ runs: Run[]; started: Promise<Run>[] }> {
  const runs: Run[] = [];
  const started: Promise<Run>[] = [];
  for (const cardId of cards) {
    await new Promise<void>((created, failed) => {
      const run = h.engine.manager.start({
        cardId,
        startedBy,
        onCreated: (r) => {
          runs.push(r);
          created();
        },
      });
      run.catch(failed);
      started.push(run);
    });
  }
  for (const s of started) s.catch(() => undefined);
  return { runs, started };
}

describe('run queue', () => {
  it('with MAX_CONCURRENT_RUNS=2, four runs give two agents at a time; the others wait queued and move up', async () => {
    gatedResponder();
    const h = await harness({ MAX_CONCURRENT_RUNS: '2' });
    const m = h.engine.manager;
    const { runs } = await startAll(h, ['card-q1', 'card-q2', 'card-q3', 'card-q4']);
    const [r1, r2, r3, r4] = runs as [Run, Run, Run, Run];
    await Promise.all([llm.waitForSignal(`tool-${r1.id}`), llm.waitForSignal(`tool-${r2.id}`)]);
    // Two agents reached the model; two runs wait, in order, and said where they stand.
    expect(modelRuns()).toEqual(new Set([r1.id, r2.id]));
    expect(m.get(r3.id)!.status).toBe('queued');
    expect(m.queuePositions()).toEqual(new Map([[r3.id, 1], [r4.id, 2]]));
    expect(eventsOf(h.engine, r4, 'run_queued').map((e) => e.position)).toEqual([2]);
    expect(fs.existsSync(m.get(r3.id)!.worktreePath!)).toBe(false);

    fs.writeFileSync(gate(r1.id), '');
    await llm.waitForSignal(`tool-${r3.id}`);
    expect(m.get(r1.id)!.status).toBe('succeeded');
    expect(modelRuns()).toEqual(new Set([r1.id, r2.id, r3.id]));
    expect(eventsOf(h.engine, r4, 'run_queued').map((e) => e.position)).toEqual([2, 1]);

    for (const r of [r2, r3, r4]) fs.writeFileSync(gate(r.id), '');
    for (const r of runs) expect((await m.waitForSettled(r.id)).status).toBe('succeeded');
    expect(m.queuePositions().size).toBe(0);
  });

  it('🛑 on a queued run takes it out of the queue: stopped, no agent, nothing on disk', async () => {
    gatedResponder();
    const h = await harness({ MAX_CONCURRENT_RUNS: '1' });
    const m = h.engine.manager;
    const { runs, started } = await startAll(h, ['card-q1', 'card-q2']);
    const [running, queued] = runs as [Run, Run];
    await llm.waitForSignal(`tool-${running.id}`);
    expect(m.isActive(queued.id)).toBe(true);
    await expect(m.steer(queued.id, 'hurry', 'cli:ada')).rejects.toMatchObject({ code: 'RUN_QUEUED' });
    expect(await m.stop(queued.id, 'cli:ada')).toBe(true);
    await expect(started[1]).rejects.toMatchObject({ code: 'RUN_STOPPED' });
    const stopped = m.get(queued.id)!;
    expect(stopped.status).toBe('stopped');
    expect(eventsOf(h.engine, stopped, 'run_settled')).toHaveLength(1);
    expect(eventsOf(h.engine, stopped, 'run_started')).toHaveLength(0);
    expect(fs.existsSync(queued.worktreePath!)).toBe(false);
    expect(modelRuns().has(queued.id)).toBe(false);
    fs.writeFileSync(gate(running.id), '');
    expect((await m.waitForSettled(running.id)).status).toBe('succeeded');
  });

  it('MAX_RUNS_PER_USER refuses a further run of the same person with a clear message; others may still start', async () => {
    gatedResponder();
    const h = await harness({ MAX_CONCURRENT_RUNS: '1', MAX_RUNS_PER_USER: '1' });
    const m = h.engine.manager;
    const { runs } = await startAll(h, ['card-q1']);
    await llm.waitForSignal(`tool-${runs[0]!.id}`);
    await expect(m.start({ cardId: 'card-q2', startedBy: 'cli:ada' })).rejects.toMatchObject({ code: 'RUN_LIMIT', message: expect.stringMatching(/limit is 1/) });
    const other = await startAll(h, ['card-q2'], 'cli:bob');
    expect(m.get(other.runs[0]!.id)!.status).toBe('queued');
    fs.writeFileSync(gate(runs[0]!.id), '');
    await llm.waitForSignal(`tool-${other.runs[0]!.id}`);
    fs.writeFileSync(gate(other.runs[0]!.id), '');
    expect((await m.waitForSettled(other.runs[0]!.id)).status).toBe('succeeded');
  });

  it('a restart keeps the queue: the next process takes the queued run up and runs it', async () => {
    gatedResponder();
    const first = await harness({ MAX_CONCURRENT_RUNS: '1' });
    const { runs } = await startAll(first, ['card-q1', 'card-q2']);
    const [running, queued] = runs as [Run, Run];
    await llm.waitForSignal(`tool-${running.id}`);
    await first.engine.close();
    engines.splice(engines.indexOf(first), 1);
    const second = await harness({ MAX_CONCURRENT_RUNS: '1' }, first);
    const m = second.engine.manager;
    expect(m.get(running.id)!.status).toBe('interrupted');
    expect(m.get(queued.id)!.status).toBe('queued');
    expect(m.resumeQueue()).toEqual([queued.id]);
    await llm.waitForSignal(`tool-${queued.id}`);
    fs.writeFileSync(gate(queued.id), '');
    expect((await m.waitForSettled(queued.id)).status).toBe('succeeded');
  });
});
