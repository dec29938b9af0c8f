/**
 * Every worktree the bot made, and the rule that removes old ones (`chatops worktrees prune`, and
 * the bot itself at start-up and daily): a worktree goes only when all its runs are settled, the
 * last of them longer ago than the retention, no agent, playtest or other process works in it,
 * and it has no uncommitted changes (unless forced). Branches always stay.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Store } from '../store/index.js';
import { diskUsage } from './disk-space.js';
import { errorText } from './errors.js';
import { processesWorkingIn } from './process-tree.js';
import type { Worktrees } from './worktrees.js';
import type { RunStatus } from './types.js';

export interface WorktreeInfo {
  path: string;
  branch: string | null;
  /** Runs recorded against it, oldest first (none for a folder whose runs were removed). */
  runs: { id: string; status: RunStatus }[];
  /** When it was last used: the latest run's end (or start while running), else the folder's mtime. */
  lastUsedAt: Date;
  /** Why it must not be removed now, or null. */
  busy: string | null;
  /** `git status --porcelain` lines, or null when clean. */
  dirty: string | null;
}

export interface WorktreeSizes {
  /** Bytes on disk, `target/` included; null when unknown. */
  total: number | null;
  /** Bytes of `target/` (build output) alone. */
  target: number | null;
}

export interface PruneOptions {
  olderThanMs: number;
  dryRun?: boolean;
  /** Remove worktrees with uncommitted changes too. */
  force?: boolean;
}

export interface PruneReport {
  /** Removed (or, in a dry run, would be removed). */
  removed: WorktreeInfo[];
  kept: { worktree: WorktreeInfo; reason: string }[];
  /** Could not be removed although the rule allowed it. */
  failed: { worktree: WorktreeInfo; error: string }[];
}

export interface JanitorDeps {
  store: Pick<Store, 'runs'>;
  worktrees: Pick<Worktrees, 'folder' | 'exists' | 'currentBranch' | 'dirtySummary' | 'remove'>;
  /** Whether this process uses the worktree (an active run or playtest of one of `runIds`). */
  inUse: (worktreePath: string, runIds: string[]) => boolean;
  /** Reserves the worktree while it is removed (no run may start in it); null when a run holds it. */
  hold: (worktreePath: string) => (() => void) | null;
  logger: Logger;
  now?: () => Date;
}

export class WorktreeJanitor {
  constructor(private readonly deps: JanitorDeps) {}

  /** Every worktree on record plus any folder left in the worktrees folder, oldest use first. */
  async list(): Promise<WorktreeInfo[]> {
    const byPath = new Map<string, { runs: { id: string; status: RunStatus }[]; last: number; branch: string | null }>();
    for (const run of this.deps.store.runs.listWithWorktree()) {
      const entry = byPath.get(run.worktreePath!) ?? { runs: [], last: 0, branch: run.branch };
      entry.runs.push({ id: run.id, status: run.status });
      const used = Date.parse(run.finishedAt ?? run.startedAt ?? run.createdAt);
      entry.last = Math.max(entry.last, Number.isNaN(used) ? 0 : used);
      byPath.set(run.worktreePath!, entry);
    }
    const folder = this.deps.worktrees.folder;
    if (fs.existsSync(folder)) {
      for (const name of fs.readdirSync(folder)) {
        const dir = path.join(folder, name);
        if (!byPath.has(dir) && this.deps.worktrees.exists(dir)) byPath.set(dir, { runs: [], last: fs.statSync(dir).mtimeMs, branch: null });
      }
    }
    const out: WorktreeInfo[] = [];
    for (const [wtPath, e] of byPath) {
      if (!this.deps.worktrees.exists(wtPath)) continue; // removed by hand; nothing on disk to list
      out.push({
        path: wtPath,
        branch: e.branch ?? (await this.deps.worktrees.currentBranch(wtPath)),
        runs: e.runs,
        lastUsedAt: new Date(e.last),
        busy: this.busyReason(wtPath, e.runs),
        dirty: await this.deps.worktrees.dirtySummary(wtPath),
      });
    }
    return out.sort((a, b) => a.lastUsedAt.getTime() - b.lastUsedAt.getTime());
  }

  /** Size on disk, with the build output (`target/`) apart. */
  async sizes(worktree: WorktreeInfo): Promise<WorktreeSizes> {
    const [total, target] = await Promise.all([diskUsage(worktree.path), diskUsage(path.join(worktree.path, 'target'))]);
    return { total, target };
  }

  /** Removes what the rule allows (nothing in a dry run); says why every other worktree stays. */
  async prune(options: PruneOptions): Promise<PruneReport> {
    const now = (this.deps.now?.() ?? new Date()).getTime();
    const report: PruneReport = { removed: [], kept: [], failed: [] };
    for (const wt of await this.list()) {
      const reason = this.keepReason(wt, now, options);
      if (reason) {
        report.kept.push({ worktree: wt, reason });
        continue;
      }
      if (options.dryRun) {
        report.removed.push(wt);
        continue;
      }
      // Reserve it, then look again: a refinement may have started in it meanwhile.
      const release = this.deps.hold(wt.path);
      const busy = release
        ? this.busyReason(wt.path, this.deps.store.runs.listUsingWorktree(wt.path).map((r) => ({ id: r.id, status: r.status })))
        : 'a run started in it';
      if (busy) {
        release?.();
        report.kept.push({ worktree: wt, reason: busy });
        continue;
      }
      try {
        await this.deps.worktrees.remove(wt.path, wt.branch ?? '', { deleteBranch: false });
        this.deps.store.runs.clearWorktree(wt.path);
        report.removed.push(wt);
      } catch (err) {
        report.failed.push({ worktree: wt, error: errorText(err) });
      } finally {
        release?.();
      }
    }
    const log = this.deps.logger;
    if (report.removed.length > 0 && !options.dryRun) log.info({ removed: report.removed.map((w) => w.path) }, 'pruned old worktrees (branches kept)');
    for (const f of report.failed) log.warn({ path: f.worktree.path, error: f.error }, 'could not remove an old worktree');
    return report;
  }

  private keepReason(wt: WorktreeInfo, now: number, options: PruneOptions): string | null {
    if (wt.busy) return wt.busy;
    if (now - wt.lastUsedAt.getTime() < options.olderThanMs) return 'used recently';
    if (wt.dirty && !options.force) return 'uncommitted changes (use --force to remove anyway)';
    return null;
  }

  private busyReason(wtPath: string, runs: { id: string; status: RunStatus }[]): string | null {
    const running = runs.find((r) => r.status === 'running');
    if (running) return `run ${running.id.slice(0, 8)} is running`;
    if (this.deps.inUse(wtPath, runs.map((r) => r.id))) return 'in use by an active run or playtest';
    const real = fs.existsSync(wtPath) ? fs.realpathSync(wtPath) : wtPath;
    const procs = processesWorkingIn(real);
    if (procs.length > 0) return `processes work in it (pid ${procs.slice(0, 3).join(', ')})`;
    return null;
  }
}
