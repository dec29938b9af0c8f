/** The preconditions of a refinement run, each with an error that says what to do instead. */
import fs from 'node:fs';
import { UserError } from './errors.js';
import type { Run } from './types.js';
import { holderName } from './work-dirs.js';

export interface RefineContext {
  isActive(runId: string): boolean;
  worktreeExists(path: string): boolean;
  /** The run currently working in that directory, if any. */
  busyRun(path: string): string | null;
}

export function assertRefinable(prior: Run, ctx: RefineContext): void {
  const short = prior.id.slice(0, 8);
  const fail = (message: string): never => {
    throw new UserError('REFINE_PRECONDITION', message);
  };
  if (prior.status === 'running' || ctx.isActive(prior.id)) {
    fail(`run ${short} is still running: reply to steer it, or stop it before refining`);
  }
  if (!prior.useWorktree) fail(`run ${short} ran without a worktree, so there is nothing to refine; start a fresh run`);
  if (!prior.worktreePath || !prior.branch || !ctx.worktreeExists(prior.worktreePath)) {
    fail(`run ${short} has no worktree any more (it was cleaned up); start a fresh run instead`);
  }
  if (!prior.sessionFile) fail(`run ${short} has no recorded agent session to resume; start a fresh run instead`);
  if (!fs.existsSync(prior.sessionFile!)) {
    fail(`the agent session of run ${short} is gone (${prior.sessionFile}); start a fresh run instead`);
  }
  const busy = ctx.busyRun(prior.worktreePath!);
  if (busy) fail(`${holderName(busy)} is already working in this worktree; wait for it to settle or stop it first`);
}
