/**
 * One running pi agent as an `AgentSession`: maps its events, detects settling (pi-settle.ts),
 * delivers steers and follow-ups, and owns the two ways a run ends: settle → outcome → shutdown,
 * or stop() (§10 of docs/pi-rpc.md). `done` resolves exactly once and never rejects.
 */
import bytes from 'bytes';
import type { Logger } from 'pino';
import { AppError, UserError, errorText } from '../errors.js';
import type { RunEventData } from '../types.js';
import type { AgentOutcome, AgentSession, AgentUsage } from './agent-driver.js';
import { Redactor } from '../redact.js';
import { PiEventMapper, type UserMessageKind } from './pi-events.js';
import { describeExit, RpcExitError, SKIPPED_RECORDS, type ExitInfo, type RpcProcess, type RpcRecord } from './pi-process.js';
import { FLUSH_PROMPT, lateDeliveryNote, MAX_FLUSHES, PiQueue, undeliveredNote } from './pi-queue.js';
import { barrierState, SettleTracker } from './pi-settle.js';
import { lastAssistantText, sessionUsage } from './pi-stats.js';

export interface PiTimeouts {
  /** Readiness: spawn until the first `get_state` answers. */
  startMs: number;
  /** Any other command's response (prompt, steer, get_state barrier, stats). */
  commandMs: number;
  /** `abort` response during stop(). */
  abortMs: number;
  /** Exit after stdin was closed, before SIGTERM. */
  exitMs: number;
  /** After SIGTERM, before SIGKILL (and after SIGKILL, before giving up). */
  killMs: number;
  /** Re-check interval while the state shows queued messages nobody is consuming. */
  settleRecheckMs: number;
  settleRechecks: number;
}

export const DEFAULT_TIMEOUTS: PiTimeouts = {
  startMs: 30_000,
  commandMs: 10_000,
  abortMs: 5_000,
  exitMs: 3_000,
  killMs: 2_000,
  settleRecheckMs: 200,
  settleRechecks: 5,
};

type Phase = 'starting' | 'running' | 'finishing' | 'done';

export class PiSession implements AgentSession {
  readonly done: Promise<AgentOutcome>;
  readonly mapper: PiEventMapper;
  private readonly tracker = new SettleTracker();
  /** What pi holds queued (steers and follow-ups not injected yet). */
  private readonly queue = new PiQueue();
  /** Stranded queues flushed with a prompt so far (pi-queue.ts). */
  private flushes = 0;
  private resolveDone!: (outcome: AgentOutcome) => void;
  private phase: Phase = 'starting';
  private stopping: Promise<void> | null = null;
  private checking = false;
  private dirty = false;
  private rechecks = 0;
  private deliveriesInFlight = 0;
  private deliverySeq = 0;
  /** Session totals before this run (resume), subtracted from the final stats. */
  baseline: AgentUsage = { input: 0, output: 0, total: 0, costUsd: 0 };
  /** Process tree seen while the current tool runs, for cleanup after an unexpected exit; cleared when it ends. */
  private toolTree: number[] = [];
  /** A tool started and its first output update has not been seen yet (time to snapshot its tree). */
  private updateSnapshotDue = false;
  /** A failure found before the run was marked running (e.g. an oversized line). */
  private earlyFailure: string | null = null;

