/** What a run leaves behind when it settles: head commit, uncommitted changes, files changed. */
import type { WorktreeOps } from './run-ports.js';
import type { Run, RunEventData } from './types.js';

export interface WorktreeReport {
  commitSha: string | null;
  /** `git status` lines when the agent left uncommitted changes. */
  dirty: string | null;
  filesChanged: string[];
}

/** Reads the worktree a run worked in; empty for runs without one or whose folder is gone. */
export async function inspectWorktree(worktrees: WorktreeOps, run: Run, cwd: string): Promise<WorktreeReport> {
  if (!run.useWorktree || !worktrees.exists(cwd)) return { commitSha: null, dirty: null, filesChanged: [] };
  const [commitSha, dirty, filesChanged] = await Promise.all([
    worktrees.headSha(cwd),
    worktrees.dirtySummary(cwd),
    worktrees.changedFiles(cwd, run.baseSha),
  ]);
  return { commitSha, dirty, filesChanged };
}

/** The last event of every run: its outcome in one record, for renderers and notifications. */
export function settledEvent(run: Run, filesChanged: string[], durationMs: number): Extract<RunEventData, { type: 'run_settled' }> {
  return {
    type: 'run_settled',
    status: run.status,
    summary: run.summary,
    error: run.error,
    commitSha: run.commitSha,
    branch: run.branch,
    filesChanged,
    durationMs,
    costUsd: run.costUsd,
    tokensTotal: run.tokensTotal,
  };
}
