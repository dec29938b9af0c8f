/**
 * A run's settle is one SQLite transaction (issue 10 §8): its final row and its `run_settled`
 * event are written together or not at all. Real failed writes are made by triggers that RAISE
 * in the bot's own SQLite file; the run's agent is the real pi against the scripted model.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createRunEngine, type RunEngine } from '../../src/core/engine.js';
import { silentLogger } from '../../src/logger.js';
import { EventLog } from '../../src/core/event-log.js';
import { recordSettle } from '../../src/core/run-settle.js';
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
});

describe('recordSettle', () => {
  it('writes the final row and run_settled together, after the events still pending, or neither; subscribers hear only what was stored', () => {
    const store = openStore(path.join(makeTempDir(), 'bot.db'));
    try {
      const now = '2026-01-01T00:00:00.000Z';
      store.cards.insert({ id: 'card-1', title: 'Jump', body: '' }, now);
      store.runs.insert({
        id: 'run-a', cardId: 'card-1', useWorktree: false, ownsWorktree: false, branch: null, worktreePath: null, baseSha: null, sessionFile: null,
        prompt: 'p', tokenHash: 'a', startedBy: 'test', parentRunId: null, ownerPid: process.pid, now, status: 'running',
      });
      const events = new EventLog(store.events, silentLogger(), { flushMs: 60_000 });
      const heard: string[] = [];
      events.subscribe((e) => heard.push(`${e.seq}:${e.type}`));
      const run = store.runs.get('run-a')!;
      const finish = { status: 'succeeded' as const, summary: 'ok', commitSha: 'abc', error: null, tokensInput: 1, tokensOutput: 2, tokensTotal: 3, costUsd: 0.5, now };

      events.append('run-a', { type: 'assistant_text', text: 'pending in the batch' });
      store.db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON agent_run_events WHEN NEW.type = 'run_settled' BEGIN SELECT RAISE(ABORT, 'disk full'); END;`);
      expect(() => recordSettle(store, events, run, finish, ['a.txt'], 5)).toThrow('disk full');
      // The row was rolled back with the refused event; the batch before it was written.
      expect(store.runs.get('run-a')).toMatchObject({ status: 'running', summary: null, commitSha: null, finishedAt: null, costUsd: 0 });
      expect(heard).toEqual(['1:assistant_text']);

      store.db.exec('DROP TRIGGER refuse');
      events.append('run-a', { type: 'assistant_text', text: 'pending again' });
      const settled = recordSettle(store, events, run, finish, ['a.txt'], 5);
      expect(settled).toMatchObject({ status: 'succeeded', summary: 'ok', commitSha: 'abc', costUsd: 0.5, finishedAt: now });
      expect(heard).toEqual(['1:assistant_text', '2:assistant_text', '3:run_settled']);
      expect(store.events.list('run-a').at(-1)!.data).toMatchObject({ type: 'run_settled', status: 'succeeded', commitSha: 'abc', filesChanged: ['a.txt'], costUsd: 0.5 });
    } finally {
      store.close();
    }
  });
});
