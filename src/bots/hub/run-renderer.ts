/**
 * Turns one run's events into what its thread shows: one live status message (kept in memory,
 * edited by the relay no more often than the platform allows), compact digest posts (flushed by
 * size, by time, at turn ends and at the end of the run), the final result as a new message,
 * and the team notifications. Text deltas never create posts by themselves.
 *
 * The renderer is deterministic given its events and flush calls; `safeSeq` tells the relay how
 * far the cursor may move: every event up to it has its durable output in the ops returned.
 */
import type { RunEvent, RunEventData, RunStatus } from '../../core/types.js';
import { playtestNote } from './playtest-format.js';
import { mediaComment, type PlaytestMedia } from './uploads.js';
import {
  digestLine,
  finalText,
  neutralizeMentions,
  notifySettledText,
  notifyStartText,
  statusText,
  toolSummary,
  truncate,
} from './render-format.js';

export type RenderOp =
  /** The live status message; created once per run. */
  | { kind: 'status-create'; body: string }
  /**
   * A post in the run's thread; `key` is unique per content and stable across re-renders. The
   * final result is `final`; other posts are digests, which delivery may merge when they queue.
   */
  | { kind: 'post'; key: string; body: string; final?: boolean }
  /** A line for the team notification channel. */
  | { kind: 'notify'; key: string; body: string }
  /** Playtest screenshots and clips with their comment; the relay fits them to the platform's upload limits. */
  | { kind: 'upload'; key: string; body: string; media: PlaytestMedia };

export interface RendererOptions {
  /** Flush the digest when its text reaches this many characters (default 1,500). */
  flushChars?: number;
  /** Tool lines kept in the status message (default 5). */
  statusToolLines?: number;
  /** Tool lines shown in one digest before collapsing the rest (default 8). */
  digestToolLines?: number;
}

interface Buffered {
  seq: number;
  text: string;
  tool: boolean;
}

export class RunRenderer {
  private state: RunStatus | 'starting' = 'starting';
  /** Whether the live status message exists (created by the first of run_queued / run_started). */
  private statusCreated = false;
  private cardId = '';
  private refinementOf: string | null = null;
  private startedAtMs: number | null = null;
  private durationMs: number | null = null;
  private currentStep: string | null = null;
  private readonly toolLines: string[] = [];
  private note: string | null = null;
  private tokensTotal = 0;
  private costUsd = 0;
  private budgetUsd: number | null = null;
  private buffer: Buffered[] = [];
  private bufferChars = 0;
  private bufferStartedAtMs: number | null = null;
  private lastSeq = 0;
  private statusDirty = false;
  private readonly flushChars: number;
  private readonly statusToolLines: number;
  private readonly digestToolLines: number;

  constructor(
    readonly runId: string,
    private readonly startedBy: string,
    opts: RendererOptions = {},
    private readonly nameOf: (actor: string | null) => string = (a) => a ?? 'the bot',
  ) {
    this.flushChars = opts.flushChars ?? 1500;
    this.statusToolLines = opts.statusToolLines ?? 5;
    this.digestToolLines = opts.digestToolLines ?? 8;
  }

  /** The last event applied. */
  get seq(): number {
    return this.lastSeq;
  }

  get settled(): boolean {
    return this.state !== 'starting' && this.state !== 'running' && this.state !== 'queued';
  }

  /** Every event up to this seq has its durable output emitted (nothing of it is buffered). */
  safeSeq(): number {
    return this.buffer.length > 0 ? this.buffer[0]!.seq - 1 : this.lastSeq;
  }

  /** When the oldest unflushed digest item arrived (relay clock), or null. */
  get pendingSinceMs(): number | null {
    return this.bufferStartedAtMs;
  }

  /** True when the status message changed since `takeStatus` last ran. */
  get statusChanged(): boolean {
    return this.statusDirty;
  }

  /** Applies one event (in seq order); returns the durable output it completes. */
  apply(event: RunEvent, nowMs: number): RenderOp[] {
    if (event.seq <= this.lastSeq) return [];
    this.lastSeq = event.seq;
    const e = event.data;
    const ops: RenderOp[] = [];
    this.updateStatus(e, Date.parse(event.createdAt));
    if (e.type === 'run_queued') {
      if (!this.statusCreated) ops.push({ kind: 'status-create', body: this.statusBody(nowMs) });
      this.statusCreated = true;
      return ops;
    }
    if (e.type === 'run_started') {
      // A queued run already has its status message: the relay edits it from here on.
      if (!this.statusCreated) ops.push({ kind: 'status-create', body: this.statusBody(nowMs) });
      this.statusCreated = true;
      ops.push({ kind: 'notify', key: `notify-start:${this.runId}`, body: notifyStartText(this.runId, e.cardId, e.refinementOf, this.nameOf(this.startedBy)) });
      return ops;
    }
    if (e.type === 'playtest_media') {
      // After what the digest holds, so the thread keeps the order of events.
      ops.push(...this.flush(), { kind: 'upload', key: `upload:${this.runId}:${event.seq}`, body: mediaComment(e, this.nameOf), media: e });
      return ops;
    }
    const line = digestLine(e, this.nameOf);
    if (line !== null) {
      const text = neutralizeMentions(line);
      this.buffer.push({ seq: event.seq, text, tool: e.type === 'tool_end' });
      this.bufferChars += text.length + 1;
      this.bufferStartedAtMs ??= nowMs;
    }
    if (e.type === 'run_settled') {
      ops.push(...this.flush());
      ops.push({ kind: 'post', key: `final:${this.runId}`, body: finalText(this.runId, this.cardId, e), final: true });
      ops.push({ kind: 'notify', key: `notify-end:${this.runId}`, body: notifySettledText(this.runId, this.cardId, e) });
    } else if (e.type === 'turn_end' || this.bufferChars >= this.flushChars) {
      ops.push(...this.flush());
    }
    return ops;
  }

