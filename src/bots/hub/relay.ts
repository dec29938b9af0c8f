/**
 * The relay: run events → rendered output → outbox rows. For every run bound to a thread it
 * renders the events after the thread's cursor and writes the outbox rows in the same
 * transaction that advances the cursor, so a restart re-renders exactly what was not yet
 * written: nothing lost, nothing reordered, nothing posted twice (rows carry stable dedupe keys).
 * Serves every platform of the process: a run's limits and team channel are those of its
 * thread's platform. Status edits are paced by `statusEditIntervalMs` (pacing.ts); digests flush
 * after a delay. Row priorities and streams say what may overtake what in delivery.
 */
import type { Logger } from 'pino';
import type { RunEvent } from '../../core/types.js';
import type { Store } from '../../store/index.js';
import type { ChatLimits } from './chat-types.js';
import { systemClock, type Clock } from './clock.js';
import { editStream, HEADER_REACTIONS, notifyStream, reactionStream } from './streams.js';
import { PRIORITY, statusEditIntervalMs } from './pacing.js';
import { RunRenderer, type RenderOp, type RendererOptions } from './run-renderer.js';
import { splitMessage } from './split-message.js';
import { enqueueUpload, uploadRow } from './uploads.js';

export interface RelayOptions {
  store: Store;
  /** Where run events come from (the RunManager). */
  source: { subscribe(listener: (event: RunEvent) => void): () => void };
  /** The limits of a platform's port. */
  limitsOf: (platform: string) => ChatLimits;
  /** The team notification channel of a platform, or null for none. */
  notifyChannelOf: (platform: string) => string | null;
  logger: Logger;
  /** Called after rows were written to a stream (delivery kicks that stream). */
  onEnqueued: (threadKey: string) => void;
  /** Display names for actors (`discord:123` → `Ada`). */
  nameOf?: (actor: string | null) => string;
  clock?: Clock;
  /** Flush a digest this long after its first item (default 5,000 ms). */
  flushDelayMs?: number;
  /** After a failed render (the database refused the transaction), render again this late (default 1,000 ms). */
  retryMs?: number;
  renderer?: RendererOptions;
}

interface Live {
  renderer: RunRenderer;
  threadKey: string;
  platform: string;
  limits: ChatLimits;
  channel: string;
  statusOutboxId: number | null;
  lastStatusEditMs: number;
  statusTimer: unknown;
  flushTimer: unknown;
}

