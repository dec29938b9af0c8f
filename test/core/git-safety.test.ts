/**
 * The bot's own git calls never run programs the repository configures: a planted
 * `core.fsmonitor` and `post-checkout` hook stay untouched through a run's start (worktree add),
 * settle (status, diff) and removal (worktree remove, branch delete). Real git, real pi.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { Worktrees } from '../../src/core/worktrees.js';
import { silentLogger } from '../../src/logger.js';
import { makeBotEnv, makeHarness } from '../support/engine-harness.js';
import { git as fixtureGit } from '../support/git-fixture.js';
import { TEST_GIT_ENV } from '../support/git-env.js';
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

describe("the tests' git environment", () => {
  it("never reads the developer's global git config: not in the bot's simple-git, the fixtures' git or an agent's environment", async () => {
    // A developer's ~/.gitconfig that would change what the bot sees: untracked files hidden.
    const home = makeTempDir('chatops-home-');
    fs.writeFileSync(path.join(home, '.gitconfig'), '[status]\n\tshowUntrackedFiles = no\n');
    const repo = await makeTempRepo();
    fs.writeFileSync(path.join(repo, 'untracked.txt'), '');
    const untold = execFileSync('git', ['status', '--porcelain'], { cwd: repo, env: { PATH: process.env.PATH, HOME: home }, encoding: 'utf8' });
    expect(untold.trim()).toBe(''); // a git that is not told reads it (so the checks below can fail)

    vi.stubEnv('HOME', home);
    try {
      expect(process.env).toMatchObject(TEST_GIT_ENV);
      const worktrees = new Worktrees({ repoRoot: repo, worktreesDir: makeTempDir(), baseBranch: null, logger: silentLogger() });
      expect(await worktrees.dirtySummary(repo)).toBe('?? untracked.txt');
      expect(fixtureGit(repo, 'status', '--porcelain')).toBe('?? untracked.txt');
      const { env } = await makeBotEnv(llm, { repo });
      expect(loadConfig(env, repo).agentEnv).toMatchObject(TEST_GIT_ENV);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
