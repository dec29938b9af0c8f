/**
 * A full disk or a failed SQLite write (issue 9): real write failures, made by triggers that
 * RAISE in the bot's own SQLite file, against the real pi and the scripted model. A run never
 * stays `running` behind the bot's back, and the log says what was lost.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createRunEngine, type RunEngine } from '../../src/core/engine.js';
import { createLogger } from '../../src/logger.js';
import { makeBotEnv, nextEvent, useScriptedModel } from '../support/engine-harness.js';
import { makeTempDir, useTempDirs } from '../support/temp.js';

useTempDirs();

const model = useScriptedModel();

/** An engine whose log lines (JSON) are kept for assertions. */
async function engineWithLog(): Promise<{ engine: RunEngine; logs: Record<string, unknown>[] }> {
  const { repo, env } = await makeBotEnv(model.llm);
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write: (chunk, _enc, cb) => {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const engine = await createRunEngine(loadConfig(env, repo), createLogger('warn', sink));
  model.track(engine);
  engine.cards.add({ id: 'card-1', title: 'Jump', body: '' });
  return { engine, logs };
}

/** A bash tool that runs until a file that never appears exists: only a stop ends the run. */
function blockingTool(): void {
  const never = path.join(makeTempDir(), 'never');
  model.llm.respond((req) =>
    req.messages.at(-1)?.role === 'tool'
      ? { text: 'done' }
      : { toolCalls: [{ name: 'bash', arguments: { command: `while [ ! -f ${never} ]; do sleep 0.1; done` } }] },
  );
}

describe('failed SQLite writes', () => {
  it('fails a run whose events cannot be stored, with the reason, and logs what was lost', async () => {
    const { engine, logs } = await engineWithLog();
    engine.store.db.exec(
      `CREATE TRIGGER full_disk BEFORE INSERT ON agent_run_events WHEN NEW.type = 'tool_start'
       BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;`,
    );
    blockingTool();
    const run = await engine.manager.start({ cardId: 'card-1', startedBy: 'test' });
    const done = await engine.manager.waitForSettled(run.id);
    expect(done.status).toBe('failed');
    expect(done.error).toBe("could not save the run's events (database or disk is full)");
    expect(engine.store.runs.get(run.id)!.status).toBe('failed');
    const types = engine.manager.events(run.id).map((e) => e.type);
    expect(types).not.toContain('tool_start');
    expect(types.at(-1)).toBe('run_settled');
    const lost = logs.find((l) => l.msg === 'could not store run events; they are lost');
    expect(lost).toMatchObject({ runId: run.id, lost: 1, types: ['tool_start'] });
    expect(String(lost!.first)).toContain('"type":"tool_start"');
  });

  it('a settle the database refuses is recorded as failed once writes work again; the log says so', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'], shouldAdvanceTime: true });
    const { engine, logs } = await engineWithLog();
    engine.store.db.exec(
      `CREATE TRIGGER io_error BEFORE UPDATE OF status ON agent_runs WHEN NEW.status <> 'running'
       BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END;`,
    );
    const run = await engine.manager.start({ cardId: 'card-1', prompt: 'say hi', startedBy: 'test' });
    const done = await engine.manager.waitForSettled(run.id);
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/^the run ended \(succeeded\) but its outcome could not be recorded: disk I\/O error/);
    expect(engine.manager.isActive(run.id)).toBe(false);
    expect(engine.store.runs.get(run.id)!.status).toBe('running');
    expect(logs.map((l) => l.msg)).toContainEqual(expect.stringMatching(/could not record the failed run; it stays "running" in the database until a write succeeds/));

    engine.store.db.exec('DROP TRIGGER io_error');
    const settled = nextEvent(engine, (e) => e.runId === run.id && e.type === 'run_settled');
    vi.advanceTimersByTime(10_000);
    expect((await settled).data).toMatchObject({ status: 'failed', error: done.error });
    expect(engine.store.runs.get(run.id)).toMatchObject({ status: 'failed', error: done.error });
    expect(fs.existsSync(run.worktreePath!)).toBe(true);
  });
});
