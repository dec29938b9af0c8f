/**
 * The single source of truth for runs: start, refine, steer, follow up, stop, playtest, remove,
 * settle, and the reads. Each active run owns one agent session and holds its working directory:
 * two agents never share a worktree, and a worktree is never removed while a run uses it.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Store } from '../store/index.js';
import type { NewRun } from '../store/runs-repo.js';
import { ActiveRuns, type LaunchOptions } from './active-runs.js';
import type { AgentDriver, AgentSession } from './agent/agent-driver.js';
import type { Cards } from './cards.js';
import { assertFreeDisk } from './disk-space.js';
import { AppError, NotFoundError, UserError } from './errors.js';
import type { EventLog, RunEventListener } from './event-log.js';
import { isEarlierOwnerAlive, isSameProcess, ownStartTime } from './process-identity.js';
import { endTreesSync } from './process-reaper.js';
import { buildPrompt, refinementPrompt } from './prompt.js';
import { assertRefinable } from './refine-rules.js';
import type { CreatedWorktree, PlaytestOps, WorktreeOps } from './run-ports.js';
import { RunQueue } from './run-queue.js';
import type { RunLimitSettings } from './run-limits.js';
import { releaseWorktree, removeRun, type RemovalDeps } from './run-removal.js';
import { recordSettle, settledEvent } from './run-settle.js';
import type { Run, RunEvent } from './types.js';
import { PRUNE_HOLDER, WorkDirs } from './work-dirs.js';

export interface RunManagerDeps {
  store: Pick<Store, 'runs' | 'events' | 'settle' | 'processes'>;
  cards: Cards;
  events: EventLog;
  agent: AgentDriver;
  worktrees: WorktreeOps;
  playtests: PlaytestOps;
  repoRoot: string;
  sessionsDir: string;
  logger: Logger;
  now?: () => Date;
  /** Agents that may run at once (MAX_CONCURRENT_RUNS); further runs wait `queued`. Default: unlimited. */
  maxConcurrentRuns?: number;
  /** Queued + running runs one person may have (MAX_RUNS_PER_USER); null: no limit. */
  maxRunsPerUser?: number | null;
  /** How often a process with queued runs looks at the shared queue again (other processes' runs settle unseen). */
  queuePollMs?: number;
  /** Time and cost bounds of every run (src/core/run-limits.ts). */
  limits?: RunLimitSettings;
  /** MIN_FREE_DISK: runs are refused when `dir`'s file system has less free space. */
  disk?: { dir: string; minFreeBytes: number };
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
  /** Called once the run's row exists, before its agent starts (e.g. to bind a chat thread). */
  onCreated?: (run: Run) => void;
  /** Called when the run has to wait in the queue (MAX_CONCURRENT_RUNS), with its place (1 = next). */
  onQueued?: (position: number) => void;
}

