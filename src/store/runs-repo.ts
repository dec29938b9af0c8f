/** SQL for agent runs. */
import type { Run, RunStatus } from '../core/types.js';
import type { Db } from './database.js';

interface RunRow {
  id: string;
  card_id: string;
  status: RunStatus;
  use_worktree: number;
  owns_worktree: number;
  branch: string | null;
  worktree_path: string | null;
  base_sha: string | null;
  session_file: string | null;
  prompt: string;
  token_hash: string;
  summary: string | null;
  commit_sha: string | null;
  error: string | null;
  started_by: string;
  owner_pid: number | null;
  parent_run_id: string | null;
  tokens_input: number;
  tokens_output: number;
  tokens_total: number;
  cost_usd: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

function toRun(r: RunRow): Run {
  return {
    id: r.id,
    cardId: r.card_id,
    status: r.status,
    useWorktree: r.use_worktree === 1,
    ownsWorktree: r.owns_worktree === 1,
    branch: r.branch,
    worktreePath: r.worktree_path,
    baseSha: r.base_sha,
    sessionFile: r.session_file,
    prompt: r.prompt,
    summary: r.summary,
    commitSha: r.commit_sha,
    error: r.error,
    startedBy: r.started_by,
    parentRunId: r.parent_run_id,
    tokensInput: r.tokens_input,
    tokensOutput: r.tokens_output,
    tokensTotal: r.tokens_total,
    costUsd: r.cost_usd,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

export interface NewRun {
  id: string;
  cardId: string;
  useWorktree: boolean;
  ownsWorktree: boolean;
  branch: string | null;
  worktreePath: string | null;
  baseSha: string | null;
  sessionFile: string | null;
  prompt: string;
  tokenHash: string;
  startedBy: string;
  parentRunId: string | null;
  /** The bot process that drives the run's agent; recovery leaves runs of live processes alone. */
  ownerPid: number;
  now: string;
}

export interface RunFinish {
  status: RunStatus;
  summary: string | null;
  commitSha: string | null;
  error: string | null;
  tokensInput: number;
  tokensOutput: number;
  tokensTotal: number;
  costUsd: number;
  now: string;
}

export class RunsRepo {
  constructor(
    private readonly db: Db,
    private readonly redact: (text: string) => string = (text) => text,
  ) {}

  insert(r: NewRun): void {
    this.db
      .prepare(
        `INSERT INTO agent_runs (id, card_id, status, use_worktree, owns_worktree, branch, worktree_path, base_sha, session_file,
           prompt, token_hash, started_by, owner_pid, parent_run_id, created_at, started_at)
         VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        r.id,
        r.cardId,
        r.useWorktree ? 1 : 0,
        r.ownsWorktree ? 1 : 0,
        r.branch,
        r.worktreePath,
        r.baseSha,
        r.sessionFile,
        r.prompt,
        r.tokenHash,
        r.startedBy,
        r.ownerPid,
        r.parentRunId,
        r.now,
        r.now,
      );
  }

  get(id: string): Run | undefined {
    const row = this.db.prepare('SELECT * FROM agent_runs WHERE id = ?').get(id) as RunRow | undefined;
    return row && toRun(row);
  }

  /** Finds a run by a unique id prefix (at least 6 characters), as users type short ids. */
  findByPrefix(prefix: string): Run[] {
    const like = `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const rows = this.db.prepare("SELECT * FROM agent_runs WHERE id LIKE ? ESCAPE '\\' LIMIT 2").all(like) as RunRow[];
    return rows.map(toRun);
  }

  getByTokenHash(hash: string): Run | undefined {
    const row = this.db.prepare('SELECT * FROM agent_runs WHERE token_hash = ?').get(hash) as RunRow | undefined;
    return row && toRun(row);
  }

  list(limit: number): Run[] {
    const rows = this.db.prepare('SELECT * FROM agent_runs ORDER BY created_at DESC, rowid DESC LIMIT ?').all(limit) as RunRow[];
    return rows.map(toRun);
  }

  listForCard(cardId: string): Run[] {
    const rows = this.db
      .prepare('SELECT * FROM agent_runs WHERE card_id = ? ORDER BY created_at DESC, rowid DESC')
      .all(cardId) as RunRow[];
    return rows.map(toRun);
  }

  listByStatus(status: RunStatus): Run[] {
    return (this.db.prepare('SELECT * FROM agent_runs WHERE status = ? ORDER BY created_at').all(status) as RunRow[]).map(toRun);
  }

  /** Other runs recorded against the same worktree path. */
  listUsingWorktree(worktreePath: string): Run[] {
    const rows = this.db.prepare('SELECT * FROM agent_runs WHERE worktree_path = ? ORDER BY created_at').all(worktreePath) as RunRow[];
    return rows.map(toRun);
  }

  setSessionFile(id: string, sessionFile: string): void {
    this.db.prepare('UPDATE agent_runs SET session_file = ? WHERE id = ?').run(sessionFile, id);
  }

  finish(id: string, f: RunFinish): void {
    this.db
      .prepare(
        `UPDATE agent_runs SET status = ?, summary = ?, commit_sha = ?, error = ?, tokens_input = ?, tokens_output = ?,
           tokens_total = ?, cost_usd = ?, finished_at = ? WHERE id = ?`,
      )
      .run(f.status, f.summary && this.redact(f.summary), f.commitSha, f.error && this.redact(f.error), f.tokensInput, f.tokensOutput, f.tokensTotal, f.costUsd, f.now, id);
  }

  /**
   * Marks `running` rows whose owning process is gone as interrupted; returns their ids.
   * Rows of live processes (a bot and a CLI may share the database) are left alone.
   */
  interruptOrphans(now: string, reason: string, isOwnerAlive: (pid: number) => boolean): string[] {
    return this.db.transaction(() => {
      const rows = this.db.prepare("SELECT id, owner_pid FROM agent_runs WHERE status = 'running'").all() as {
        id: string;
        owner_pid: number | null;
      }[];
      const orphans = rows.filter((r) => r.owner_pid === null || !isOwnerAlive(r.owner_pid)).map((r) => r.id);
      const mark = this.db.prepare(
        "UPDATE agent_runs SET status = 'interrupted', error = COALESCE(error, ?), finished_at = ? WHERE id = ? AND status = 'running'",
      );
      for (const id of orphans) mark.run(reason, now, id);
      return orphans;
    })();
  }

  /**
   * Runs marked `running` in a working directory, with their owning process: runs in that
   * worktree, plus runs without a worktree when `isRepoRoot`.
   */
  runningIn(cwd: string, isRepoRoot: boolean): { id: string; ownerPid: number | null }[] {
    const rows = this.db
      .prepare("SELECT id, owner_pid FROM agent_runs WHERE status = 'running' AND (worktree_path = ? OR (? AND use_worktree = 0))")
      .all(cwd, isRepoRoot ? 1 : 0) as { id: string; owner_pid: number | null }[];
    return rows.map((r) => ({ id: r.id, ownerPid: r.owner_pid }));
  }

  /** Forgets that a run has a worktree (after it was removed from disk). */
  clearWorktree(worktreePath: string): void {
    this.db.prepare('UPDATE agent_runs SET worktree_path = NULL WHERE worktree_path = ?').run(worktreePath);
  }

  setOwnsWorktree(id: string, owns: boolean): void {
    this.db.prepare('UPDATE agent_runs SET owns_worktree = ? WHERE id = ?').run(owns ? 1 : 0, id);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM agent_runs WHERE id = ?').run(id);
  }
}
