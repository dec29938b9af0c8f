/**
 * Time and cost bounds of runs (issue 9): the real engine, the real pi against the scripted model
 * (or a fixture agent that goes quiet), real processes. The run-timeout test jumps the clock with
 * vitest's fake timers once the tool is running; everything else awaits real signals.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { isAlive } from '../../src/core/process-tree.js';
import { eventsOf, makeHarness, useScriptedModel, type Harness } from '../support/engine-harness.js';
import { makeTempDir, useTempDirs } from '../support/temp.js';

useTempDirs();

const model = useScriptedModel();

async function harness(options: Parameters<typeof makeHarness>[1] = {}): Promise<Harness> {
  const h = await makeHarness(model.llm, options);
  model.track(h.engine);
  h.engine.cards.add({ id: 'card-1', title: 'Add a jump button', body: 'Space makes the player jump.' });
  return h;
}

const fixture = (name: string) => `'${process.execPath}' '${path.resolve('test/fixtures/agents', name)}'`;

describe('run time limits', () => {
  it('fails a run whose tool sleeps past RUN_TIMEOUT: "timed out after 30m", no process left', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'], shouldAdvanceTime: true });
    const { engine } = await harness({ env: { RUN_TIMEOUT: '30m', AGENT_IDLE_TIMEOUT: '2h' } });
    const pidFile = path.join(makeTempDir(), 'sleep.pid');
    model.llm.respond((req) =>
      req.messages.at(-1)?.role === 'tool'
        ? { text: 'done' }
        : { toolCalls: [{ name: 'bash', arguments: { command: `sleep 600 & echo $! > ${pidFile}; ${model.llm.signalCommand('sleeping')}; wait` } }] },
    );
    const run = await engine.manager.start({ cardId: 'card-1', startedBy: 'test' });
    await model.llm.waitForSignal('sleeping');
    const sleepPid = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(isAlive(sleepPid)).toBe(true);

    vi.advanceTimersByTime(30 * 60 * 1000);
    const done = await engine.manager.waitForSettled(run.id);
    expect(done.status).toBe('failed');
    expect(done.error).toBe('timed out after 30m');
    expect(isAlive(sleepPid)).toBe(false);
    expect(engine.manager.isActive(run.id)).toBe(false);
    expect(eventsOf(engine, run, 'warning').map((w) => w.message)).toContainEqual(expect.stringContaining('RUN_TIMEOUT (30m)'));
    expect(eventsOf(engine, run, 'run_settled')[0]).toMatchObject({ status: 'failed', error: 'timed out after 30m' });
  });

  it('fails a run whose agent goes silent past AGENT_IDLE_TIMEOUT: "no progress for 1s", its tool killed', async () => {
    const pidFile = path.join(makeTempDir(), 'tool.pid');
    const { engine } = await harness({ env: { AGENT_COMMAND: fixture('goes-quiet.mjs'), AGENT_IDLE_TIMEOUT: '1s', FIXTURE_PID_FILE: pidFile } });
    const run = await engine.manager.start({ cardId: 'card-1', startedBy: 'test' });
    const toolPid = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(isAlive(toolPid)).toBe(true);

    const done = await engine.manager.waitForSettled(run.id);
    expect(done.status).toBe('failed');
    expect(done.error).toBe('no progress for 1s');
    expect(isAlive(toolPid)).toBe(false);
    expect(eventsOf(engine, run, 'warning').map((w) => w.message)).toContainEqual(expect.stringContaining('AGENT_IDLE_TIMEOUT'));
  });
});

describe('run budget', () => {
  /** Every model call reads 100k prompt tokens: at $10 per million, each call costs $1.00. */
  const dollarPerCall = { input: 10, output: 0 };
  const loopOnTools = () => model.llm.respond(() => ({ toolCalls: [{ name: 'bash', arguments: { command: 'echo again' } }], usage: { prompt: 100_000, completion: 0 } }));

  it('stops a model that loops on tool calls at RUN_BUDGET_USD, and a refinement starts a fresh budget', async () => {
    const { engine } = await harness({ env: { RUN_BUDGET_USD: '2.50' }, modelCost: dollarPerCall });
    loopOnTools();
    const run = await engine.manager.start({ cardId: 'card-1', startedBy: 'test' });
    const done = await engine.manager.waitForSettled(run.id);
    expect(done.status).toBe('failed');
    expect(done.error).toBe('budget of $2.50 reached ($3.00 spent)');
    // Checked after every model call: the third one crossed the cap; a fourth may have begun before the abort.
    expect(model.llm.requests.length).toBeGreaterThanOrEqual(3);
    expect(model.llm.requests.length).toBeLessThanOrEqual(4);
    const usage = eventsOf(engine, run, 'usage');
    expect(usage[0]).toMatchObject({ budgetUsd: 2.5 });
    expect(usage.map((u) => Math.round(u.costUsd * 100) / 100).slice(0, 3)).toEqual([1, 2, 3]);
    expect(eventsOf(engine, run, 'warning').map((w) => w.message)).toContainEqual(expect.stringContaining('RUN_BUDGET_USD ($2.50)'));

    model.llm.respond(() => ({ text: 'Fixed it.', usage: { prompt: 100_000, completion: 0 } }));
    const refinement = await engine.manager.refine({ runId: run.id, prompt: 'finish up', startedBy: 'test' });
    const refined = await engine.manager.waitForSettled(refinement.id);
    expect(refined.status).toBe('succeeded');
    expect(refined.costUsd).toBeCloseTo(1, 5);
  });

  it('says once that the cap cannot be enforced when the model has no price', async () => {
    const { engine } = await harness({ env: { RUN_BUDGET_USD: '2' } });
    const run = await engine.manager.start({ cardId: 'card-1', prompt: 'say hi', startedBy: 'test' });
    const done = await engine.manager.waitForSettled(run.id);
    expect(done.status).toBe('succeeded');
    const warnings = eventsOf(engine, run, 'warning').filter((w) => w.message.includes('cannot be enforced'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toContain('$2.00');
  });
});

describe('bounded memory per run', () => {
  it('fails a run whose agent writes one line over AGENT_MAX_LINE, without buffering the line', async () => {
    const { engine } = await harness({ env: { AGENT_COMMAND: fixture('oversized-line.mjs'), AGENT_MAX_LINE: '256KB', FIXTURE_LINE_BYTES: String(4 * 1024 * 1024) } });
    const run = await engine.manager.start({ cardId: 'card-1', startedBy: 'test' });
    const done = await engine.manager.waitForSettled(run.id);
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/single output line longer than 256KB \(AGENT_MAX_LINE\)/);
    expect(eventsOf(engine, run, 'error').map((e) => e.message)).toEqual([done.error]);
    expect(engine.manager.isActive(run.id)).toBe(false);
  });
});
