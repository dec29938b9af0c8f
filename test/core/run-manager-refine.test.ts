import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { transcript } from '../support/mock-llm.js';
import { gate } from '../support/gate.js';
import { useRunManagerSuite } from '../support/run-manager-suite.js';

const suite = useRunManagerSuite();
const harness = suite.harness.bind(suite);

describe('RunManager refinements with the real pi agent', () => {
  it('refines a settled run: same worktree and branch, the session continues with the earlier history', async () => {
    const { engine } = await harness();
    const first = await engine.manager.start({ cardId: 'card-1', startedBy: 'test' });
    const firstDone = await engine.manager.waitForSettled(first.id);
    const before = suite.llm.requests.length;

    const refinement = await engine.manager.refine({ runId: first.id, prompt: 'make the jump higher', startedBy: 'discord:9' });
    expect(refinement).toMatchObject({
      parentRunId: first.id,
      ownsWorktree: false,
      worktreePath: first.worktreePath,
      branch: first.branch,
      sessionFile: first.sessionFile,
      startedBy: 'discord:9',
    });
    const done = await engine.manager.waitForSettled(refinement.id);
    expect(done.status).toBe('succeeded');
    const sent = transcript(suite.llm.requests[before]!);
    expect(sent.at(-1)).toBe('user: make the jump higher');
    expect(sent.join('\n')).toContain(firstDone.summary!.split('\n')[0]!);
    expect(sent.filter((l) => l.startsWith('tool: ')).length).toBeGreaterThan(0);
  });

  it('refuses each refinement precondition with a clear error', async () => {
    const { engine } = await harness();
    const m = engine.manager;
    await expect(m.refine({ runId: 'nope-nope', startedBy: 't' })).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' });

    const busy = gate();
    suite.llm.respond((req) => (req.index === 0 ? { toolCalls: [{ name: 'bash', arguments: { command: busy.command(suite.llm, 'busy') } }] } : { text: 'ok' }));
    const running = await m.start({ cardId: 'card-1', startedBy: 't' });
    await suite.llm.waitForSignal('busy');
    await expect(m.refine({ runId: running.id, startedBy: 't' })).rejects.toThrow(/still running/);
    busy.open();
    await m.waitForSettled(running.id);
    suite.llm.reset();

    const noWorktree = await m.start({ cardId: 'card-1', useWorktree: false, startedBy: 't' });
    await m.waitForSettled(noWorktree.id);
    await expect(m.refine({ runId: noWorktree.id, startedBy: 't' })).rejects.toThrow(/without a worktree/);

    // Session file gone.
    fs.rmSync(m.get(running.id)!.sessionFile!);
    await expect(m.refine({ runId: running.id, startedBy: 't' })).rejects.toThrow(/agent session .* is gone/);

    // A refinement already working in the worktree blocks a second one.
    const base = await m.start({ cardId: 'card-1', startedBy: 't' });
    await m.waitForSettled(base.id);
    const refining = gate();
    suite.llm.respond(() => ({ toolCalls: [{ name: 'bash', arguments: { command: refining.command(suite.llm, 'refining') } }] }));
    const r1 = await m.refine({ runId: base.id, startedBy: 't' });
    await suite.llm.waitForSignal('refining');
    await expect(m.refine({ runId: base.id, startedBy: 't' })).rejects.toMatchObject({ code: 'REFINE_PRECONDITION' });
    await m.stop(r1.id, 't');

    // Worktree cleaned up.
    await engine.worktrees.remove(base.worktreePath!, base.branch!);
    await expect(m.refine({ runId: base.id, startedBy: 't' })).rejects.toThrow(/no worktree any more/);
  });

  it('never removes a worktree while a run uses it, and hands it to the remaining refinement', async () => {
    const { engine } = await harness();
    const m = engine.manager;
    const owner = await m.start({ cardId: 'card-1', startedBy: 't' });
    await m.waitForSettled(owner.id);
    const ref = gate();
    suite.llm.respond((req) => (req.messages.at(-1)?.role === 'tool' ? { text: 'ok' } : { toolCalls: [{ name: 'bash', arguments: { command: ref.command(suite.llm, 'ref') } }] }));
    const refinement = await m.refine({ runId: owner.id, startedBy: 't' });
    await suite.llm.waitForSignal('ref');

    await expect(m.remove(refinement.id)).rejects.toMatchObject({ code: 'RUN_ACTIVE' });
    expect(await m.remove(owner.id)).toEqual({ worktreeRemoved: false });
    expect(fs.existsSync(owner.worktreePath!)).toBe(true);
    expect(m.get(owner.id)).toBeUndefined();
    expect(m.events(owner.id)).toEqual([]);

    ref.open();
    const done = await m.waitForSettled(refinement.id);
    expect(done.status).toBe('succeeded');
    expect(m.get(refinement.id)!.ownsWorktree).toBe(true);
    expect(await m.remove(refinement.id)).toEqual({ worktreeRemoved: true });
    expect(fs.existsSync(owner.worktreePath!)).toBe(false);
  });

  it('never runs two agents in one working directory', async () => {
    const { engine } = await harness();
    const one = gate();
    suite.llm.respond((req) => (req.messages.at(-1)?.role === 'tool' ? { text: 'ok' } : { toolCalls: [{ name: 'bash', arguments: { command: one.command(suite.llm, 'one') } }] }));
    const a = await engine.manager.start({ cardId: 'card-1', useWorktree: false, startedBy: 't' });
    await suite.llm.waitForSignal('one');
    await expect(engine.manager.start({ cardId: 'card-1', useWorktree: false, startedBy: 't' })).rejects.toMatchObject({ code: 'WORKTREE_BUSY' });
    await engine.manager.stop(a.id, 't');
  });
});
