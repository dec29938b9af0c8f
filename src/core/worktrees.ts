/**
 * Git worktrees for runs: each fresh run gets its own folder on its own branch, so agents never
 * share a working tree with the team's checkout or with each other.
 *
 * Every git call is asynchronous (simple-git spawns git; nothing blocks the event loop, so chat
 * acknowledgements are never delayed), and every call that changes the set of worktrees runs
 * one at a time per repository: git's own lock files make concurrent `worktree add` flaky.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { simpleGit, type SimpleGit } from 'simple-git';
import { UserError, errorText } from './errors.js';

export interface WorktreesOptions {
  repoRoot: string;
  worktreesDir: string;
  /** Branch fresh runs start from; `null` means the repository's current HEAD. */
  baseBranch: string | null;
  logger: Logger;
}

/** A worktree made for a run. `baseSha` is the commit its branch was created from. */
export interface Worktree {
  path: string;
  branch: string;
  baseSha: string;
}

/** `-c` settings of every git call: no hooks, no fsmonitor (diffs also pass --no-ext-diff --no-textconv). */
export const SAFE_GIT_CONFIG = ['core.hooksPath=/dev/null', 'core.fsmonitor=false'];

/** At most this many `git status` lines in a dirty summary. */
const DIRTY_LINES = 20;

/** Per-repository promise chains: one worktree-changing git operation at a time. */
const chains = new Map<string, Promise<void>>();

function serialized<T>(key: string, task: () => Promise<T>): Promise<T> {
  const previous = chains.get(key) ?? Promise.resolve();
  const result = previous.then(task);
  const tail = result.then(
    () => undefined,
    () => undefined,
  );
  chains.set(key, tail);
  void tail.then(() => {
    if (chains.get(key) === tail) chains.delete(key);
  });
  return result;
}