export interface RefineRunInput {
  runId: string;
  /** The operator's feedback; empty means "review and improve". */
  prompt?: string;
  startedBy: string;
  /** Called once the run's row exists, before its agent starts (e.g. to bind a chat thread). */
  onCreated?: (run: Run) => void;
  /** Called when the run has to wait in the queue, with its place (1 = next). */
  onQueued?: (position: number) => void;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class RunManager {
  private readonly dirs: WorkDirs;
  private readonly active: ActiveRuns;
  private readonly queue: RunQueue;
  /** Runs of this process waiting in the queue: settled when they were cancelled or, once admitted, when their agent settles. */
  private readonly waiting = new Map<string, Promise<Run>>();
  /** Admitted runs whose launch has not registered them yet (a stop then waits for it). */
  private readonly launching = new Map<string, Promise<void>>();
  private readonly now: () => Date;

  constructor(private readonly deps: RunManagerDeps) {
    this.now = deps.now ?? (() => new Date());
    this.dirs = new WorkDirs(deps.store.runs, deps.repoRoot);
    this.queue = new RunQueue({
      runs: deps.store.runs,
      maxConcurrent: Math.max(1, deps.maxConcurrentRuns ?? Number.MAX_SAFE_INTEGER),
      isOwnerAlive: isSameProcess,
      onPosition: (runId, position) => this.announcePosition(runId, position),
      now: this.now,
      pollMs: deps.queuePollMs,
    });
    this.active = new ActiveRuns({ ...deps, dirs: this.dirs, now: this.now, onSettled: () => this.queue.pump() });
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
    // Rows and their events in one transaction: a crash here leaves no thread without its end.
    const ids = this.deps.events.writeManyWith((stamp) => {
      const { ids, events } = this.deps.store.settle.interruptOrphans(this.now().toISOString(), reason, isEarlierOwnerAlive, (run) => [
        stamp({ type: 'warning', message: reason }),
        stamp(settledEvent(run, [], 0)),
      ]);
      return { result: ids, events };
    });
    if (ids.length > 0) this.deps.logger.warn({ runs: ids }, 'marked runs left running by a previous process as interrupted');
    return ids;
  }

  /**
   * Starts a fresh run; resolves once the agent is running, or with the failed run's error. The
   * run's row exists (and `onCreated` runs) before its worktree is created, so a chat thread can
   * show it and 🛑 can stop it from the start.
   */
  async start(input: StartRunInput): Promise<Run> {
    const card = this.deps.cards.require(input.cardId);
    this.assertUnderUserLimit(input.startedBy);
    await this.assertDiskSpace();
    const id = randomUUID();
    const useWorktree = input.useWorktree ?? true;
    let planned: { path: string; branch: string } | null = null;
    if (useWorktree) {
      await this.deps.worktrees.assertRepo();
      planned = this.deps.worktrees.plan(id, card.id);
    }
    const cwd = planned?.path ?? this.deps.repoRoot;
    let worktree: CreatedWorktree | null = null;
    const giveBack = async (): Promise<void> => {
      // Nothing ever ran in it: give the branch name and the folder back.
      if (!worktree) return;
      await this.deps.worktrees
        .remove(worktree.path, worktree.branch, { deleteBranch: true })
        .then(() => this.deps.store.runs.clearWorktree(worktree!.path))
        .catch((e: unknown) => this.deps.logger.warn({ err: e, runId: id }, 'could not remove the worktree of a run that did not start'));
    };
    const prompt = this.claimAndInsert(cwd, id, (token) => {
      const text = buildPrompt(card, input.prompt, { runId: id, token, branch: planned?.branch ?? null, worktreePath: planned?.path ?? null });
      return {
        text,
        row: {
          cardId: card.id,
          useWorktree,
          ownsWorktree: Boolean(planned),
          branch: planned?.branch ?? null,
          worktreePath: planned?.path ?? null,
          baseSha: null,
          sessionFile: path.join(this.deps.sessionsDir, `${id}.jsonl`),
          startedBy: input.startedBy,
          parentRunId: null,
        },
      };
    });
    input.onCreated?.(this.deps.store.runs.get(id)!);
    const cleanup = input.cleanupOnFinish ?? false;
    try {
      return await this.whenAdmitted(id, cwd, input.onQueued, {
        prompt,
        resume: false,
        prepare: async () => {
          if (!planned) return;
          worktree = await this.deps.worktrees.create(id, card.id);
          this.deps.store.runs.setBaseSha(id, worktree.baseSha);
        },
        afterSettle: async (run) => {
          if (cleanup && run.ownsWorktree && run.worktreePath) await releaseWorktree(this.removal(), run);
        },
      });
    } catch (err) {
      await giveBack();
      throw err;
    }
  }

  /** MAX_RUNS_PER_USER: refuses a new run of someone who already has that many queued or running. */
  private assertUnderUserLimit(startedBy: string): void {
    const max = this.deps.maxRunsPerUser;
    if (!max) return;
    const active = this.deps.store.runs.countActiveBy(startedBy);
    if (active >= max) {
      throw new UserError(
        'RUN_LIMIT',
        `You already have ${active} run${active === 1 ? '' : 's'} queued or running (the limit is ${max}); wait for one to finish, or stop one with 🛑.`,
      );
    }
  }

  /**
   * Waits for the run queue to admit a queued run, then launches its agent. A run stopped while
   * queued settles as `stopped` without an agent ever starting; at shutdown it stays `queued`.
   */
  private whenAdmitted(id: string, cwd: string, onQueued: ((position: number) => void) | undefined, launch: LaunchOptions): Promise<Run> {
    let settle!: (run: Run) => void;
    this.waiting.set(id, new Promise<Run>((resolve) => (settle = resolve)));
    let registered!: () => void;
    this.launching.set(id, new Promise<void>((resolve) => (registered = resolve)));
    const started = (async () => {
      try {
        const admitted = this.queue.wait(id);
        // Not admitted at once: the caller may say so (and not wait for the agent).
        if (this.queue.isWaiting(id)) onQueued?.(this.queue.positions().get(id) ?? 0);
        await admitted;
      } catch (err) {
        this.dirs.release(cwd, id);
        if (!(err instanceof AppError && err.code === 'SHUTTING_DOWN')) this.settleUnstarted(id, 'stopped', null);
        throw err;
      } finally {
        this.launching.delete(id);
        registered();
      }
      // `launch` registers the run before its first await: from here a stop reaches it.
      const launched = this.active.launch(id, cwd, launch);
      void (this.active.settled(id) ?? launched).then(settle, () => settle(this.require(id)));
      return launched;
    })();
    void started.then(
      () => undefined,
      () => settle(this.require(id)),
    );
    void this.waiting.get(id)!.finally(() => this.waiting.delete(id));
    return started;
  }

  /** Records the end of a run whose agent never started (stopped while queued). */
  private settleUnstarted(id: string, status: 'stopped' | 'failed', error: string | null): void {
    const finish = { status, summary: null, commitSha: null, error, tokensInput: 0, tokensOutput: 0, tokensTotal: 0, costUsd: 0, now: this.now().toISOString() };
    recordSettle(this.deps.store, this.deps.events, this.require(id), finish, [], 0);
    this.queue.pump();
  }

  private announcePosition(runId: string, position: number): void {
    const run = this.deps.store.runs.get(runId);
    if (!run || position < 1) return;
    this.deps.events.append(runId, { type: 'run_queued', cardId: run.cardId, refinementOf: run.parentRunId, position, maxConcurrent: this.queue.maxConcurrent });
  }

  /**
   * At bot start-up: takes over the queued runs of a process that is gone (the bot before a
   * restart) and queues them here again, in their order. Returns their ids.
   */
  resumeQueue(): string[] {
    const ids = this.deps.store.runs.adoptQueued(process.pid, ownStartTime(), isSameProcess);
    for (const id of ids) {
      const run = this.require(id);
      const cwd = run.worktreePath ?? this.deps.repoRoot;
      try {
        this.dirs.claim(cwd, id);
      } catch (err) {
        this.settleUnstarted(id, 'failed', `could not resume after a restart: ${(err as Error).message}`);
        continue;
      }
      // The stored prompt has its run token blanked out: a fresh token takes its place.
      const token = randomBytes(24).toString('base64url');
      this.deps.store.runs.setTokenHash(id, hashToken(token));
      const prompt = run.prompt.split('<run token>').join(token);
      const refinement = run.parentRunId !== null && !run.ownsWorktree;
      const card = this.deps.cards.require(run.cardId);
      void this.whenAdmitted(id, cwd, undefined, {
        prompt,
        resume: refinement,
        prepare: async () => {
          if (refinement || !run.useWorktree) return;
          const wt = await this.deps.worktrees.create(id, card.id);
          this.deps.store.runs.setBaseSha(id, wt.baseSha);
        },
      }).catch((err: unknown) => this.deps.logger.warn({ err, runId: id }, 'a resumed queued run did not start'));
    }
    if (ids.length > 0) this.deps.logger.info({ runs: ids }, 'resumed the queue of runs left queued by a previous process');
    return ids;
  }

  /** Places in the run queue (1 = next), by run id. */
  queuePositions(): Map<string, number> {
    return this.queue.positions();
  }

  /**
   * Claims `cwd` for a new run and inserts its row; releases the claim if that fails. The row
   * keeps the prompt with the run token blanked out: only its hash is stored. Returns the prompt
   * the agent gets.
   */
  private claimAndInsert(
    cwd: string,
    id: string,
    build: (token: string) => { text: string; row: Omit<NewRun, 'id' | 'prompt' | 'tokenHash' | 'ownerPid' | 'now'> },
  ): string {
    this.dirs.claim(cwd, id);
    try {
      const token = randomBytes(24).toString('base64url');
      const { text, row } = build(token);
      this.deps.store.runs.insert({
        ...row,
        id,
        prompt: text.split(token).join('<run token>'),
        tokenHash: hashToken(token),
        ownerPid: process.pid,
        ownerStart: ownStartTime(),
        status: 'queued',
        now: this.now().toISOString(),
      });
      return text;
    } catch (err) {
      this.dirs.release(cwd, id);
      throw err;
    }
  }

  /** Starts a refinement: a new run that resumes the prior run's session in the same worktree. */
  async refine(input: RefineRunInput): Promise<Run> {
    const prior = this.require(input.runId);
    this.assertUnderUserLimit(input.startedBy);
    const card = this.deps.cards.require(prior.cardId);
    assertRefinable(prior, {
      isActive: (id) => this.active.has(id),
      worktreeExists: (p) => this.deps.worktrees.exists(p),
      busyRun: (p) => this.dirs.holder(p),
    });
    await this.assertDiskSpace();
    const cwd = prior.worktreePath!;
    const id = randomUUID();
    const prompt = this.claimAndInsert(cwd, id, () => ({
      text: refinementPrompt(input.prompt),
      row: {
        cardId: card.id,
        useWorktree: true,
        ownsWorktree: false,
        branch: prior.branch,
        worktreePath: cwd,
        baseSha: prior.baseSha,
        sessionFile: prior.sessionFile,
        startedBy: input.startedBy,
        parentRunId: prior.id,
      },
    }));
    input.onCreated?.(this.deps.store.runs.get(id)!);
    return this.whenAdmitted(id, cwd, input.onQueued, { prompt, resume: true });
  }

  /** Delivers `text` before the agent's next model call. */
  async steer(runId: string, text: string, by: string): Promise<void> {
    const session = await this.sessionOf(runId);
    await session.steer(text);
    this.deps.events.append(runId, { type: 'user_message', kind: 'steer', text, by });
  }

  /** Delivers `text` when the agent would otherwise stop. */
  async followUp(runId: string, text: string, by: string): Promise<void> {
    const session = await this.sessionOf(runId);
    await session.followUp(text);
    this.deps.events.append(runId, { type: 'user_message', kind: 'follow_up', text, by });
  }

  private async assertDiskSpace(): Promise<void> {
    if (this.deps.disk) await assertFreeDisk(this.deps.disk.dir, this.deps.disk.minFreeBytes);
  }

  /** Whether this process uses a worktree: an agent works in it, or a playtest of one of `runIds` runs. */
  worktreeInUse(worktreePath: string, runIds: string[]): boolean {
    const holder = this.dirs.holder(worktreePath);
    return (holder !== null && holder !== PRUNE_HOLDER) || runIds.some((id) => this.active.has(id) || this.deps.playtests.isRunning(id));
  }

  /** Reserves a worktree for its removal (no refinement may start in it); null when a run holds it. */
  holdForRemoval(worktreePath: string): (() => void) | null {
    if (this.dirs.holder(worktreePath)) return null;
    this.dirs.claim(worktreePath, PRUNE_HOLDER);
    return () => this.dirs.release(worktreePath, PRUNE_HOLDER);
  }

  private async sessionOf(runId: string): Promise<AgentSession> {
    const run = this.require(runId);
    if (this.queue.isWaiting(run.id)) {
      const position = this.queue.positions().get(run.id);
      throw new UserError('RUN_QUEUED', `run ${shortId(run.id)} is queued${position ? ` (position ${position})` : ''} and has not started; reply again once it runs, or stop it`);
    }
    if (!this.active.has(run.id)) {
      throw new UserError('RUN_NOT_ACTIVE', `run ${shortId(run.id)} has ${run.status}; start a refinement to continue it`);
    }
    return this.active.session(run.id);
  }

  /** Stops an active run through the agent's stop sequence; resolves once it settled. False when it was not running. */
  async stop(runId: string, by: string | null): Promise<boolean> {
    const run = this.require(runId);
    const waiting = this.waiting.get(run.id);
    if (waiting && this.queue.isWaiting(run.id)) {
      // Out of the queue: no agent ever starts, nothing was created on disk.
      this.deps.events.append(run.id, { type: 'stop_requested', by });
      this.queue.cancel(run.id);
      await waiting;
      return true;
    }
    // Admitted a moment ago: its launch registers it in a moment.
    await this.launching.get(run.id);
    return this.active.stop(run.id, () => this.deps.events.append(run.id, { type: 'stop_requested', by }));
  }

  /** Resolves with the run once it has settled (at once for a settled run). */
  async waitForSettled(runId: string): Promise<Run> {
    return this.active.settled(runId) ?? this.waiting.get(runId) ?? this.require(runId);
  }

  /** True while the run is queued or running in this process. */
  isActive(runId: string): boolean {
    return this.active.has(runId) || this.waiting.has(runId);
  }

  activeRunIds(): string[] {
    return this.active.ids();
  }

  /** Deletes a settled run, its events, and its worktree once no other run uses it. */
  async remove(runId: string): Promise<{ worktreeRemoved: boolean }> {
    const run = this.require(runId);
    if (this.active.has(run.id)) throw new UserError('RUN_ACTIVE', `run ${shortId(run.id)} is still running; stop it first`);
    return removeRun(this.removal(), run);
  }

  private removal(): RemovalDeps {
    return { ...this.deps, isBusy: (p) => this.dirs.isHeldHere(p) };
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

  async capturePlaytest(runId: string, by: string | null): Promise<void> {
    this.require(runId);
    return this.deps.playtests.capture(runId, by);
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
   * Last resort (the process exits without a shutdown, or one overran its bound): each agent's
   * whole tree and groups get SIGTERM, then SIGKILL a moment later; every playtest tree SIGKILL.
   * Their rows stay `running` and become `interrupted` at the next start.
   */
  killAllSync(): void {
    endTreesSync(this.active.agentPids());
    this.deps.playtests.killAllSync();
  }

  /** Ends every active run (`interrupted`, refinable later) and every playtest; resolves when all settled. */
  async shutdown(reason = 'the bot was shut down while this run was active; refine it to continue'): Promise<void> {
    // Queued runs stay queued in the database; the next start takes them up again.
    this.queue.close();
    await this.active.interruptAll(reason);
    await this.deps.playtests.stopAll();
    this.deps.events.flush();
  }
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}