  /** Emits the buffered digest as one post (split later by the relay); [] when empty. */
  flush(): RenderOp[] {
    if (this.buffer.length === 0) return [];
    const first = this.buffer[0]!.seq;
    const last = this.buffer[this.buffer.length - 1]!.seq;
    const lines: string[] = [];
    let tools = 0;
    let hiddenTools = 0;
    for (const item of this.buffer) {
      if (item.tool && ++tools > this.digestToolLines) {
        hiddenTools++;
        continue;
      }
      lines.push(item.text);
    }
    if (hiddenTools > 0) lines.push(`🔧 … and ${hiddenTools} more tool call${hiddenTools === 1 ? '' : 's'}`);
    this.resetBuffer();
    return [{ kind: 'post', key: `post:${this.runId}:${first}-${last}`, body: lines.join('\n') }];
  }

  /** Drops the buffer without output (after a silent replay: the cursor says it was delivered). */
  resetBuffer(): void {
    this.buffer = [];
    this.bufferChars = 0;
    this.bufferStartedAtMs = null;
  }

  /** The status message text now, and clears the changed flag. */
  takeStatus(nowMs: number): string {
    this.statusDirty = false;
    return this.statusBody(nowMs);
  }

  statusBody(nowMs: number): string {
    const elapsed = this.durationMs ?? (this.startedAtMs === null ? 0 : nowMs - this.startedAtMs);
    return statusText({
      runId: this.runId,
      cardId: this.cardId,
      state: this.state,
      elapsedMs: elapsed,
      currentStep: this.settled ? null : this.currentStep,
      toolLines: this.toolLines,
      tokensTotal: this.tokensTotal,
      costUsd: this.costUsd,
      budgetUsd: this.budgetUsd,
      note: this.note,
      refinementOf: this.refinementOf,
    });
  }

  private updateStatus(e: RunEventData, atMs: number): void {
    switch (e.type) {
      case 'run_queued':
        this.state = 'queued';
        this.cardId = e.cardId;
        this.refinementOf = e.refinementOf;
        this.currentStep = `queued, position ${e.position} (at most ${e.maxConcurrent} run${e.maxConcurrent === 1 ? '' : 's'} at once)`;
        break;
      case 'run_started':
        this.state = 'running';
        this.cardId = e.cardId;
        this.refinementOf = e.refinementOf;
        this.startedAtMs = Number.isNaN(atMs) ? null : atMs;
        // The worktree and the agent are being set up; the agent's first event moves it on.
        this.currentStep = 'preparing';
        break;
      case 'user_message':
        // The agent took its prompt: it runs.
        if (e.kind !== 'prompt' || this.currentStep !== 'preparing') return;
        this.currentStep = 'thinking';
        break;
      case 'tool_start':
        this.currentStep = toolSummary(e.tool, e.summary, 120);
        break;
      case 'tool_end':
        this.toolLines.push(`${toolSummary(e.tool, e.summary, 100)} ${e.isError ? '✗' : '✓'}`);
        if (this.toolLines.length > this.statusToolLines) this.toolLines.shift();
        this.currentStep = 'thinking';
        break;
      case 'assistant_text':
        this.currentStep = 'writing';
        break;
      case 'turn_end':
        this.currentStep = `turn ${e.turn} done`;
        break;
      case 'usage':
        this.tokensTotal = e.total;
        this.costUsd = e.costUsd;
        this.budgetUsd = e.budgetUsd ?? this.budgetUsd;
        break;
      case 'retry':
        this.note = `↻ retrying (${e.attempt}/${e.maxAttempts}) in ${Math.round(e.delayMs / 1000)}s: ${truncate(e.error, 120)}`;
        break;
      case 'retry_end':
        this.note = null;
        break;
      case 'compaction':
        this.note = e.phase === 'start' ? `🗜️ compacting context (${e.reason})` : null;
        break;
      case 'stop_requested':
        this.note = `🛑 stopping (requested by ${this.nameOf(e.by)})`;
        break;
      case 'playtest':
        this.note = playtestNote(e);
        break;
      case 'run_settled':
        this.state = e.status;
        this.durationMs = e.durationMs;
        this.tokensTotal = e.tokensTotal || this.tokensTotal;
        this.costUsd = e.costUsd || this.costUsd;
        this.note = null;
        break;
      default:
        return;
    }
    this.statusDirty = true;
  }
}
