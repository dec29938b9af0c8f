/**
 * What the RunManager needs from git worktrees and playtests. The concrete classes live in
 * `worktrees.ts` and `playtest.ts`; the RunManager depends only on these shapes.
 */

export interface CreatedWorktree {
  path: string;
  branch: string;
  baseSha: string;
}

export interface WorktreeOps {
  assertRepo(): Promise<void>;
  /** The folder and branch `create` will use; throws for a card id that cannot name a branch. */
  plan(runId: string, cardId: string): { path: string; branch: string };
  create(runId: string, cardId: string): Promise<CreatedWorktree>;
  exists(path: string): boolean;
  headSha(path: string): Promise<string | null>;
  dirtySummary(path: string): Promise<string | null>;
  changedFiles(path: string, baseSha: string | null): Promise<string[]>;
  remove(path: string, branch: string, opts?: { deleteBranch?: boolean }): Promise<void>;
}

export interface PlaytestOps {
  isRunning(runId: string): boolean;
  start(runId: string, cwd: string, by: string | null): void;
  stop(runId: string, by: string | null): Promise<boolean>;
  /** A screenshot of the running game as a `playtest_media` event; UserError when none runs. */
  capture(runId: string, by: string | null): Promise<void>;
  stopAll(): Promise<void>;
  /** Kills every playtest tree synchronously (for `process.on('exit')`). */
  killAllSync(): void;
}
