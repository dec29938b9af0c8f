/**
 * The relay: run events → rendered output → outbox rows. For every run bound to a thread it
 * renders the events after the thread's cursor and writes the outbox rows in the same
 * transaction that advances the cursor, so a restart re-renders exactly what was not yet
 * written: nothing lost, nothing reordered, nothing posted twice (rows carry stable dedupe keys).
 * Status edits are paced to the platform's minimum edit interval; digests flush after a delay.
 */
import type { Logger } from 'pino';
import type { RunEvent } from '../../core/types.js';
import type { Store } from '../../store/index.js';
import type { ChatLimits } from './chat-types.js';
import { systemClock, type Clock } from './clock.js';
import { RunRenderer, type RenderOp, type RendererOptions } from './run-renderer.js';
import { splitMessage } from './split-message.js';

export interface RelayOptions {
  store: Store;
  /** Where run events come from (the RunManager). */
  source: { subscribe(listener: (event: RunEvent) => void): () => void };
  limits: ChatLimits;
  /** The team notification channel, or null for none. */
  notifyChannel: ChannelOrNull;
  logger: Logger;
  /** Called after rows were written to a lane (delivery kicks that lane). */
  onEnqueued: (threadKey: string) => void;
  /** Display names for actors (`discord:123` → `Ada`). */
  nameOf?: (actor: string | null) => string;
  clock?: Clock;
  /** Flush a digest this long after its first item (default 5,000 ms). */
  flushDelayMs?: number;
  renderer?: RendererOptions;
}

type ChannelOrNull = string | null;

interface Live {
  renderer: RunRenderer;
  threadKey: string;
  channel: string;
  statusOutboxId: number | null;
  lastStatusEditMs: number;
  statusTimer: unknown;
  flushTimer: unknown;
}

export class Relay {
  private readonly live = new Map<string, Live>();
  private unsubscribe: (() => void) | null = null;
  private readonly clock: Clock;
  private readonly flushDelayMs: number;
  private readonly nameOf: (actor: string | null) => string;

  constructor(private readonly opts: RelayOptions) {
    this.clock = opts.clock ?? systemClock;
    this.flushDelayMs = opts.flushDelayMs ?? 5000;
    this.nameOf = opts.nameOf ?? ((a) => a ?? 'the bot');
  }

  /** Subscribes to run events and catches every bound, unfinished run up from its cursor. */
  start(): void {
    if (this.unsubscribe) return;
    this.unsubscribe = this.opts.source.subscribe((event) => this.onEvent(event));
    for (const binding of this.opts.store.chatThreads.listUnfinished()) this.attach(binding.runId);
  }

