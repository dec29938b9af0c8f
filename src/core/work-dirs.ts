/**
 * Which run's agent works in which directory. One agent per worktree (or per repository
 * checkout for runs without one), also across processes: a CLI run and the bot share the
 * database, so a `running` row owned by another live process holds its directory too.
 */
import type { RunsRepo } from '../store/runs-repo.js';
import { UserError } from './errors.js';
import { isSameProcess } from './process-identity.js';

/** The holder id of a worktree that the clean-up is removing (no run may start in it meanwhile). */
export const PRUNE_HOLDER = 'worktree-prune';

/** A holder for messages: `run 1a2b3c4d`, or the clean-up. */
export function holderName(holder: string): string {
  return holder === PRUNE_HOLDER ? 'the worktree clean-up' : `run ${holder.slice(0, 8)}`;
}

export class WorkDirs {
  private readonly holders = new Map<string, string>();

  constructor(
    private readonly runs: Pick<RunsRepo, 'runningIn'>,
    private readonly repoRoot: string,
  ) {}

  /** The run working in `cwd` (in this process or another live one), if any. */
  holder(cwd: string): string | null {
    const local = this.holders.get(cwd);
    if (local) return local;
    const elsewhere = this.runs
      .runningIn(cwd, cwd === this.repoRoot)
      .find((r) => r.ownerPid !== null && r.ownerPid !== process.pid && isSameProcess(r.ownerPid, r.ownerStart));
    return elsewhere?.id ?? null;
  }

  /** Claims `cwd` for `runId`, or throws WORKTREE_BUSY naming the run that works there. */
  claim(cwd: string, runId: string): void {
    const holder = this.holder(cwd);
    if (holder) {
      throw new UserError('WORKTREE_BUSY', `${holderName(holder)} is already working in ${cwd}; wait for it to finish or stop it first`);
    }
    this.holders.set(cwd, runId);
  }

  release(cwd: string, runId: string): void {
    if (this.holders.get(cwd) === runId) this.holders.delete(cwd);
  }

  /** Whether a run of this process holds `cwd`. */
  isHeldHere(cwd: string): boolean {
    return this.holders.has(cwd);
  }
}