/** A card id must be safe inside a branch name and a folder name. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Escapes a path for a `.gitignore`-style pattern. */
function excludePattern(rel: string): string {
  const escaped = rel
    .split(path.sep)
    .join('/')
    .replace(/[\\*?[\]!#]/g, (c) => `\\${c}`);
  return `/${escaped}/`;
}

/** `p` with symlinks resolved as far as it exists (`/var` vs `/private/var` on macOS). */
function realish(p: string): string {
  const abs = path.resolve(p);
  let existing = abs;
  const rest: string[] = [];
  while (!fs.existsSync(existing)) {
    const parent = path.dirname(existing);
    if (parent === existing) return abs;
    rest.unshift(path.basename(existing));
    existing = parent;
  }
  return path.join(fs.realpathSync(existing), ...rest);
}

export class Worktrees {
  private readonly repoRoot: string;
  private readonly worktreesDir: string;
  private readonly baseBranch: string | null;
  private readonly log: Logger;

  constructor(options: WorktreesOptions) {
    this.repoRoot = path.resolve(options.repoRoot);
    this.worktreesDir = path.resolve(options.worktreesDir);
    this.baseBranch = options.baseBranch;
    this.log = options.logger;
  }

  /**
   * Every git call of the bot ignores the repository's hooks and fsmonitor (an agent could plant
   * either, and the bot's next `git status` or `worktree add` would run it). simple-git refuses
   * these two settings unless told they are wanted: here they switch the programs off.
   */
  private git(dir: string = this.repoRoot): SimpleGit {
    return simpleGit({ baseDir: dir, config: SAFE_GIT_CONFIG, unsafe: { allowUnsafeHooksPath: true, allowUnsafeFsMonitor: true } });
  }

  private lock<T>(task: () => Promise<T>): Promise<T> {
    return serialized(realish(this.repoRoot), task);
  }

  /** Whether `ref` names a commit in the repository. */
  private async resolveCommit(ref: string): Promise<string | null> {
    if (ref.startsWith('-')) return null;
    try {
      const out = await this.git().raw(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
      return out.trim() || null;
    } catch {
      return null;
    }
  }

  /**
   * Checks that REPO_ROOT is a git working tree with at least one commit. Called at startup and
   * before each create; throws `UserError('NOT_A_GIT_REPO')` saying how to fix it.
   */
  async assertRepo(): Promise<void> {
    const fix = `Set REPO_ROOT to your game's git repository, or make this folder one (git init && git add -A && git commit -m init).`;
    if (!fs.existsSync(this.repoRoot) || !fs.statSync(this.repoRoot).isDirectory()) {
      throw new UserError('NOT_A_GIT_REPO', `REPO_ROOT ${this.repoRoot} does not exist. ${fix}`);
    }
    let inside = false;
    try {
      inside = (await this.git().raw(['rev-parse', '--is-inside-work-tree'])).trim() === 'true';
    } catch {
      inside = false;
    }
    if (!inside) throw new UserError('NOT_A_GIT_REPO', `REPO_ROOT ${this.repoRoot} is not a git repository. ${fix}`);
    if (!(await this.resolveCommit('HEAD'))) {
      throw new UserError('NOT_A_GIT_REPO', `The repository at ${this.repoRoot} has no commits yet. ${fix}`);
    }
  }

  /**
   * Creates `<worktreesDir>/<cardId>-<runId[0..8]>` on the new branch `chatops/<cardId>-<runId[0..8]>`,
   * from BASE_BRANCH (or HEAD). Waits for any other worktree operation on this repository first.
   * Never clobbers: an existing branch or folder throws `UserError('WORKTREE_CONFLICT')`.
   */
  async create(runId: string, cardId: string): Promise<Worktree> {
    const { path: wtPath, branch } = this.plan(runId, cardId);
    return this.lock(async () => {
      await this.assertRepo();
      const base = this.baseBranch ?? 'HEAD';
      const baseSha = await this.resolveCommit(base);
      if (!baseSha) {
        throw new UserError(
          'CONFIG_INVALID',
          `BASE_BRANCH "${this.baseBranch}" does not exist in ${this.repoRoot}: create that branch, or set BASE_BRANCH to an existing one (unset it to use the current HEAD).`,
        );
      }
      if (await this.resolveCommit(`refs/heads/${branch}`)) {
        throw new UserError(
          'WORKTREE_CONFLICT',
          `Branch ${branch} already exists; the bot will not overwrite it. Delete or rename it (git branch -D ${branch}) and try again.`,
        );
      }
      if (fs.existsSync(wtPath)) {
        throw new UserError(
          'WORKTREE_CONFLICT',
          `Worktree folder ${wtPath} already exists; the bot will not overwrite it. Remove it (git worktree remove ${wtPath}) and try again.`,
        );
      }
      await this.ensureExcludedUnlocked(this.worktreesDir);
      fs.mkdirSync(this.worktreesDir, { recursive: true });
      // Forget registrations whose folders were deleted by hand, so their paths can be reused.
      await this.git().raw(['worktree', 'prune']);
      try {
        await this.git().raw(['worktree', 'add', '-b', branch, '--', wtPath, baseSha]);
      } catch (err) {
        throw new UserError('WORKTREE_CONFLICT', `Could not create worktree ${wtPath} on ${branch}: ${errorText(err).trim()}`, {
          cause: err,
        });
      }
      this.log.info({ path: wtPath, branch, baseSha }, 'worktree created');
      return { path: wtPath, branch, baseSha };
    });
  }

  /**
   * The folder and branch `create` will use for a run, without touching the repository (a run's
   * row and thread exist before its worktree does).
   */
  plan(runId: string, cardId: string): { path: string; branch: string } {
    if (!SAFE_NAME.test(cardId)) {
      throw new UserError('CARD_ID_INVALID', `Card id "${cardId}" cannot be used in a branch name: use letters, digits, '-', '_' or '.'.`);
    }
    const name = `${cardId}-${runId.slice(0, 8)}`;
    return { path: path.join(this.worktreesDir, name), branch: `chatops/${name}` };
  }

  /** True when the folder exists and holds a `.git` entry (a worktree's `.git` is a file). */
  exists(wtPath: string): boolean {
    return fs.existsSync(path.join(wtPath, '.git'));
  }

  /** The worktree's HEAD commit, or null when the folder is gone or has no commit. */
  async headSha(wtPath: string): Promise<string | null> {
    if (!this.exists(wtPath)) return null;
    try {
      return (await this.git(wtPath).raw(['rev-parse', '--verify', 'HEAD'])).trim() || null;
    } catch {
      return null;
    }
  }

  /** The branch checked out in a worktree, or null (detached, gone, or not a worktree). */
  async currentBranch(wtPath: string): Promise<string | null> {
    if (!this.exists(wtPath)) return null;
    try {
      return (await this.git(wtPath).raw(['branch', '--show-current'])).trim() || null;
    } catch {
      return null;
    }
  }

  /** The folder worktrees are created in. */
  get folder(): string {
    return this.worktreesDir;
  }

  /**
   * Uncommitted changes as `git status --porcelain` lines (at most 20, then a count of the
   * rest), or null when the worktree is clean or gone.
   */
  async dirtySummary(wtPath: string): Promise<string | null> {
    if (!this.exists(wtPath)) return null;
    let out: string;
    try {
      out = await this.git(wtPath).raw(['status', '--porcelain']);
    } catch (err) {
      this.log.warn({ path: wtPath, err: errorText(err) }, 'git status failed');
      return null;
    }
    const lines = out.split('\n').filter((l) => l.trim() !== '');
    if (lines.length === 0) return null;
    const shown = lines.slice(0, DIRTY_LINES);
    if (lines.length > DIRTY_LINES) shown.push(`… and ${lines.length - DIRTY_LINES} more`);
    return shown.join('\n');
  }

  /**
   * Files committed on the worktree's branch since it forked: `git diff --name-only
   * <merge-base>..HEAD`. `baseRef` is the run's `baseSha` (from `create`); without it, BASE_BRANCH
   * or the repository's HEAD. Empty when the worktree is gone or git cannot tell.
   */
  async changedFiles(wtPath: string, baseRef?: string | null): Promise<string[]> {
    if (!this.exists(wtPath)) return [];
    const git = this.git(wtPath);
    try {
      const ref = baseRef ?? this.baseBranch ?? (await this.git().raw(['rev-parse', 'HEAD'])).trim();
      const mergeBase = (await git.raw(['merge-base', ref, 'HEAD'])).trim();
      const out = await git.raw(['diff', '--no-ext-diff', '--no-textconv', '--name-only', `${mergeBase}..HEAD`]);
      return out.split('\n').filter((l) => l !== '');
    } catch (err) {
      this.log.warn({ path: wtPath, baseRef, err: errorText(err) }, 'could not list changed files');
      return [];
    }
  }

  /**
   * Removes a run's worktree folder (`git worktree remove --force`, discarding uncommitted work)
   * and prunes its registration; an already-missing folder is fine. The branch is kept unless
   * `deleteBranch` is set. Waits for other worktree operations on this repository.
   */
  async remove(wtPath: string, branch: string, options: { deleteBranch?: boolean } = {}): Promise<void> {
    const target = path.resolve(wtPath);
    return this.lock(async () => {
      if (fs.existsSync(target)) {
        await this.git().raw(['worktree', 'remove', '--force', '--', target]);
      }
      await this.git().raw(['worktree', 'prune']);
      if (options.deleteBranch && (await this.resolveCommit(`refs/heads/${branch}`))) {
        await this.git().raw(['branch', '-D', '--', branch]);
      }
      this.log.info({ path: target, branch, deletedBranch: Boolean(options.deleteBranch) }, 'worktree removed');
    });
  }

  /**
   * If `dir` lies inside the repository's working tree, adds it to `.git/info/exclude` (once),
   * so the bot's data and worktrees never show in the team's `git status`.
   */
  async ensureExcluded(dir: string): Promise<void> {
    return this.lock(() => this.ensureExcludedUnlocked(dir));
  }

  private async ensureExcludedUnlocked(dir: string): Promise<void> {
    const git = this.git();
    const top = realish((await git.raw(['rev-parse', '--show-toplevel'])).trim());
    const rel = path.relative(top, realish(dir));
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return;
    const gitPath = (await git.raw(['rev-parse', '--git-path', 'info/exclude'])).trim();
    const excludeFile = path.resolve(this.repoRoot, gitPath);
    const pattern = excludePattern(rel);
    const current = fs.existsSync(excludeFile) ? fs.readFileSync(excludeFile, 'utf8') : '';
    if (current.split('\n').some((line) => line.trim() === pattern)) return;
    fs.mkdirSync(path.dirname(excludeFile), { recursive: true });
    const prefix = current === '' || current.endsWith('\n') ? '' : '\n';
    fs.appendFileSync(excludeFile, `${prefix}# chatops bot data (added automatically)\n${pattern}\n`);
    this.log.info({ pattern, excludeFile }, 'excluded bot folder from git status');
  }
}
