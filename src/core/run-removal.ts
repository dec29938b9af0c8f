/**
 * Removing runs without taking a worktree from anyone: a worktree goes only when no other run
 * row uses it and no agent works in it; while refinements remain, the oldest inherits it.
 */
import type { Store } from '../store/index.js';
import { UserError } from './errors.js';
import { isSameProcess } from './process-identity.js';
import type { PlaytestOps, WorktreeOps } from './run-ports.js';
import type { Run } from './types.js';

export interface RemovalDeps {
  store: Pick<Store, 'runs' | 'processes'>;
  worktrees: WorktreeOps;
  playtests: PlaytestOps;
  /** Whether an agent of this process works in the directory. */
  isBusy: (path: string) => boolean;
}

/**
 * Refuses a run that is queued or running, or whose playtest runs, in any process sharing the
 * database (a `chatops runs remove` next to the bot): its owner and its recorded playtest count
 * only while their pid runs with the recorded start time.
 */
export function assertRemovable(deps: Pick<RemovalDeps, 'store'>, run: Run): void {
  const short = run.id.slice(0, 8);
  const owner = deps.store.runs.ownerOf(run.id);
  if ((run.status === 'queued' || run.status === 'running') && owner?.pid && isSameProcess(owner.pid, owner.start)) {
    const where = owner.pid === process.pid ? '' : ` by the bot process ${owner.pid}`;
    throw new UserError('RUN_ACTIVE', `run ${short} is ${run.status}${where}; stop it first (🛑 in its thread), then remove it`);
  }
  const playtest = deps.store.processes
    .listForRun(run.id)
    .find((r) => r.kind === 'playtest' && r.ownerPid !== process.pid && isSameProcess(r.ownerPid, r.ownerStart) && isSameProcess(r.pid, r.startTime));
  if (playtest) {
    throw new UserError('RUN_ACTIVE', `run ${short} has a playtest running in the bot process ${playtest.ownerPid}; stop it first (⏹️ in its thread), then remove it`);
  }
}

/** Deletes a settled run (its events go with it) and, when it was the last user, its worktree. */
export async function removeRun(deps: RemovalDeps, run: Run): Promise<{ worktreeRemoved: boolean }> {
  assertRemovable(deps, run);
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
