/**
 * Temporary directories and git repositories for tests: real files, real git, removed after
 * the test file (call `cleanupTemp()` in `afterAll`, or use `useTempDirs()`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll } from 'vitest';
import { TEST_GIT_ENV } from './git-env.js';

const created: string[] = [];

/** A fresh empty directory under the OS temp dir (realpath, so it compares equal to what tools print). */
export function makeTempDir(prefix = 'chatops-test-'): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  created.push(dir);
  return dir;
}

/** Removes every directory made by this module so far. */
export function cleanupTemp(): void {
  for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** Registers `cleanupTemp` to run after the current test file. */
export function useTempDirs(): void {
  afterAll(() => cleanupTemp());
}

/** Runs git in `cwd` with a config that ignores the user's global and system settings. */
export async function git(cwd: string, args: string[]): Promise<string> {
  const { stdout } = await execa('git', args, {
    cwd,
    env: TEST_GIT_ENV,
  });
  return stdout.trim();
}

/** A git repository on branch `main` with a local identity and one initial commit (README.md). */
export async function makeTempRepo(prefix = 'chatops-repo-'): Promise<string> {
  const dir = makeTempDir(prefix);
  await git(dir, ['init', '-q', '-b', 'main']);
  await git(dir, ['config', 'user.name', 'Test User']);
  await git(dir, ['config', 'user.email', 'test@example.invalid']);
  await git(dir, ['config', 'commit.gpgsign', 'false']);
  fs.writeFileSync(path.join(dir, 'README.md'), '# test repo\n');
  await git(dir, ['add', '-A']);
  await git(dir, ['commit', '-q', '-m', 'initial commit']);
  return dir;
}