  /** Writes buffered digests out, clears timers and stops listening. */
  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const [runId, live] of this.live) {
      this.guard(runId, () => this.flushDigest(runId, live));
      this.clock.clearTimeout(live.statusTimer);
      this.clock.clearTimeout(live.flushTimer);
    }
    this.live.clear();
  }

  /** Starts showing a bound run (after the controller bound it): renders everything after its cursor. */
  attach(runId: string): void {
    this.guard(runId, () => {
      const live = this.live.get(runId) ?? this.load(runId);
      if (live) this.pump(runId, live);
    });
  }

  private onEvent(event: RunEvent): void {
    const live = this.live.get(event.runId);
    if (live) {
      this.guard(event.runId, () => this.pump(event.runId, live, event));
    } else if (this.opts.store.chatThreads.binding(event.runId)) {
      this.attach(event.runId);
    }
  }

  private load(runId: string): Live | undefined {
    const { store } = this.opts;
    const binding = store.chatThreads.binding(runId);
    const thread = binding && store.chatThreads.getThread(binding.threadKey);
    const run = store.runs.get(runId);
    if (!binding || !thread || !run) return undefined;
    const renderer = new RunRenderer(runId, run.startedBy, this.opts.renderer, this.nameOf);
    // Rebuild the in-memory view silently up to the cursor: its output is already in the outbox.
    if (binding.renderedSeq > 0) {
      for (const e of store.events.list(runId, 0, binding.renderedSeq)) renderer.apply(e, this.clock.now());
      renderer.resetBuffer();
    }
    const live: Live = {
      renderer,
      threadKey: binding.threadKey,
      channel: thread.channel,
      statusOutboxId: binding.statusOutboxId,
      lastStatusEditMs: 0,
      statusTimer: null,
      flushTimer: null,
    };
    this.live.set(runId, live);
    return live;
  }

  /** Renders the events after the renderer's position, in one transaction with the cursor. */
  private pump(runId: string, live: Live, hint?: RunEvent): void {
    const { store } = this.opts;
    const r = live.renderer;
    const events = hint && hint.seq === r.seq + 1 ? [hint] : store.events.list(runId, r.seq);
    if (events.length === 0) return;
    const now = this.clock.now();
    let wrote = false;
    store.chatThreads.transaction(() => {
      for (const e of events) wrote = this.write(runId, live, r.apply(e, now)) || wrote;
      // After the end (playtest lines) there is nothing left to batch with: post at once.
      if (r.settled) wrote = this.write(runId, live, r.flush()) || wrote;
      store.chatThreads.advanceCursor(runId, r.safeSeq());
    });
    if (r.settled) {
      // The final status edit goes out at once, after the final result.
      this.clock.clearTimeout(live.flushTimer);
      this.clock.clearTimeout(live.statusTimer);
      live.flushTimer = live.statusTimer = null;
      wrote = this.editStatus(runId, live) || wrote;
    } else {
      this.scheduleFlush(runId, live);
      wrote = this.paceStatus(runId, live) || wrote;
    }
    if (wrote) this.opts.onEnqueued(live.threadKey);
  }

  private write(runId: string, live: Live, ops: RenderOp[]): boolean {
    const { store, limits, notifyChannel } = this.opts;
    const iso = new Date(this.clock.now()).toISOString();
    let wrote = false;
    for (const op of ops) {
      if (op.kind === 'status-create') {
        const { id } = store.outbox.enqueue(
          { threadKey: live.threadKey, runId, op: 'create', channel: live.channel, inThread: true, body: this.fit(op.body), dedupeKey: `status:${runId}` },
          iso,
        );
        if (live.statusOutboxId !== id) {
          live.statusOutboxId = id;
          store.chatThreads.setStatusMessage(runId, id);
        }
        live.lastStatusEditMs = this.clock.now();
        wrote = true;
      } else if (op.kind === 'post') {
        const parts = splitMessage(op.body, limits.maxMessageChars - limits.messageHeadroom);
        parts.forEach((body, i) => {
          const marked = parts.length > 1 ? `${body}\n(${i + 1}/${parts.length})` : body;
          store.outbox.enqueue(
            { threadKey: live.threadKey, runId, op: 'create', channel: live.channel, inThread: true, body: marked, dedupeKey: `${op.key}#${i + 1}` },
            iso,
          );
        });
        wrote = true;
      } else if (notifyChannel) {
        store.outbox.enqueue(
          { threadKey: live.threadKey, runId, op: 'create', channel: notifyChannel, inThread: false, linkThread: true, body: this.fit(op.body), dedupeKey: op.key },
          iso,
        );
        wrote = true;
      }
    }
    return wrote;
  }

  private scheduleFlush(runId: string, live: Live): void {
    const since = live.renderer.pendingSinceMs;
    if (since === null || live.flushTimer) return;
    const wait = Math.max(0, since + this.flushDelayMs - this.clock.now());
    live.flushTimer = this.clock.setTimeout(() => {
      live.flushTimer = null;
      this.guard(runId, () => {
        if (this.flushDigest(runId, live)) this.opts.onEnqueued(live.threadKey);
      });
    }, wait);
  }

  private flushDigest(runId: string, live: Live): boolean {
    const ops = live.renderer.flush();
    if (ops.length === 0) return false;
    this.opts.store.chatThreads.transaction(() => {
      this.write(runId, live, ops);
      this.opts.store.chatThreads.advanceCursor(runId, live.renderer.safeSeq());
    });
    return true;
  }

  /** Edits the status now if the interval allows, else once when it does. */
  private paceStatus(runId: string, live: Live): boolean {
    if (!live.renderer.statusChanged || live.statusTimer) return false;
    const due = live.lastStatusEditMs + this.opts.limits.minEditIntervalMs;
    if (this.clock.now() >= due) return this.editStatus(runId, live);
    live.statusTimer = this.clock.setTimeout(() => {
      live.statusTimer = null;
      this.guard(runId, () => {
        if (this.editStatus(runId, live)) this.opts.onEnqueued(live.threadKey);
      });
    }, due - this.clock.now());
    return false;
  }

  private editStatus(runId: string, live: Live): boolean {
    if (live.statusOutboxId === null || !live.renderer.statusChanged) return false;
    const now = this.clock.now();
    this.opts.store.outbox.enqueue(
      {
        threadKey: live.threadKey,
        runId,
        op: 'edit',
        channel: live.channel,
        inThread: true,
        targetId: live.statusOutboxId,
        body: this.fit(live.renderer.takeStatus(now)),
        dedupeKey: null,
      },
      new Date(now).toISOString(),
    );
    live.lastStatusEditMs = now;
    return true;
  }

  private fit(body: string): string {
    const max = this.opts.limits.maxMessageChars - this.opts.limits.messageHeadroom;
    return body.length <= max ? body : `${body.slice(0, max - 1)}…`;
  }

  private guard(runId: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      // The renderer may have moved past events whose rows were rolled back: forget it, so the
      // next event reloads it from the stored cursor and renders them again.
      this.opts.logger.error({ err, runId }, 'relay could not render run events; will re-render from the stored cursor');
      const live = this.live.get(runId);
      if (live) {
        this.clock.clearTimeout(live.statusTimer);
        this.clock.clearTimeout(live.flushTimer);
        this.live.delete(runId);
      }
    }
  }
}
