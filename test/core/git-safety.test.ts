/**
 * The bot's own git calls never run programs the repository configures: a planted
 * `core.fsmonitor` and `post-checkout` hook stay untouched through a run's start (worktree add),
 * settle (status, diff) and removal (worktree remove, branch delete). Real git, real pi.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHarness } from '../support/engine-harness.js';
import { MockLlm } from '../support/mock-llm.js';
import { git, makeTempDir, makeTempRepo, useTempDirs } from '../support/temp.js';

useTempDirs();

let llm: MockLlm;
beforeAll(async () => {
  llm = await MockLlm.start();
});
afterAll(async () => {
  await llm.close();
});

/** Plants both programs; each appends its name to `log` when run. */
async function plant(repo: string, log: string): Promise<void> {
  const hook = path.join(repo, '.git', 'hooks', 'post-checkout');
  fs.writeFileSync(hook, `#!/bin/sh\necho post-checkout >> '${log}'\n`, { mode: 0o755 });
  const monitor = path.join(makeTempDir(), 'fsmonitor.sh');
  fs.writeFileSync(monitor, `#!/bin/sh\necho fsmonitor >> '${log}'\nexit 1\n`, { mode: 0o755 });
  await git(repo, ['config', 'core.fsmonitor', monitor]);
}

describe("the bot's git", () => {
  it('the planted programs do run for a plain git (so the test can see them)', async () => {
    const repo = await makeTempRepo();
    const log = path.join(makeTempDir(), 'ran.log');
    await plant(repo, log);
    await execa('git', ['status', '--porcelain'], { cwd: repo });
    await execa('git', ['checkout', '-q', '-b', 'other'], { cwd: repo });
    expect(fs.readFileSync(log, 'utf8').split('\n')).toEqual(expect.arrayContaining(['fsmonitor', 'post-checkout']));
  });

  it('never runs a planted core.fsmonitor or post-checkout hook during run start, settle and removal', async () => {
    const repo = await makeTempRepo();
    const log = path.join(makeTempDir(), 'ran.log');
    await plant(repo, log);
    const h = await makeHarness(llm, { repo });
    try {
      h.engine.cards.add({ id: 'card-1', title: 'Edit', body: 'x' });
      // The agent leaves an uncommitted file (settle runs status), without running git itself.
      llm.respond((req) => (req.messages.at(-1)?.role === 'tool' ? { text: 'left a file' } : { toolCalls: [{ name: 'bash', arguments: { command: 'echo wip > wip.txt' } }] }));
      const run = await h.engine.manager.start({ cardId: 'card-1', startedBy: 'test' });
      const done = await h.engine.manager.waitForSettled(run.id);
      expect(done.status).toBe('succeeded');
      expect(h.engine.manager.events(run.id).some((e) => e.data.type === 'warning' && e.data.message.includes('wip.txt'))).toBe(true);
      const { worktreeRemoved } = await h.engine.manager.remove(run.id);
      expect(worktreeRemoved).toBe(true);
      expect(fs.existsSync(log)).toBe(false);
    } finally {
      await h.engine.close();
    }
  });
});