export class Relay {
  private readonly live = new Map<string, Live>();
  /** Runs whose last render failed, with the timer that renders them again. */
  private readonly retries = new Map<string, unknown>();
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
    for (const timer of this.retries.values()) this.clock.clearTimeout(timer);
    this.retries.clear();
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
      platform: thread.platform,
      limits: this.opts.limitsOf(thread.platform),
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
    if (r.settled && events.some((e) => e.type === 'run_settled')) {
      // The final status edit goes out at once, after the final result. Later changes (a playtest's
      // phases and output after the run) are paced like a running run's.
      this.clock.clearTimeout(live.flushTimer);
      this.clock.clearTimeout(live.statusTimer);
      live.flushTimer = live.statusTimer = null;
      wrote = this.editStatus(runId, live) || wrote;
    } else {
      if (!r.settled) this.scheduleFlush(runId, live);
      wrote = this.paceStatus(runId, live) || wrote;
    }
    if (wrote) this.kickAll(live);
  }

  /** Kicks every stream a run's rows may be in (kicks are cheap; an empty stream returns at once). */
  private kickAll(live: Live): void {
    this.opts.onEnqueued(live.threadKey);
    if (live.statusOutboxId !== null) this.opts.onEnqueued(editStream(live.statusOutboxId));
    const notify = this.opts.notifyChannelOf(live.platform);
    if (notify) this.opts.onEnqueued(notifyStream(notify));
    const header = this.opts.store.chatThreads.getThread(live.threadKey)?.headerOutboxId;
    if (header) this.opts.onEnqueued(reactionStream(header));
  }

  private write(runId: string, live: Live, ops: RenderOp[]): boolean {
    const { store } = this.opts;
    const { limits } = live;
    const iso = new Date(this.clock.now()).toISOString();
    let wrote = false;
    for (const op of ops) {
      if (op.kind === 'status-create') {
        const { id } = store.outbox.enqueue(
          { threadKey: live.threadKey, runId, op: 'create', channel: live.channel, inThread: true, body: this.fit(live, op.body), dedupeKey: `status:${runId}`, priority: PRIORITY.status },
          iso,
        );
        if (live.statusOutboxId !== id) {
          live.statusOutboxId = id;
          store.chatThreads.setStatusMessage(runId, id);
        }
        live.lastStatusEditMs = this.clock.now();
        this.addControls(runId, live, id, iso);
        wrote = true;
      } else if (op.kind === 'post') {
        const parts = splitMessage(op.body, limits.maxMessageChars - limits.messageHeadroom);
        parts.forEach((body, i) => {
          const marked = parts.length > 1 ? `${body}\n(${i + 1}/${parts.length})` : body;
          store.outbox.enqueue(
            {
              threadKey: live.threadKey,
              runId,
              op: 'create',
              channel: live.channel,
              inThread: true,
              body: marked,
              dedupeKey: `${op.key}#${i + 1}`,
              priority: op.final ? PRIORITY.reply : PRIORITY.digest,
              mergeable: !op.final,
            },
            iso,
          );
        });
        wrote = true;
      } else if (op.kind === 'upload') {
        enqueueUpload(store, { threadKey: live.threadKey, runId, channel: live.channel }, uploadRow(op.body, op.media, limits), op.key, (b) => this.fit(live, b), iso);
        wrote = true;
      } else {
        const notify = this.opts.notifyChannelOf(live.platform);
        if (!notify) continue;
        store.outbox.enqueue(
          {
            threadKey: live.threadKey,
            runId,
            op: 'create',
            channel: notify,
            inThread: false,
            linkThread: true,
            body: this.fit(live, op.body),
            dedupeKey: op.key,
            stream: notifyStream(notify),
            priority: PRIORITY.notify,
            // With its link: after the run's thread is open (or could not be).
            afterId: store.outbox.threadOpId(live.threadKey) ?? null,
          },
          iso,
        );
        wrote = true;
      }
    }
    return wrote;
  }

  /**
   * The control reactions on a new thread's header, where the platform wants them: after the
   * run's first content (its status message), at the lowest priority, on the reactions' own budget.
   */
  private addControls(runId: string, live: Live, statusId: number, iso: string): void {
    if (!live.limits.controlReactions || live.threadKey !== runId) return;
    const header = this.opts.store.chatThreads.getThread(live.threadKey)?.headerOutboxId;
    if (!header) return;
    for (const emoji of HEADER_REACTIONS) {
      this.opts.store.outbox.enqueue(
        {
          threadKey: live.threadKey,
          runId,
          op: 'react',
          channel: live.channel,
          inThread: false,
          targetId: header,
          body: emoji,
          dedupeKey: `react:${header}:${emoji}`,
          stream: reactionStream(header),
          priority: PRIORITY.affordance,
          afterId: statusId,
        },
        iso,
      );
    }
  }

  private scheduleFlush(runId: string, live: Live): void {
    const since = live.renderer.pendingSinceMs;
    if (since === null || live.flushTimer) return;
    const wait = Math.max(0, since + this.flushDelayMs - this.clock.now());
    live.flushTimer = this.clock.setTimeout(() => {
      live.flushTimer = null;
      this.guard(runId, () => {
        if (this.flushDigest(runId, live)) this.kickAll(live);
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
    const due = live.lastStatusEditMs + statusEditIntervalMs(live.limits, this.liveRunsOn(live.platform));
    if (this.clock.now() >= due) return this.editStatus(runId, live);
    live.statusTimer = this.clock.setTimeout(() => {
      live.statusTimer = null;
      this.guard(runId, () => {
        if (this.editStatus(runId, live)) this.kickAll(live);
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
        body: this.fit(live, live.renderer.takeStatus(now)),
        dedupeKey: null,
        stream: editStream(live.statusOutboxId),
        priority: PRIORITY.status,
      },
      new Date(now).toISOString(),
    );
    live.lastStatusEditMs = now;
    return true;
  }

  /** Runs of a platform being shown now (they share its edit tier). */
  private liveRunsOn(platform: string): number {
    let n = 0;
    for (const live of this.live.values()) if (live.platform === platform && !live.renderer.settled) n++;
    return n;
  }

  private fit(live: Live, body: string): string {
    const max = live.limits.maxMessageChars - live.limits.messageHeadroom;
    return body.length <= max ? body : `${body.slice(0, max - 1)}…`;
  }

  private guard(runId: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      // The renderer may have moved past events whose rows were rolled back: forget it, so it is
      // reloaded from the stored cursor and renders them again: at the next event, or shortly
      // (the failed events may have been the run's last).
      this.opts.logger.error({ err, runId }, 'relay could not render run events; will re-render from the stored cursor');
      const live = this.live.get(runId);
      if (live) {
        this.clock.clearTimeout(live.statusTimer);
        this.clock.clearTimeout(live.flushTimer);
        this.live.delete(runId);
      }
      if (this.unsubscribe && !this.retries.has(runId)) {
        const timer = this.clock.setTimeout(() => {
          this.retries.delete(runId);
          if (this.unsubscribe) this.attach(runId);
        }, this.opts.retryMs ?? 1000);
        this.retries.set(runId, timer);
      }
    }
  }
}
