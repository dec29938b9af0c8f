/**
 * Real git repositories in temp folders for tests. Git runs synchronously here: this is test
 * setup, not the bot's event loop.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TEST_GIT_ENV } from './git-env.js';

const made: string[] = [];

/** A fresh empty temp folder (real path), removed by `cleanupGitFixtures`. */
export function tempDir(prefix = 'chatops-git-'): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  made.push(dir);
  return dir;
}

/** Runs git in `cwd` with a fixed identity and returns trimmed stdout. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', '-c', 'commit.gpgsign=false', ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, ...TEST_GIT_ENV },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

/** Writes `file` (relative to `cwd`) and commits it; returns the new HEAD sha. */
export function commitFile(cwd: string, file: string, content: string, message = `add ${file}`): string {
  fs.mkdirSync(path.dirname(path.join(cwd, file)), { recursive: true });
  fs.writeFileSync(path.join(cwd, file), content);
  git(cwd, 'add', '--', file);
  git(cwd, 'commit', '-q', '-m', message);
  return git(cwd, 'rev-parse', 'HEAD');
}

/** A repository on branch `main` with one commit (README.md); returns its path. */
export function makeRepo(): string {
  const dir = tempDir('chatops-repo-');
  git(dir, 'init', '-q', '-b', 'main');
  commitFile(dir, 'README.md', '# game\n', 'initial commit');
  return dir;
}

/** Removes every folder made by this module. */
export function cleanupGitFixtures(): void {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}
