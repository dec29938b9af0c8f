import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/core/errors.js';
import { Worktrees } from '../../src/core/worktrees.js';
import { silentLogger } from '../../src/logger.js';
import { cleanupGitFixtures, commitFile, git, makeRepo, tempDir } from '../support/git-fixture.js';

const RUN = 'abcdef12-3456-7890-abcd-ef1234567890';

function worktrees(repoRoot: string, opts: { baseBranch?: string | null; worktreesDir?: string } = {}): Worktrees {
  return new Worktrees({
    repoRoot,
    worktreesDir: opts.worktreesDir ?? path.join(repoRoot, '.chatops', 'worktrees'),
    baseBranch: opts.baseBranch ?? null,
    logger: silentLogger(),
  });
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  return (err as UserError).code;
}

function branches(repo: string): string[] {
  return git(repo, 'branch', '--format=%(refname:short)').split('\n').filter(Boolean);
}

afterEach(() => cleanupGitFixtures());

describe('Worktrees.create', () => {
  it('makes a worktree on a new branch from HEAD', async () => {
    const repo = makeRepo();
    const head = git(repo, 'rev-parse', 'HEAD');
    const wt = await worktrees(repo).create(RUN, 'card-7');

    expect(wt.branch).toBe('chatops/card-7-abcdef12');
    expect(wt.path).toBe(path.join(repo, '.chatops', 'worktrees', 'card-7-abcdef12'));
    expect(wt.baseSha).toBe(head);
    expect(git(wt.path, 'rev-parse', 'HEAD')).toBe(head);
    expect(git(wt.path, 'branch', '--show-current')).toBe('chatops/card-7-abcdef12');
    expect(fs.readFileSync(path.join(wt.path, 'README.md'), 'utf8')).toBe('# game\n');
    expect(git(repo, 'worktree', 'list', '--porcelain')).toContain(`worktree ${wt.path}`);
    expect(worktrees(repo).exists(wt.path)).toBe(true);
    // The team's checkout is untouched and stays clean (the worktrees folder is excluded).
    expect(git(repo, 'branch', '--show-current')).toBe('main');
    expect(git(repo, 'status', '--porcelain')).toBe('');
  });

  it('branches from BASE_BRANCH when set', async () => {
    const repo = makeRepo();
    git(repo, 'checkout', '-q', '-b', 'develop');
    const developSha = commitFile(repo, 'develop.txt', 'dev\n');
    git(repo, 'checkout', '-q', 'main');
    const wt = await worktrees(repo, { baseBranch: 'develop' }).create(RUN, 'card-8');

    expect(wt.baseSha).toBe(developSha);
    expect(git(wt.path, 'rev-parse', 'HEAD')).toBe(developSha);
    expect(fs.existsSync(path.join(wt.path, 'develop.txt'))).toBe(true);
  });

  it('refuses an unknown BASE_BRANCH with a clear UserError and creates nothing', async () => {
    const repo = makeRepo();
    const err = await worktrees(repo, { baseBranch: 'nope' })
      .create(RUN, 'card-9')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).code).toBe('CONFIG_INVALID');
    expect((err as UserError).message).toContain('BASE_BRANCH "nope" does not exist');
    expect(branches(repo)).toEqual(['main']);
    expect(fs.existsSync(path.join(repo, '.chatops', 'worktrees', 'card-9-abcdef12'))).toBe(false);
  });

  it('refuses an existing branch (WORKTREE_CONFLICT) without touching it', async () => {
    const repo = makeRepo();
    git(repo, 'checkout', '-q', '-b', 'chatops/card-1-abcdef12');
    const theirs = commitFile(repo, 'theirs.txt', 'keep me\n');
    git(repo, 'checkout', '-q', 'main');

    const err = await worktrees(repo)
      .create(RUN, 'card-1')
      .catch((e: unknown) => e);
    expect((err as UserError).code).toBe('WORKTREE_CONFLICT');
    expect((err as UserError).message).toContain('chatops/card-1-abcdef12');
    expect(git(repo, 'rev-parse', 'chatops/card-1-abcdef12')).toBe(theirs);
    expect(fs.existsSync(path.join(repo, '.chatops', 'worktrees', 'card-1-abcdef12'))).toBe(false);
  });

  it('refuses an existing folder (WORKTREE_CONFLICT) without touching it', async () => {
    const repo = makeRepo();
    const dir = path.join(repo, '.chatops', 'worktrees', 'card-2-abcdef12');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'precious.txt'), 'mine');

    const err = await worktrees(repo)
      .create(RUN, 'card-2')
      .catch((e: unknown) => e);
    expect((err as UserError).code).toBe('WORKTREE_CONFLICT');
    expect((err as UserError).message).toContain(dir);
    expect(fs.readdirSync(dir)).toEqual(['precious.txt']);
    expect(branches(repo)).toEqual(['main']);
  });

  it('serializes concurrent creates: five at once all succeed', async () => {
    const repo = makeRepo();
    // A slow `git` in front of the real one logs when each `worktree add` begins and ends
    // (the bot's git runs no hooks, so a hook cannot tell): serialized adds never interleave.
    const log = path.join(tempDir(), 'hook.log');
    const bin = tempDir();
    const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
    fs.writeFileSync(
      path.join(bin, 'git'),
      `#!/bin/sh\ncase "$*" in *"worktree add"*) echo start >> '${log}'; '${realGit}' "$@"; rc=$?; sleep 0.2; echo end >> '${log}'; exit $rc;; esac\nexec '${realGit}' "$@"\n`,
      { mode: 0o755 },
    );
    const wts = worktrees(repo);
    const savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${savedPath}`;
    const made = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => (n % 2 ? wts : worktrees(repo)).create(`${n}0000000-run`, `card-${n}`)),
    ).finally(() => (process.env.PATH = savedPath));
    expect(new Set(made.map((w) => w.path)).size).toBe(5);
    const list = git(repo, 'worktree', 'list', '--porcelain');
    for (const w of made) {
      expect(list).toContain(`worktree ${w.path}`);
      expect(git(w.path, 'branch', '--show-current')).toBe(w.branch);
    }
    expect(branches(repo)).toHaveLength(6);
    expect(fs.readFileSync(log, 'utf8')).toBe('start\nend\n'.repeat(5));
  });

  it('rejects a card id that cannot be a branch name', async () => {
    const repo = makeRepo();
    expect(await codeOf(worktrees(repo).create(RUN, '../evil'))).toBe('CARD_ID_INVALID');
  });
});

describe('Worktrees.assertRepo', () => {
  it('throws NOT_A_GIT_REPO for a plain folder, an empty repository and a missing folder', async () => {
    const plain = tempDir();
    expect(await codeOf(worktrees(plain).assertRepo())).toBe('NOT_A_GIT_REPO');
    expect(await codeOf(worktrees(plain).create(RUN, 'card-1'))).toBe('NOT_A_GIT_REPO');

    const empty = tempDir();
    git(empty, 'init', '-q');
    const err = await worktrees(empty)
      .assertRepo()
      .catch((e: unknown) => e);
    expect((err as UserError).code).toBe('NOT_A_GIT_REPO');
    expect((err as UserError).message).toContain('git commit');

    expect(await codeOf(worktrees(path.join(plain, 'missing')).assertRepo())).toBe('NOT_A_GIT_REPO');
  });

  it('accepts a repository with a commit', async () => {
    await expect(worktrees(makeRepo()).assertRepo()).resolves.toBeUndefined();
  });
});

describe('Worktrees queries', () => {
  it('reports headSha, dirtySummary and changedFiles', async () => {
    const repo = makeRepo();
    const wts = worktrees(repo);
    const wt = await wts.create(RUN, 'card-3');

    expect(await wts.headSha(wt.path)).toBe(wt.baseSha);
    expect(await wts.dirtySummary(wt.path)).toBeNull();
    expect(await wts.changedFiles(wt.path, wt.baseSha)).toEqual([]);

    const sha = commitFile(wt.path, 'src/main.rs', 'fn main() {}\n');
    // The team moves main on meanwhile: that must not count as the run's change.
    commitFile(repo, 'other.txt', 'not the run\n');
    expect(await wts.headSha(wt.path)).toBe(sha);
    expect(await wts.changedFiles(wt.path, wt.baseSha)).toEqual(['src/main.rs']);
    expect(await wts.changedFiles(wt.path)).toEqual(['src/main.rs']);

    fs.writeFileSync(path.join(wt.path, 'README.md'), 'changed\n');
    fs.writeFileSync(path.join(wt.path, 'new.txt'), 'new\n');
    const dirty = await wts.dirtySummary(wt.path);
    expect(dirty).toContain(' M README.md');
    expect(dirty).toContain('?? new.txt');
  });

  it('bounds the dirty summary', async () => {
    const repo = makeRepo();
    const wts = worktrees(repo);
    const wt = await wts.create(RUN, 'card-4');
    for (let i = 0; i < 30; i++) fs.writeFileSync(path.join(wt.path, `f${String(i).padStart(2, '0')}.txt`), 'x');
    const lines = (await wts.dirtySummary(wt.path))!.split('\n');
    expect(lines).toHaveLength(21);
    expect(lines[20]).toBe('… and 10 more');
  });

  it('answers null / empty for a missing worktree', async () => {
    const wts = worktrees(makeRepo());
    const gone = path.join(tempDir(), 'gone');
    expect(wts.exists(gone)).toBe(false);
    expect(await wts.headSha(gone)).toBeNull();
    expect(await wts.dirtySummary(gone)).toBeNull();
    expect(await wts.changedFiles(gone, 'HEAD')).toEqual([]);
  });
});

describe('Worktrees.remove', () => {
  it('removes a dirty worktree, keeps the branch unless asked', async () => {
    const repo = makeRepo();
    const wts = worktrees(repo);
    const wt = await wts.create(RUN, 'card-5');
    fs.writeFileSync(path.join(wt.path, 'scratch.txt'), 'uncommitted');

    await wts.remove(wt.path, wt.branch);
    expect(fs.existsSync(wt.path)).toBe(false);
    expect(git(repo, 'worktree', 'list', '--porcelain')).not.toContain(wt.path);
    expect(branches(repo)).toContain(wt.branch);

    const other = await wts.create('ffffffff-run', 'card-5');
    await wts.remove(other.path, other.branch, { deleteBranch: true });
    expect(branches(repo)).not.toContain(other.branch);
  });

  it('tolerates a folder deleted by hand, and the path can be used again', async () => {
    const repo = makeRepo();
    const wts = worktrees(repo);
    const wt = await wts.create(RUN, 'card-6');
    fs.rmSync(wt.path, { recursive: true, force: true });

    await wts.remove(wt.path, wt.branch, { deleteBranch: true });
    await wts.remove(wt.path, wt.branch, { deleteBranch: true });
    expect(git(repo, 'worktree', 'list', '--porcelain')).not.toContain(wt.path);

    const again = await wts.create(RUN, 'card-6');
    expect(again.path).toBe(wt.path);
    expect(wts.exists(again.path)).toBe(true);
  });
});

describe('Worktrees.ensureExcluded', () => {
  it('keeps the bot folders out of git status, once, and ignores folders outside the repo', async () => {
    const repo = makeRepo();
    const wts = worktrees(repo);
    const dataDir = path.join(repo, '.chatops');
    fs.mkdirSync(path.join(dataDir, 'sessions'), { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'chatops.sqlite'), 'db');
    expect(git(repo, 'status', '--porcelain')).toContain('.chatops/');

    await wts.ensureExcluded(dataDir);
    await wts.ensureExcluded(dataDir);
    await wts.ensureExcluded(path.join(tempDir(), 'elsewhere'));
    await wts.ensureExcluded(repo);
    expect(git(repo, 'status', '--porcelain')).toBe('');
    const exclude = fs.readFileSync(path.join(repo, '.git', 'info', 'exclude'), 'utf8');
    expect(exclude.split('\n').filter((l) => l === '/.chatops/')).toHaveLength(1);
    expect(exclude).not.toContain('elsewhere');
  });

  it('excludes a worktrees folder that does not exist yet', async () => {
    const repo = makeRepo();
    const wts = worktrees(repo, { worktreesDir: path.join(repo, 'trees') });
    await wts.ensureExcluded(path.join(repo, 'trees'));
    await wts.create(RUN, 'card-1');
    expect(git(repo, 'status', '--porcelain')).toBe('');
    expect(fs.readFileSync(path.join(repo, '.git', 'info', 'exclude'), 'utf8')).toContain('/trees/\n');
  });
});
