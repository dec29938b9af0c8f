/**
 * A run's settle is one SQLite transaction (issue 10 §8): its final row and its `run_settled`
 * event are written together or not at all. Real failed writes are made by triggers that RAISE
 * in the bot's own SQLite file; the agent is the real pi against the scripted model.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createRunEngine, type RunEngine } from '../../src/core/engine.js';
import { silentLogger } from '../../src/logger.js';
import { openStore } from '../../src/store/index.js';
import { eventsOf, makeBotEnv, useScriptedModel } from '../support/engine-harness.js';
import { makeTempDir, useTempDirs } from '../support/temp.js';
import path from 'node:path';

useTempDirs();

const model = useScriptedModel();

async function engine(): Promise<RunEngine> {
  const { repo, env } = await makeBotEnv(model.llm);
  const e = model.track(await createRunEngine(loadConfig(env, repo), silentLogger()));
  e.cards.add({ id: 'card-1', title: 'Jump', body: '' });
  return e;
}

describe('atomic settle', () => {
  it('a success settle the database refuses ends the run failed with the error, never left running', async () => {
    const e = await engine();
    e.store.db.exec(
      `CREATE TRIGGER refuse_success BEFORE UPDATE OF status ON agent_runs WHEN NEW.status = 'succeeded'
       BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END;`,
    );
    const run = await e.manager.start({ cardId: 'card-1', prompt: 'say hi', startedBy: 'test' });
    const done = await e.manager.waitForSettled(run.id);

    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/^the run ended \(succeeded\) but its outcome could not be recorded: disk I\/O error/);
    expect(e.store.runs.get(run.id)).toMatchObject({ status: 'failed', error: done.error });
    expect(e.store.runs.get(run.id)!.tokensTotal).toBeGreaterThan(0);
    expect(e.manager.isActive(run.id)).toBe(false);
    // One final result, the failure; the refused success left nothing behind.
    expect(eventsOf(e, run, 'run_settled')).toEqual([expect.objectContaining({ status: 'failed', error: done.error })]);
    expect(e.manager.events(run.id).at(-1)!.type).toBe('run_settled');
    // Its working directory was released: a refinement may start in it.
    expect(e.manager.worktreeInUse(run.worktreePath!, [])).toBe(false);
  });

  it('a run_settled event the database refuses rolls the final row back; the failure is recorded with its own event', async () => {
    const e = await engine();
    e.store.db.exec(
      `CREATE TRIGGER refuse_settled BEFORE INSERT ON agent_run_events
       WHEN NEW.type = 'run_settled' AND json_extract(NEW.data, '$.status') = 'succeeded'
       BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;`,
    );
    const seen: string[] = [];
    e.manager.subscribe((ev) => ev.type === 'run_settled' && seen.push(`${e.store.runs.get(ev.runId)!.status}`));
    const run = await e.manager.start({ cardId: 'card-1', prompt: 'say hi', startedBy: 'test' });
    const done = await e.manager.waitForSettled(run.id);

    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/could not be recorded: database or disk is full/);
    // Subscribers heard of exactly one settle, and the row they read already held it.
    expect(seen).toEqual(['failed']);
    expect(eventsOf(e, run, 'run_settled')).toEqual([expect.objectContaining({ status: 'failed' })]);
  });
});

describe('RunSettleRepo', () => {
  it('writes the final row and the settled event together, or neither', () => {
    const store = openStore(path.join(makeTempDir(), 'bot.db'));
    try {
      store.cards.insert({ id: 'card-1', title: 'Jump', body: '' }, '2026-01-01T00:00:00.000Z');
      const now = '2026-01-01T00:00:00.000Z';
      const base = { cardId: 'card-1', useWorktree: false, ownsWorktree: false, branch: null, worktreePath: null, baseSha: null, sessionFile: null, prompt: 'p', startedBy: 'test', parentRunId: null, ownerPid: process.pid, now };
      store.runs.insert({ ...base, id: 'run-a', tokenHash: 'a' });
      store.events.append('run-a', [{ data: { type: 'assistant_text', text: 'hi' }, createdAt: now }]);
      const finish = { status: 'succeeded' as const, summary: 'ok', commitSha: 'abc', error: null, tokensInput: 1, tokensOutput: 2, tokensTotal: 3, costUsd: 0.5, now };
      const settled = (status: 'succeeded') => ({ data: { type: 'run_settled' as const, status, summary: 'ok', error: null, commitSha: 'abc', branch: null, filesChanged: [], durationMs: 1, costUsd: 0.5, tokensTotal: 3 }, createdAt: now });

      store.db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON agent_run_events WHEN NEW.type = 'run_settled' BEGIN SELECT RAISE(ABORT, 'disk full'); END;`);
      expect(() => store.settle.finish('run-a', finish, settled('succeeded'))).toThrow('disk full');
      expect(store.runs.get('run-a')).toMatchObject({ status: 'running', summary: null, commitSha: null, finishedAt: null, costUsd: 0 });
      expect(store.events.lastSeq('run-a')).toBe(1);

      store.db.exec('DROP TRIGGER refuse');
      const { result, event } = store.settle.finish('run-a', finish, settled('succeeded'));
      expect(result).toMatchObject({ status: 'succeeded', summary: 'ok', commitSha: 'abc', costUsd: 0.5, finishedAt: now });
      expect(event).toMatchObject({ runId: 'run-a', seq: 2, type: 'run_settled' });
    } finally {
      store.close();
    }
  });
});
