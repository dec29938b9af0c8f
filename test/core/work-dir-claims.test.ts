/**
 * A run claims its working directory before its row is inserted (one agent per directory); when
 * the insert fails, the claim is given back, so the directory does not stay "busy" forever.
 * The failed insert is real: a trigger that RAISEs in the bot's own SQLite file.
 */
import { describe, expect, it } from 'vitest';
import { makeHarness, useScriptedModel } from '../support/engine-harness.js';
import { useTempDirs } from '../support/temp.js';

useTempDirs();

const model = useScriptedModel();

describe('directory claims', () => {
  it('are released when the run row cannot be inserted', async () => {
    const { engine, repo } = await makeHarness(model.llm);
    model.track(engine);
    engine.cards.add({ id: 'card-1', title: 'Jump', body: '' });
    engine.store.db.exec(`CREATE TRIGGER refuse_runs BEFORE INSERT ON agent_runs BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;`);

    // A run without a worktree works in the checkout itself: the directory every such run shares.
    await expect(engine.manager.start({ cardId: 'card-1', useWorktree: false, startedBy: 'test' })).rejects.toThrow('database or disk is full');
    expect(engine.manager.list()).toEqual([]);
    expect(engine.manager.worktreeInUse(repo, [])).toBe(false);
  });
});