  constructor(
    readonly proc: RpcProcess,
    private readonly onEvent: (event: RunEventData) => void,
    private readonly logger: Logger,
    private readonly timeouts: PiTimeouts,
    private readonly maxLineBytes: number | null = null,
    redactor: Redactor = Redactor.none(),
  ) {
    this.mapper = new PiEventMapper(redactor);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    proc.onRecord = (record) => this.record(record);
    proc.onOverflow = () => this.lineOverflow();
    proc.onSkipped = (prefix) => {
      if (prefix !== SKIPPED_RECORDS[1] || !this.updateSnapshotDue) return;
      this.updateSnapshotDue = false;
      this.snapshotToolTree();
    };
    void proc.exited.then((info) => this.onExit(info));
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Called by the driver once the prompt was accepted. */
  markRunning(): void {
    if (this.phase !== 'starting') return;
    this.phase = 'running';
    if (this.earlyFailure !== null) void this.finish('failed', this.earlyFailure);
    else if (!this.proc.alive) void this.onExit(this.proc.exitInfo!);
    else if (this.tracker.mark() !== null) this.scheduleCheck();
  }

  steer(text: string): Promise<void> {
    return this.deliver('steer', text);
  }

  followUp(text: string): Promise<void> {
    return this.deliver('follow_up', text);
  }

  stop(): Promise<void> {
    this.stopping ??= this.runStop();
    return this.stopping;
  }

  emit(event: RunEventData): void {
    try {
      this.onEvent(event);
    } catch (err) {
      this.logger.error({ err, type: event.type }, 'run event handler threw');
    }
  }

  /**
   * A `prompt` with `streamingBehavior` lets pi decide atomically: queued as steer/follow-up while
   * the agent streams, a new prompt when it is idle (no race with a run that just ended). During a
   * retry back-off or a compaction pi is not streaming but will continue by itself, so the message
   * is queued with `steer`/`follow_up` and picked up by that continuation.
   */
  private async deliver(kind: UserMessageKind, text: string): Promise<void> {
    if (this.phase !== 'running') {
      throw new UserError('RUN_NOT_ACTIVE', 'The agent has already finished this run; the message was not delivered.');
    }
    const queued = this.tracker.betweenLoops;
    const command = queued
      ? { type: kind === 'steer' ? 'steer' : 'follow_up', message: text }
      : { type: 'prompt', message: text, streamingBehavior: kind === 'steer' ? 'steer' : 'followUp' };
    this.mapper.expectUserMessage(text);
    this.deliveriesInFlight += 1;
    try {
      const res = await this.proc.request(command, this.timeouts.commandMs);
      if (!res.success) throw new AppError('AGENT_PROTOCOL', `The agent refused the message: ${res.error ?? 'unknown error'}`);
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new AppError('AGENT_PROTOCOL', `Could not deliver the message to the agent: ${errorText(err)}`, { cause: err });
    } finally {
      this.deliveriesInFlight -= 1;
      this.deliverySeq += 1;
      if (this.phase === 'running') this.scheduleCheck();
    }
  }

  private record(record: RpcRecord): void {
    const type = record.type;
    if (type === 'response') {
      // Responses without a (known) id: unknown commands and parse errors in 0.73.
      this.logger.warn({ command: record.command, error: record.error }, 'agent response without a pending id');
      return;
    }
    if (type === 'tool_execution_start') {
      this.snapshotToolTree();
      this.updateSnapshotDue = true;
    }
    // A finished tool's pids may be reused by unrelated processes later: never signal them then.
    if (type === 'tool_execution_end') this.toolTree = [];
    const terminal = this.tracker.observe(record);
    this.queue.observe(record);
    for (const event of this.mapper.map(record)) this.emit(event);
    // Spend so far after every model call, for the live status and the run's budget.
    if (type === 'message_end' && (record.message as { role?: unknown } | undefined)?.role === 'assistant') {
      this.emit({ type: 'usage', ...this.mapper.usage });
    }
    if (terminal && this.phase === 'running') this.scheduleCheck();
  }

  private snapshotToolTree(): void {
    const tree = this.proc.tree();
    if (tree.length > 0) this.toolTree = tree;
  }

  /** A line over AGENT_MAX_LINE was dropped: the run fails rather than hold it in memory. */
  private lineOverflow(): void {
    if (this.phase === 'finishing' || this.phase === 'done' || this.earlyFailure !== null) return;
    const limit = this.maxLineBytes === null ? 'the line limit' : bytes.format(this.maxLineBytes);
    const message = `The agent wrote a single output line longer than ${limit} (AGENT_MAX_LINE); the run was stopped so the bot's memory stays bounded.`;
    this.logger.warn({ maxLineBytes: this.maxLineBytes }, 'agent line over AGENT_MAX_LINE; failing the run');
    this.emit({ type: 'error', message });
    if (this.phase === 'starting') this.earlyFailure = message;
    else void this.finish('failed', message);
  }

  private scheduleCheck(): void {
    if (this.checking) {
      this.dirty = true;
      return;
    }
    void this.check();
  }

  private async check(): Promise<void> {
    this.checking = true;
    try {
      do {
        this.dirty = false;
        if (this.deliveriesInFlight > 0) return; // deliver() schedules a check when answered
        const mark = this.tracker.mark();
        if (mark === null) return;
        const seq = this.deliverySeq;
        let data: unknown;
        try {
          data = (await this.proc.request({ type: 'get_state' }, this.timeouts.commandMs)).data;
        } catch (err) {
          if (this.phase !== 'running' || err instanceof RpcExitError) return; // exit handler decides
          void this.finish('failed', `The agent stopped answering: ${errorText(err)}`);
          return;
        }
        if (this.phase !== 'running') return;
        if (this.dirty || seq !== this.deliverySeq || this.deliveriesInFlight > 0) {
          this.dirty = true;
          continue;
        }
        const verdict = this.tracker.evaluate(mark, barrierState(data));
        if (verdict === 'settled') {
          void this.finishSettled();
          return;
        }
        if (verdict === 'pending_messages') {
          // pi may still continue by itself (a compaction restarts a non-empty queue ~100 ms later).
          if (this.rechecks < this.timeouts.settleRechecks) {
            this.rechecks += 1;
            setTimeout(() => this.phase === 'running' && this.scheduleCheck(), this.timeouts.settleRecheckMs);
            return;
          }
          this.rechecks = 0;
          void this.flushQueue();
          return;
        }
      } while (this.dirty);
    } finally {
      this.checking = false;
    }
  }

  /**
   * The run would settle with messages pi accepted but will never inject by itself: a prompt
   * starts a loop that delivers them, and the thread is told (pi-queue.ts). After MAX_FLUSHES,
   * or when pi refuses the prompt, the run settles and the thread names what was not delivered.
   */
  private async flushQueue(): Promise<void> {
    const texts = this.queue.texts;
    if (this.flushes >= MAX_FLUSHES) {
      this.emit({ type: 'warning', message: undeliveredNote(texts, `the agent left them queued ${MAX_FLUSHES} times`) });
      return this.finishSettled();
    }
    this.flushes += 1;
    this.logger.info({ queued: texts.length, flush: this.flushes }, 'queued messages stranded at settle; flushing them with a prompt');
    this.mapper.expectUserMessage(FLUSH_PROMPT);
    this.deliveriesInFlight += 1;
    try {
      const res = await this.proc.request({ type: 'prompt', message: FLUSH_PROMPT }, this.timeouts.commandMs);
      if (this.phase !== 'running') return;
      if (res.success) this.emit({ type: 'warning', message: lateDeliveryNote(texts) });
      // Busy again: pi started a loop of its own meanwhile, and that loop takes the queue.
      else if (!/already processing/i.test(res.error ?? '')) {
        this.emit({ type: 'warning', message: undeliveredNote(texts, `the agent refused the prompt that would deliver them: ${res.error ?? 'unknown error'}`) });
        void this.finishSettled();
      }
    } catch (err) {
      if (this.phase !== 'running' || err instanceof RpcExitError) return; // exit handler decides
      void this.finish('failed', `The agent stopped answering: ${errorText(err)}`);
    } finally {
      this.deliveriesInFlight -= 1;
      this.deliverySeq += 1;
      if (this.phase === 'running') this.scheduleCheck();
    }
  }

  private async finishSettled(): Promise<void> {
    const last = this.mapper.lastAssistant;
    if (!last) return this.finish('failed', 'The agent ended without an answer.');
    switch (last.stopReason) {
      case 'stop':
      case 'length':
        return this.finish('succeeded', null);
      case 'aborted':
        return this.finish('stopped', null);
      case 'error':
        return this.finish('failed', last.errorMessage ?? this.mapper.lastRetryError ?? 'The model call failed.');
      default:
        return this.finish('failed', `The agent ended unexpectedly (stop reason ${last.stopReason}).`);
    }
  }

  private async onExit(info: ExitInfo): Promise<void> {
    if (this.phase !== 'running') return;
    const stderr = this.proc.stderrTail();
    const error = `The agent process exited unexpectedly (${describeExit(info)})${stderr ? `: ${stderr}` : ''}`;
    this.logger.warn({ exit: info }, 'agent exited unexpectedly');
    this.emit({ type: 'error', message: error });
    await this.finish('failed', error);
  }

  private async finish(status: AgentOutcome['status'], error: string | null): Promise<void> {
    if (this.phase === 'finishing' || this.phase === 'done') return;
    this.phase = 'finishing';
    let usage: AgentUsage = { ...this.mapper.usage };
    let summary = this.mapper.lastStopText;
    try {
      usage = await this.collectUsage(this.timeouts.commandMs);
      if (summary === null && status === 'succeeded') summary = await lastAssistantText(this.proc, this.timeouts.commandMs);
      this.emit({ type: 'usage', ...usage });
      await this.shutdown([]);
    } catch (err) {
      this.logger.error({ err }, 'agent shutdown failed');
    } finally {
      this.resolve({ status, summary, error, usage });
    }
  }

  /** Closes stdin and ends the process and `snapshot` (plus the current tree) with SIGTERM/SIGKILL as needed. */
  private async shutdown(snapshot: number[]): Promise<void> {
    const all = [...snapshot, ...this.proc.tree(), ...this.toolTree];
    this.proc.closeStdin();
    await this.proc.terminate(all, this.timeouts.exitMs, this.timeouts.killMs);
  }

  private async runStop(): Promise<void> {
    if (this.phase === 'finishing' || this.phase === 'done') {
      await this.done;
      return;
    }
    this.phase = 'finishing';
    let usage: AgentUsage = { ...this.mapper.usage };
    try {
      // Collect the tree before anything is asked to exit: closing stdin orphans a running tool.
      const snapshot = this.proc.tree();
      let answered = false;
      if (this.proc.alive) {
        try {
          await this.proc.request({ type: 'abort' }, this.timeouts.abortMs);
          answered = true;
        } catch (err) {
          this.logger.warn({ err: errorText(err) }, 'agent did not answer abort; terminating');
        }
      }
      if (answered) usage = await this.collectUsage(Math.min(this.timeouts.commandMs, this.timeouts.abortMs));
      // An abort writes queued steers into the conversation unanswered; follow-ups stay queued and die with pi.
      if (this.queue.texts.length > 0) this.emit({ type: 'warning', message: undeliveredNote(this.queue.texts, 'the run was stopped first') });
      this.emit({ type: 'usage', ...usage });
      await this.shutdown(snapshot);
    } catch (err) {
      this.logger.error({ err }, 'agent stop failed');
    } finally {
      this.resolve({ status: 'stopped', summary: this.mapper.lastStopText, error: null, usage });
    }
  }

  private resolve(outcome: AgentOutcome): void {
    this.phase = 'done';
    this.logger.info({ status: outcome.status, error: outcome.error, exit: this.proc.exitInfo }, 'agent run finished');
    this.resolveDone(outcome);
  }

  private collectUsage(timeoutMs: number): Promise<AgentUsage> {
    return sessionUsage(this.proc, this.baseline, this.mapper.usage, timeoutMs);
  }
}
