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
  owner_start: string | null;
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
  /** The owner's start time (src/core/process-identity.ts): with the pid, who the owner is. */
  ownerStart?: string | null;
  now: string;
  /** `queued` until the run queue admits it (the RunManager's runs), or `running` (default) at once. */
  status?: 'queued' | 'running';
}

/** Whether the process recorded as (pid, start time) still runs; the start is null on rows older than migration 6. */
export type OwnerAlive = (pid: number, start: string | null) => boolean;

interface OwnerCols {
  owner_pid: number | null;
  owner_start: string | null;
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
           prompt, token_hash, started_by, owner_pid, owner_start, parent_run_id, created_at, started_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        r.id,
        r.cardId,
        r.status ?? 'running',
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
        r.ownerStart ?? null,
        r.parentRunId,
        r.now,
        r.status === 'queued' ? null : r.now,
      );
  }

  /**
   * The run queue's admission, atomic across processes sharing the database: while fewer than
   * `max` runs of live processes are `running`, the oldest `queued` run of a live process becomes
   * `running` if `owner` owns it and `ready` says it is waiting there. Returns the ids admitted, in order.
   */
  admitQueued(owner: number, max: number, isOwnerAlive: OwnerAlive, ready: (id: string) => boolean, now: string): string[] {
    return this.db
      .transaction(() => {
        const live = (r: OwnerCols) => r.owner_pid !== null && (r.owner_pid === owner || isOwnerAlive(r.owner_pid, r.owner_start));
        const running = (this.db.prepare("SELECT owner_pid, owner_start FROM agent_runs WHERE status = 'running'").all() as OwnerCols[]).filter(live).length;
        const queued = (
          this.db.prepare("SELECT id, owner_pid, owner_start FROM agent_runs WHERE status = 'queued' ORDER BY created_at, rowid").all() as (OwnerCols & {
            id: string;
          })[]
        ).filter(live);
        const admit = this.db.prepare("UPDATE agent_runs SET status = 'running', started_at = ? WHERE id = ? AND status = 'queued'");
        const admitted: string[] = [];
        for (let slots = max - running; slots > 0 && queued.length > 0 && queued[0]!.owner_pid === owner && ready(queued[0]!.id); slots--) {
          const id = queued.shift()!.id;
          admit.run(now, id);
          admitted.push(id);
        }
        return admitted;
      })
      .immediate();
  }

  /** Queued runs of live processes, oldest first: the queue as every process sees it. */
  queue(isOwnerAlive: OwnerAlive): { id: string; ownerPid: number }[] {
    const rows = this.db.prepare("SELECT id, owner_pid, owner_start FROM agent_runs WHERE status = 'queued' ORDER BY created_at, rowid").all() as (OwnerCols & {
      id: string;
    })[];
    return rows.filter((r) => r.owner_pid !== null && isOwnerAlive(r.owner_pid, r.owner_start)).map((r) => ({ id: r.id, ownerPid: r.owner_pid! }));
  }

  /**
   * Makes `owner` the owner of queued runs whose process is gone (a restarted bot takes its queue
   * back). Runs already marked with `owner`'s pid count as gone too: at start-up nothing of this
   * process waits yet, so they belong to an earlier process with the same pid.
   */
  adoptQueued(owner: number, ownerStart: string, isOwnerAlive: OwnerAlive): string[] {
    return this.db
      .transaction(() => {
        const rows = this.db.prepare("SELECT id, owner_pid, owner_start FROM agent_runs WHERE status = 'queued' ORDER BY created_at, rowid").all() as (OwnerCols & {
          id: string;
        })[];
        const orphans = rows.filter((r) => r.owner_pid === null || r.owner_pid === owner || !isOwnerAlive(r.owner_pid, r.owner_start)).map((r) => r.id);
        const adopt = this.db.prepare('UPDATE agent_runs SET owner_pid = ?, owner_start = ? WHERE id = ?');
        for (const id of orphans) adopt.run(owner, ownerStart, id);
        return orphans;
      })
      .immediate();
  }

  /** A new token for a run whose prompt is rebuilt (a queued run adopted after a restart). */
  setTokenHash(id: string, tokenHash: string): void {
    this.db.prepare('UPDATE agent_runs SET token_hash = ? WHERE id = ?').run(tokenHash, id);
  }

  /** Queued and running runs someone started (MAX_RUNS_PER_USER). */
  countActiveBy(startedBy: string): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM agent_runs WHERE started_by = ? AND status IN ('queued','running')").get(startedBy) as { n: number }).n;
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

  /** Records the commit a run's branch forked from, once its worktree exists. */
  setBaseSha(id: string, baseSha: string): void {
    this.db.prepare('UPDATE agent_runs SET base_sha = ? WHERE id = ?').run(baseSha, id);
  }

  /** Every run that has a worktree on record, oldest first. */
  listWithWorktree(): Run[] {
    const rows = this.db.prepare('SELECT * FROM agent_runs WHERE worktree_path IS NOT NULL ORDER BY created_at, rowid').all() as RunRow[];
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
  interruptOrphans(now: string, reason: string, isOwnerAlive: OwnerAlive): string[] {
    return this.db
      .transaction(() => {
        const orphans = this.orphansRunning(isOwnerAlive);
        const mark = this.db.prepare(
          "UPDATE agent_runs SET status = 'interrupted', error = COALESCE(error, ?), finished_at = ? WHERE id = ? AND status = 'running'",
        );
        for (const id of orphans) mark.run(reason, now, id);
        return orphans;
      })
      .immediate();
  }

  /** Ids of `running` rows whose owning process is gone (what `interruptOrphans` would mark). */
  orphansRunning(isOwnerAlive: OwnerAlive): string[] {
    const rows = this.db.prepare("SELECT id, owner_pid, owner_start FROM agent_runs WHERE status = 'running'").all() as (OwnerCols & { id: string })[];
    return rows.filter((r) => r.owner_pid === null || !isOwnerAlive(r.owner_pid, r.owner_start)).map((r) => r.id);
  }

  /** The process that owns a run (drives its agent or waits for its turn), as recorded. */
  ownerOf(id: string): { pid: number | null; start: string | null } | undefined {
    const row = this.db.prepare('SELECT owner_pid, owner_start FROM agent_runs WHERE id = ?').get(id) as OwnerCols | undefined;
    return row && { pid: row.owner_pid, start: row.owner_start };
  }

  /**
   * Runs marked `queued` or `running` in a working directory (a queued run holds its directory
   * too), with their owning process: runs in that worktree, plus runs without a worktree when
   * `isRepoRoot`.
   */
  runningIn(cwd: string, isRepoRoot: boolean): { id: string; ownerPid: number | null; ownerStart: string | null }[] {
    const rows = this.db
      .prepare("SELECT id, owner_pid, owner_start FROM agent_runs WHERE status IN ('queued','running') AND (worktree_path = ? OR (? AND use_worktree = 0))")
      .all(cwd, isRepoRoot ? 1 : 0) as (OwnerCols & { id: string })[];
    return rows.map((r) => ({ id: r.id, ownerPid: r.owner_pid, ownerStart: r.owner_start }));
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
