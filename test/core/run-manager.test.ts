import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAlive } from '../../src/core/process-tree.js';
import { eventsOf, nextEvent } from '../support/engine-harness.js';
import { transcript } from '../support/mock-llm.js';
import { gate } from '../support/gate.js';
import { toolThenText, useRunManagerSuite } from '../support/run-manager-suite.js';
import { git, makeTempDir } from '../support/temp.js';

// Refinements and the one-agent-per-directory rule: run-manager-refine.test.ts (two files run side by side).
const suite = useRunManagerSuite();
const harness = suite.harness.bind(suite);

describe('RunManager with the real pi agent', () => {
  it('runs a card in a fresh worktree; the agent commit lands on the run branch and is recorded', async () => {
    const { engine, repo } = await harness();
    const run = await engine.manager.start({ cardId: 'card-1', startedBy: 'test' });
    expect(run).toMatchObject({ status: 'running', ownsWorktree: true, startedBy: 'test', parentRunId: null });
    expect(run.branch).toMatch(/^chatops\/card-1-[0-9a-f]{8}$/);
    expect(fs.existsSync(run.worktreePath!)).toBe(true);

    const done = await engine.manager.waitForSettled(run.id);
    expect(done.status).toBe('succeeded');
    expect(done.commitSha).toBe(await git(repo, ['rev-parse', run.branch!]));
    expect(await git(repo, ['log', '-1', '--format=%s', run.branch!])).toMatch(/^mock: add mock-\d+\.txt$/);
    expect(done.summary).toMatch(/^Done: [0-9a-f]+ mock: add/);
    expect(done.finishedAt).not.toBeNull();
    // The team's checkout is untouched and the bot's files stay out of its status.
    expect(await git(repo, ['status', '--porcelain'])).toBe('');
    expect(await git(repo, ['rev-parse', '--abbrev-ref', 'HEAD'])).toBe('main');

    const types = engine.manager.events(run.id).map((e) => e.type);
    expect(types[0]).toBe('run_started');
    expect(types.at(-1)).toBe('run_settled');
    expect(types).toEqual(expect.arrayContaining(['tool_start', 'tool_end', 'assistant_text', 'turn_end', 'usage']));
    const settled = eventsOf(engine, run, 'run_settled')[0]!;
    expect(settled).toMatchObject({ status: 'succeeded', commitSha: done.commitSha, branch: run.branch });
    expect(settled.filesChanged).toEqual([expect.stringMatching(/^mock-\d+\.txt$/)]);
    expect(done.tokensTotal).toBeGreaterThan(0);
    // The prompt carried the card and the contract.
    const first = transcript(suite.llm.requests[0]!).join('\n');
    expect(first).toContain('Add a jump button');
    expect(first).toContain(run.branch!);
  });

  it('warns when the agent leaves uncommitted changes', async () => {
    const { engine } = await harness();
    suite.llm.respond(toolThenText('echo half-done > wip.txt'));
    const run = await engine.manager.start({ cardId: 'card-1', startedBy: 'test' });
    const done = await engine.manager.waitForSettled(run.id);
    expect(done.status).toBe('succeeded');
    const warnings = eventsOf(engine, run, 'warning').map((w) => w.message);
    expect(warnings).toEqual([expect.stringMatching(/uncommitted changes:\n\?\? wip\.txt/)]);
  });

  it('fails the run with the model error', async () => {
    const { engine } = await harness();
    suite.llm.respond(() => ({ status: 400, message: 'context too spicy' }));
    const run = await engine.manager.start({ cardId: 'card-1', startedBy: 'test' });
    const done = await engine.manager.waitForSettled(run.id);
    expect(done.status).toBe('failed');
    expect(done.error).toContain('context too spicy');
    expect(eventsOf(engine, run, 'run_settled')[0]).toMatchObject({ status: 'failed' });
  });

  it('delivers a steer before the next model call and records who sent it', async () => {
    const { engine } = await harness();
    const tool = gate();
    suite.llm.respond((req) => {
      if (req.index === 0) return { toolCalls: [{ name: 'bash', arguments: { command: tool.command(suite.llm, 'tool') } }] };
      return { text: `seen: ${transcript(req).slice(-2).join(' | ')}` };
    });
    const run = await engine.manager.start({ cardId: 'card-1', startedBy: 'test' });
    await suite.llm.waitForSignal('tool');
    // The tool runs until the gate opens: the steer is queued during it, whatever the machine's load.
    await engine.manager.steer(run.id, 'use the blue sprite', 'discord:42');
    tool.open();
    const done = await engine.manager.waitForSettled(run.id);
    expect(done.status).toBe('succeeded');
    // The second model call already carried the steer, after the tool result.
    expect(transcript(suite.llm.requests[1]!).slice(-2)).toEqual([expect.stringMatching(/^tool: /), 'user: use the blue sprite']);
    expect(eventsOf(engine, run, 'user_message')).toEqual([{ type: 'user_message', kind: 'steer', text: 'use the blue sprite', by: 'discord:42' }]);
    await expect(engine.manager.steer(run.id, 'too late', 'x')).rejects.toMatchObject({ code: 'RUN_NOT_ACTIVE' });
  });

  it('stops a run during a tool: status stopped, no process of the tool left, a follow-up still queued named as not delivered', async () => {
    const { engine } = await harness();
    const pidFile = path.join(makeTempDir(), 'sleep.pid');
    suite.llm.respond(toolThenText(`sleep 60 & echo $! > ${pidFile}; ${suite.llm.signalCommand('sleeping')}; wait`));
    const run = await engine.manager.start({ cardId: 'card-1', startedBy: 'test' });
    await suite.llm.waitForSignal('sleeping');
    const sleepPid = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(isAlive(sleepPid)).toBe(true);
    // Queued by pi for when the agent would stop; a stop ends the run before that (issue 10 §7: never silently).
    await engine.manager.followUp(run.id, 'and then the docs', 'slack:U1');
    expect(await engine.manager.stop(run.id, 'discord:7')).toBe(true);
    const done = engine.manager.get(run.id)!;
    expect(done.status).toBe('stopped');
    expect(isAlive(sleepPid)).toBe(false);
    expect(eventsOf(engine, run, 'stop_requested')).toEqual([{ type: 'stop_requested', by: 'discord:7' }]);
    expect(eventsOf(engine, run, 'warning').map((w) => w.message)).toEqual([
      'Not delivered (the run was stopped first): “and then the docs”. Reply in the thread to start a refinement with it.',
    ]);
    // Stopping again is a no-op.
    expect(await engine.manager.stop(run.id, 'discord:7')).toBe(false);
  });

  it('rejects an unknown card and a REPO_ROOT that is not a git repository', async () => {
    const { engine } = await harness();
    await expect(engine.manager.start({ cardId: 'card-404', startedBy: 't' })).rejects.toMatchObject({ code: 'CARD_NOT_FOUND' });
    await expect(engine.manager.start({ cardId: 'bad id', startedBy: 't' })).rejects.toMatchObject({ code: 'CARD_ID_INVALID' });
    const plain = makeTempDir('not-a-repo-');
    const other = await harness({ repo: plain });
    await expect(other.engine.manager.start({ cardId: 'card-1', startedBy: 't' })).rejects.toMatchObject({ code: 'NOT_A_GIT_REPO' });
    expect(other.engine.manager.list()).toEqual([]);
  });

  it('stores run tokens hashed and finds a run by its token', async () => {
    const { engine } = await harness();
    const run = await engine.manager.start({ cardId: 'card-1', startedBy: 't' });
    await engine.manager.waitForSettled(run.id);
    // The agent got the token in its prompt; the stored prompt has it blanked out.
    const sent = transcript(suite.llm.requests[0]!).join('\n');
    const token = /Run token[^:]*: ([A-Za-z0-9_-]+)\./.exec(sent)![1]!;
    expect(run.prompt).not.toContain(token);
    expect(run.prompt).toContain('<run token>');
    expect(engine.manager.getByToken(token)?.id).toBe(run.id);
    expect(engine.manager.getByToken(`${token}x`)).toBeUndefined();
    const stored = engine.store.db.prepare('SELECT token_hash FROM agent_runs WHERE id = ?').get(run.id) as { token_hash: string };
    expect(stored.token_hash).not.toContain(token);
    expect(stored.token_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('plays a run from its worktree and stops the playtest when the run is removed', async () => {
    const game = path.resolve('test/fixtures/playtest/game.mjs');
    const { engine } = await harness({ env: { PLAYTEST_COMMAND: `'${process.execPath}' '${game}'` } });
    const run = await engine.manager.start({ cardId: 'card-1', startedBy: 't' });
    await engine.manager.waitForSettled(run.id);
    const started = nextEvent(engine, (e) => e.runId === run.id && e.data.type === 'playtest' && e.data.phase === 'started');
    await engine.manager.startPlaytest(run.id, 'discord:5');
    await started;
    expect(engine.manager.playtestRunning(run.id)).toBe(true);
    await expect(engine.manager.startPlaytest(run.id, 'discord:5')).rejects.toMatchObject({ code: 'PLAYTEST' });
    expect(await engine.manager.stopPlaytest(run.id, 'discord:5')).toBe(true);
    expect(engine.manager.playtestRunning(run.id)).toBe(false);
    expect(await engine.manager.stopPlaytest(run.id, 'discord:5')).toBe(false);
    await expect(engine.manager.capturePlaytest(run.id, 'discord:5')).rejects.toThrow('no playtest is running for this run; react 🎮 to start one');

    await engine.manager.startPlaytest(run.id, null);
    await engine.manager.remove(run.id);
    expect(engine.manager.playtestRunning(run.id)).toBe(false);
  });
});

describe('RunManager with misbehaving agents', () => {
  const fixture = (name: string) => path.resolve('test/fixtures/agents', name);

  it('an agent that crashes at start leaves a failed run (never running) and no worktree', async () => {
    const { engine, repo } = await harness({ env: { AGENT_COMMAND: `'${process.execPath}' '${fixture('crash-at-start.mjs')}'` } });
    await expect(engine.manager.start({ cardId: 'card-1', startedBy: 't' })).rejects.toMatchObject({ code: 'AGENT_START_FAILED' });
    const [run] = engine.manager.list();
    expect(run).toMatchObject({ status: 'failed', worktreePath: null });
    expect(run!.error).toBeTruthy();
    expect(await git(repo, ['branch', '--list', 'chatops/*'])).toBe('');
    expect(eventsOf(engine, run!, 'run_settled')).toHaveLength(1);
  });

  it('a missing agent binary gives an error that names it', async () => {
    const { engine } = await harness({ env: { AGENT_COMMAND: '/nonexistent/pi-agent' } });
    await expect(engine.manager.start({ cardId: 'card-1', startedBy: 't' })).rejects.toThrow(/\/nonexistent\/pi-agent/);
    expect(engine.manager.list()[0]!.status).toBe('failed');
  });
});

describe('restart recovery', () => {
  it('marks runs left running by a dead process as interrupted, and they stay refinable', async () => {
    const first = await harness();
    const run = await first.engine.manager.start({ cardId: 'card-1', startedBy: 't' });
    await first.engine.manager.waitForSettled(run.id);
    // Simulate a crash mid-run: the row says running, owned by a process that no longer exists.
    first.engine.store.db.prepare("UPDATE agent_runs SET status = 'running', finished_at = NULL, owner_pid = 2147483000 WHERE id = ?").run(run.id);
    await first.engine.close();

    const second = await harness({ repo: first.repo, dataDir: first.dataDir });
    const recovered = second.engine.manager.get(run.id)!;
    expect(recovered.status).toBe('interrupted');
    expect(recovered.error).toMatch(/bot stopped/);
    expect(eventsOf(second.engine, run, 'run_settled').at(-1)).toMatchObject({ status: 'interrupted' });

    const refinement = await second.engine.manager.refine({ runId: run.id, prompt: 'carry on', startedBy: 't' });
    expect((await second.engine.manager.waitForSettled(refinement.id)).status).toBe('succeeded');
  });
});
