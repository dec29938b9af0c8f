/**
 * The single source of truth for runs: start, refine, steer, follow up, stop, playtest, remove,
 * settle, and the reads. Each active run owns one agent session and holds its working directory:
 * two agents never share a worktree, and a worktree is never removed while a run uses it.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Store } from '../store/index.js';
import type { AgentDriver, AgentOutcome, AgentSession } from './agent/agent-driver.js';
import type { Cards } from './cards.js';
import { AppError, errorText, NotFoundError, UserError } from './errors.js';
import type { EventLog, RunEventListener } from './event-log.js';
import { isAlive } from './process-tree.js';
import { buildPrompt, refinementPrompt } from './prompt.js';
import { assertRefinable } from './refine-rules.js';
import type { CreatedWorktree, PlaytestOps, WorktreeOps } from './run-ports.js';
import type { Run, RunEvent, RunStatus } from './types.js';

export interface RunManagerDeps {
  store: Pick<Store, 'runs' | 'events'>;
  cards: Cards;
  events: EventLog;
  agent: AgentDriver;
  worktrees: WorktreeOps;
  playtests: PlaytestOps;
  repoRoot: string;
  sessionsDir: string;
  logger: Logger;
  now?: () => Date;
}

export interface StartRunInput {
  cardId: string;
  /** Extra operator instructions appended to the card. */
  prompt?: string;
  /** Default true: run in a fresh worktree on a new branch. */
  useWorktree?: boolean;
  /** Remove the worktree (not the branch) when the run settles. */
  cleanupOnFinish?: boolean;
  startedBy: string;
}

export interface RefineRunInput {
  runId: string;
  /** The operator's feedback; empty means "review and improve". */
  prompt?: string;
  startedBy: string;
}

