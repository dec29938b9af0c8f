/**
 * Removing runs without taking a worktree from anyone: a worktree goes only when no other run
 * row uses it and no agent works in it; while refinements remain, the oldest inherits it.
 */
import type { Store } from '../store/index.js';
import type { PlaytestOps, WorktreeOps } from './run-ports.js';
import type { Run } from './types.js';

export interface RemovalDeps {
  store: Pick<Store, 'runs'>;
  worktrees: WorktreeOps;
  playtests: PlaytestOps;
  /** Whether an agent of this process works in the directory. */
  isBusy: (path: string) => boolean;
}

/** Deletes a settled run (its events go with it) and, when it was the last user, its worktree. */
export async function removeRun(deps: RemovalDeps, run: Run): Promise<{ worktreeRemoved: boolean }> {
  await deps.playtests.stop(run.id, null);
  let worktreeRemoved = false;
  if (run.ownsWorktree && run.worktreePath) {
    const others = deps.store.runs.listUsingWorktree(run.worktreePath).filter((r) => r.id !== run.id);
    if (others.length === 0) worktreeRemoved = await releaseWorktree(deps, run);
    // Refinements still use this worktree: hand ownership to the oldest of them.
    else deps.store.runs.setOwnsWorktree(others[0]!.id, true);
  }
  deps.store.runs.delete(run.id);
  return { worktreeRemoved };
}

/** Removes the run's worktree folder (the branch stays) unless another run or an agent uses it. */
export async function releaseWorktree(deps: RemovalDeps, run: Run): Promise<boolean> {
  const wt = run.worktreePath!;
  const users = deps.store.runs.listUsingWorktree(wt).filter((r) => r.id !== run.id);
  if (deps.isBusy(wt) || users.length > 0) return false;
  await deps.worktrees.remove(wt, run.branch!, { deleteBranch: false });
  deps.store.runs.clearWorktree(wt);
  return true;
}