interface ActiveRun {
  runId: string;
  cwd: string;
  startedAtMs: number;
  session: AgentSession | null;
  starting: Promise<AgentSession | null>;
  stopRequested: boolean;
  /** Set when the bot itself ends the run (shutdown): the run becomes `interrupted`. */
  interruptReason: string | null;
  cleanupOnFinish: boolean;
  settled: Promise<Run>;
  resolveSettled: (run: Run) => void;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class RunManager {
  private readonly active = new Map<string, ActiveRun>();
  /** Working directory → the run whose agent works there. */
  private readonly busyDirs = new Map<string, string>();
  private readonly now: () => Date;

  constructor(private readonly deps: RunManagerDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  get cards(): Cards {
    return this.deps.cards;
  }

  /**
   * Start-up recovery: runs left `running` by a process that died have no agent any more.
   * They become `interrupted` (worktree and session kept, so they can be refined).
   */
  recoverInterrupted(): string[] {
    const reason = 'the bot stopped while this run was active; refine it to continue';
    // A pid equal to ours belongs to an earlier process (pids repeat in containers).
    const ids = this.deps.store.runs.interruptOrphans(this.now().toISOString(), reason, (pid) => pid !== process.pid && isAlive(pid));
    for (const id of ids) {
      const run = this.deps.store.runs.get(id)!;
      this.deps.events.append(id, { type: 'warning', message: reason });
      this.deps.events.append(id, this.settledEvent(run, [], 0));
    }
    if (ids.length > 0) this.deps.logger.warn({ runs: ids }, 'marked runs left running by a previous process as interrupted');
    return ids;
  }

  /** Starts a fresh run; resolves once the agent is running, or with the failed run's error. */
  async start(input: StartRunInput): Promise<Run> {
    const card = this.deps.cards.require(input.cardId);
    const id = randomUUID();
    const useWorktree = input.useWorktree ?? true;
    let worktree: CreatedWorktree | null = null;
    if (useWorktree) {
      await this.deps.worktrees.assertRepo();
      worktree = await this.deps.worktrees.create(id, card.id);
    }
    const cwd = worktree?.path ?? this.deps.repoRoot;
    try {
      this.claimDir(cwd, id);
    } catch (err) {
      if (worktree) await this.deps.worktrees.remove(worktree.path, worktree.branch, { deleteBranch: true });
      throw err;
    }
    const token = randomBytes(24).toString('base64url');
    const prompt = buildPrompt(card, input.prompt, {
      runId: id,
      token,
      branch: worktree?.branch ?? null,
      worktreePath: worktree?.path ?? null,
    });
    this.deps.store.runs.insert({
      id,
      cardId: card.id,
      useWorktree,
      ownsWorktree: Boolean(worktree),
      branch: worktree?.branch ?? null,
      worktreePath: worktree?.path ?? null,
      baseSha: worktree?.baseSha ?? null,
      sessionFile: path.join(this.deps.sessionsDir, `${id}.jsonl`),
      prompt,
      tokenHash: hashToken(token),
      startedBy: input.startedBy,
      parentRunId: null,
      ownerPid: process.pid,
      now: this.now().toISOString(),
    });
    return this.launch(id, cwd, prompt, false, input.cleanupOnFinish ?? false);
  }

  /** Starts a refinement: a new run that resumes the prior run's session in the same worktree. */
  async refine(input: RefineRunInput): Promise<Run> {
    const prior = this.require(input.runId);
    const card = this.deps.cards.require(prior.cardId);
    assertRefinable(prior, {
      isActive: (id) => this.active.has(id),
      worktreeExists: (p) => this.deps.worktrees.exists(p),
      busyRun: (p) => this.busyDirs.get(p) ?? null,
    });
    const cwd = prior.worktreePath!;
    const id = randomUUID();
    this.claimDir(cwd, id);
    const prompt = refinementPrompt(input.prompt);
    this.deps.store.runs.insert({
      id,
      cardId: card.id,
      useWorktree: true,
      ownsWorktree: false,
      branch: prior.branch,
      worktreePath: cwd,
      baseSha: prior.baseSha,
      sessionFile: prior.sessionFile,
      prompt,
      tokenHash: hashToken(randomBytes(24).toString('base64url')),
      startedBy: input.startedBy,
      parentRunId: prior.id,
      ownerPid: process.pid,
      now: this.now().toISOString(),
    });
    return this.launch(id, cwd, prompt, true, false);
  }

  private async launch(id: string, cwd: string, prompt: string, resume: boolean, cleanupOnFinish: boolean): Promise<Run> {
    const run = this.deps.store.runs.get(id)!;
    const log = this.deps.logger.child({ runId: id, cardId: run.cardId });
    this.deps.events.append(id, {
      type: 'run_started',
      cardId: run.cardId,
      branch: run.branch,
      worktreePath: run.worktreePath,
      refinementOf: run.parentRunId,
    });
    let resolveSettled!: (run: Run) => void;
    const settled = new Promise<Run>((resolve) => (resolveSettled = resolve));
    const entry: ActiveRun = {
      runId: id,
      cwd,
      startedAtMs: this.now().getTime(),
      session: null,
      starting: Promise.resolve(null),
      stopRequested: false,
      interruptReason: null,
      cleanupOnFinish,
      settled,
      resolveSettled,
    };
    this.active.set(id, entry);
    entry.starting = this.deps.agent
      .start({
        runId: id,
        cwd,
        sessionFile: run.sessionFile!,
        resume,
        prompt,
        onEvent: (data) => this.deps.events.append(id, data),
      })
      .then(
        (session) => {
          entry.session = session;
          void session.done.then((outcome) => this.settle(entry, outcome));
          if (entry.stopRequested) void session.stop();
          return session;
        },
        (err: unknown) => {
          log.warn({ err }, 'agent failed to start');
          const message = errorText(err);
          this.deps.events.append(id, { type: 'error', message });
          void this.settle(entry, { status: 'failed', summary: null, error: message, usage: { input: 0, output: 0, total: 0, costUsd: 0 } });
          return null;
        },
      );
    const session = await entry.starting;
    if (!session) {
      const failed = await entry.settled;
      if (failed.ownsWorktree && failed.worktreePath && failed.branch) {
        // Nothing ever ran in it: give the branch name and the folder back.
        await this.deps.worktrees
          .remove(failed.worktreePath, failed.branch, { deleteBranch: true })
          .then(() => this.deps.store.runs.clearWorktree(failed.worktreePath!))
          .catch((err: unknown) => log.warn({ err }, 'could not remove the worktree of a run that failed to start'));
      }
      throw new AppError('AGENT_START_FAILED', `run ${shortId(id)} failed to start: ${failed.error ?? 'unknown error'}`);
    }
    log.info({ cwd, resume }, 'run started');
    return this.deps.store.runs.get(id)!;
  }

  /** Finalizes a run: head commit, dirty warning, files changed, usage, status; releases its worktree. */
  private async settle(entry: ActiveRun, outcome: AgentOutcome): Promise<void> {
    try {
      await this.finalize(entry, outcome);
    } catch (err) {
      // Never leave a run `running` without an agent: record the failure as best we can.
      this.deps.logger.error({ err, runId: entry.runId }, 'settling a run failed');
      this.active.delete(entry.runId);
      if (this.busyDirs.get(entry.cwd) === entry.runId) this.busyDirs.delete(entry.cwd);
      const run = this.deps.store.runs.get(entry.runId)!;
      entry.resolveSettled(run);
    }
  }

  private async finalize(entry: ActiveRun, outcome: AgentOutcome): Promise<void> {
    const id = entry.runId;
    const { worktrees } = this.deps;
    let commitSha: string | null = null;
    let files: string[] = [];
    const run = this.deps.store.runs.get(id)!;
    try {
      if (run.useWorktree && worktrees.exists(entry.cwd)) {
        commitSha = await worktrees.headSha(entry.cwd);
        const dirty = await worktrees.dirtySummary(entry.cwd);
        if (dirty) this.deps.events.append(id, { type: 'warning', message: `the worktree has uncommitted changes:\n${dirty}` });
        files = await worktrees.changedFiles(entry.cwd, run.baseSha);
      }
    } catch (err) {
      this.deps.logger.warn({ err, runId: id }, 'could not read the worktree while settling');
    }
    const status: RunStatus = entry.interruptReason ? 'interrupted' : outcome.status;
    this.deps.store.runs.finish(id, {
      status,
      summary: outcome.summary,
      commitSha,
      error: entry.interruptReason ?? outcome.error,
      tokensInput: outcome.usage.input,
      tokensOutput: outcome.usage.output,
      tokensTotal: outcome.usage.total,
      costUsd: outcome.usage.costUsd,
      now: this.now().toISOString(),
    });
    const finished = this.deps.store.runs.get(id)!;
    this.deps.events.append(id, this.settledEvent(finished, files, this.now().getTime() - entry.startedAtMs));
    this.active.delete(id);
    if (this.busyDirs.get(entry.cwd) === id) this.busyDirs.delete(entry.cwd);
    if (entry.cleanupOnFinish && finished.ownsWorktree && finished.worktreePath) {
      await this.removeWorktreeIfUnused(finished).catch((err: unknown) => this.deps.logger.warn({ err, runId: id }, 'cleanup failed'));
    }
    this.deps.logger.info({ runId: id, status, commitSha }, 'run settled');
    entry.resolveSettled(this.deps.store.runs.get(id)!);
  }

  private settledEvent(run: Run, filesChanged: string[], durationMs: number) {
    return {
      type: 'run_settled' as const,
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

  private claimDir(cwd: string, runId: string): void {
    const elsewhere = this.deps.store.runs
      .runningIn(cwd, cwd === this.deps.repoRoot)
      .find((r) => r.ownerPid !== null && r.ownerPid !== process.pid && isAlive(r.ownerPid));
    const holder = this.busyDirs.get(cwd) ?? elsewhere?.id;
    if (holder) {
      throw new UserError('WORKTREE_BUSY', `run ${shortId(holder)} is already working in ${cwd}; wait for it to finish or stop it first`);
    }
    this.busyDirs.set(cwd, runId);
  }

  private activeOrThrow(runId: string): ActiveRun {
    const entry = this.active.get(runId);
    if (entry) return entry;
    const run = this.require(runId);
    throw new UserError('RUN_NOT_ACTIVE', `run ${shortId(run.id)} has ${run.status}; start a refinement to continue it`);
  }

  /** Delivers `text` before the agent's next model call. */
  async steer(runId: string, text: string, by: string): Promise<void> {
    const session = await this.sessionOf(runId);
    this.deps.events.append(runId, { type: 'user_message', kind: 'steer', text, by });
    await session.steer(text);
  }

  /** Delivers `text` when the agent would otherwise stop. */
  async followUp(runId: string, text: string, by: string): Promise<void> {
    const session = await this.sessionOf(runId);
    this.deps.events.append(runId, { type: 'user_message', kind: 'follow_up', text, by });
    await session.followUp(text);
  }

  private async sessionOf(runId: string): Promise<AgentSession> {
    const entry = this.activeOrThrow(runId);
    const session = entry.session ?? (await entry.starting);
    if (!session || !this.active.has(runId)) throw new UserError('RUN_NOT_ACTIVE', `run ${shortId(runId)} is no longer running`);
    return session;
  }

  /** Stops an active run through the agent's stop sequence. False when it was not running. */
  async stop(runId: string, by: string | null): Promise<boolean> {
    const entry = this.active.get(runId);
    if (!entry) {
      this.require(runId);
      return false;
    }
    if (!entry.stopRequested) {
      entry.stopRequested = true;
      this.deps.events.append(runId, { type: 'stop_requested', by });
    }
    const session = entry.session ?? (await entry.starting);
    if (session) await session.stop();
    await entry.settled;
    return true;
  }

  /** Resolves with the run once it has settled (at once for a settled run). */
  async waitForSettled(runId: string): Promise<Run> {
    const entry = this.active.get(runId);
    if (entry) return entry.settled;
    return this.require(runId);
  }

  isActive(runId: string): boolean {
    return this.active.has(runId);
  }

  activeRunIds(): string[] {
    return [...this.active.keys()];
  }

  /** Deletes a settled run, its events, and its worktree once no other run uses it. */
  async remove(runId: string): Promise<{ worktreeRemoved: boolean }> {
    const run = this.require(runId);
    if (this.active.has(runId)) throw new UserError('RUN_ACTIVE', `run ${shortId(runId)} is still running; stop it first`);
    await this.deps.playtests.stop(runId, null);
    let worktreeRemoved = false;
    if (run.ownsWorktree && run.worktreePath) {
      const others = this.deps.store.runs.listUsingWorktree(run.worktreePath).filter((r) => r.id !== runId);
      if (others.length === 0) {
        worktreeRemoved = await this.removeWorktreeIfUnused(run);
      } else {
        // Refinements still use this worktree: hand ownership to the oldest of them.
        this.deps.store.runs.setOwnsWorktree(others[0]!.id, true);
      }
    }
    this.deps.store.runs.delete(runId);
    return { worktreeRemoved };
  }

  private async removeWorktreeIfUnused(run: Run): Promise<boolean> {
    const wt = run.worktreePath!;
    const users = this.deps.store.runs.listUsingWorktree(wt).filter((r) => r.id !== run.id);
    if (this.busyDirs.has(wt) || users.some((r) => this.active.has(r.id) || this.deps.playtests.isRunning(r.id))) return false;
    if (users.length > 0) return false;
    await this.deps.worktrees.remove(wt, run.branch!, { deleteBranch: false });
    this.deps.store.runs.clearWorktree(wt);
    return true;
  }

  // --- playtests ------------------------------------------------------------

  async startPlaytest(runId: string, by: string | null): Promise<void> {
    const run = this.require(runId);
    if (!run.worktreePath || !this.deps.worktrees.exists(run.worktreePath)) {
      throw new UserError('PLAYTEST', `run ${shortId(runId)} has no worktree to playtest (it ran without one or was cleaned up)`);
    }
    this.deps.playtests.start(runId, run.worktreePath, by);
  }

  async stopPlaytest(runId: string, by: string | null): Promise<boolean> {
    this.require(runId);
    return this.deps.playtests.stop(runId, by);
  }

  playtestRunning(runId: string): boolean {
    return this.deps.playtests.isRunning(runId);
  }

  // --- reads ----------------------------------------------------------------

  get(runId: string): Run | undefined {
    return this.deps.store.runs.get(runId);
  }

  /** The run, found by full id or a unique prefix of at least 6 characters. */
  require(runId: string): Run {
    const exact = this.deps.store.runs.get(runId);
    if (exact) return exact;
    if (runId.length >= 6) {
      const matches = this.deps.store.runs.findByPrefix(runId);
      if (matches.length === 1) return matches[0]!;
      if (matches.length > 1) throw new UserError('RUN_NOT_FOUND', `"${runId}" matches several runs; give more of the id`);
    }
    throw new NotFoundError('RUN_NOT_FOUND', `no run "${runId}"; list runs with /runs or "chatops runs"`);
  }

  getByToken(token: string): Run | undefined {
    return this.deps.store.runs.getByTokenHash(hashToken(token));
  }

  list(limit = 50): Run[] {
    return this.deps.store.runs.list(limit);
  }

  listForCard(cardId: string): Run[] {
    return this.deps.store.runs.listForCard(cardId);
  }

  events(runId: string, sinceSeq = 0): RunEvent[] {
    this.deps.events.flush();
    return this.deps.store.events.list(runId, sinceSeq);
  }

  /** Every persisted event of every run, in order per run. */
  subscribe(listener: RunEventListener): () => void {
    return this.deps.events.subscribe(listener);
  }

  /**
   * Ends every active run (they become `interrupted`, refinable later) and every playtest.
   * Resolves when all have settled.
   */
  async shutdown(reason = 'the bot was shut down while this run was active; refine it to continue'): Promise<void> {
    const entries = [...this.active.values()];
    await Promise.all(
      entries.map(async (entry) => {
        entry.interruptReason = reason;
        const session = entry.session ?? (await entry.starting);
        if (session) await session.stop();
        await entry.settled;
      }),
    );
    await this.deps.playtests.stopAll();
    this.deps.events.flush();
  }
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}
