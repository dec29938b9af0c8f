/**
 * Delivery: the only code that calls a `ChatPort` for what the outbox holds, for every platform
 * of the process (the port is chosen by the platform of the row's thread). It sends each stream
 * (a thread's content, one message's edits, one message's reactions, a notification channel)
 * one row at a time in id order, and the streams side by side; each request waits for its budget
 * in the pacer (`pacing.ts`), which also decides who goes first where streams share a budget.
 *
 * A row is marked `inflight` in a committed transaction before the call and `sent` with the
 * platform's message id after. A row is claimed only once its budget allows, so digests that
 * queued meanwhile are merged into it (the backlog shrinks as it grows). Rate limits reschedule
 * the row without blocking other streams; transient errors (an outage) back off and try again,
 * as long as it takes; a permanent refusal makes the row `dead` at once, with one visible note.
 * A create that may have reached the platform before (a lost answer, a crash while in flight) is
 * sent again with the same nonce and `mayExist`, so the port finds it instead of posting twice.
 * A failed local write (a busy database) after the platform took the request is retried as a
 * local error: what the platform has is recorded, never reported as failed nor sent again. An
 * edit of a message the platform finds too old to edit posts the text as a new message, which
 * later edits target. Status edits are last-writer-wins.
 */
import type { Logger } from 'pino';
import { errorText } from '../../core/errors.js';
import type { Store } from '../../store/index.js';
import type { ClaimedRow, OutboxRow } from '../../store/outbox-repo.js';
import type { ChatPort } from './chat-types.js';
import { systemClock, type Clock } from './clock.js';
import { LocalRetry } from './local-retry.js';
import { Pacer, PRIORITY, retryDecision, type Destination, type RequestKind, type RetryOptions } from './pacing.js';
import { sendUpload } from './uploads.js';

/** How soon a stream whose job threw (not a platform error: e.g. a busy database) is tried again. */
const STREAM_RETRY_MS = 1000;
/** A stream whose platform has no port in this process (not configured now) looks again this late. */
const NO_PORT_RETRY_MS = 60_000;

export interface DeliveryOptions extends RetryOptions {
  store: Store;
  /** Known secrets out of whispers (outbox rows are redacted by the store). */
  redact?: (text: string) => string;
  /** The port of a platform, or undefined when this process does not serve it. */
  portOf: (platform: string) => ChatPort | undefined;
  logger: Logger;
  clock?: Clock;
  /** How soon a failed local write after a platform call is tried again (default 1,000 ms). */
  localRetryMs?: number;
}

type Outcome = 'sent' | 'failed' | 'wait' | 'empty' | 'stopped';

/** What one claimed row's request came to, before it is written down. */
type Attempt =
  | { kind: 'done'; row: ClaimedRow; record: () => void }
  | { kind: 'error'; row: ClaimedRow; err: unknown }
  | { kind: 'none'; outcome: Outcome };

/** A deterministic create nonce (≤ 25 chars): the same row always sends the same nonce. */
export function outboxNonce(threadKey: string, id: number): string {
  return `${threadKey.replace(/[^A-Za-z0-9]/g, '').slice(0, 12)}-${id.toString(36)}`;
}

function requestKind(op: OutboxRow['op']): RequestKind {
  return op === 'create' ? 'post' : op === 'react' ? 'reaction' : op;
}

export class Delivery {
  private readonly pacer = new Pacer();
  private readonly clock: Clock;
  private readonly busy = new Set<string>();
  private readonly again = new Set<string>();
  private readonly timers = new Map<string, { at: number; handle: unknown }>();
  private readonly running = new Set<Promise<void>>();
  private waiters: { check: () => boolean; resolve: () => void }[] = [];
  /** Records what the platform answered, through a busy database. */
  private readonly local: LocalRetry;
  private started = false;
  private stopped = false;

  constructor(private readonly opts: DeliveryOptions) {
    this.clock = opts.clock ?? systemClock;
    this.local = new LocalRetry(this.clock, opts.logger, opts.localRetryMs);
  }

  /** Reclaims rows a crash left in flight (their creates resend with the same nonce) and starts every stream with work. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const reclaimed = this.opts.store.outbox.reclaimInflight(this.iso());
    if (reclaimed > 0) this.opts.logger.warn({ reclaimed }, 'resending outbox rows that were in flight when the bot stopped');
    for (const stream of this.opts.store.outbox.pendingStreams()) this.kick(stream);
  }

  /** Stops sending: waits for the requests in flight; pending rows stay in the outbox for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) this.clock.clearTimeout(t.handle);
    this.timers.clear();
    this.local.stop();
    await this.pacer.stop();
    await Promise.all([...this.running]);
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
  }

  /** Says a stream has new rows. Cheap and idempotent: call it after every enqueue. */
  kick(stream: string): void {
    if (this.stopped || !this.started) return;
    if (this.busy.has(stream)) {
      this.again.add(stream);
      return;
    }
    this.busy.add(stream);
    const job = this.sendNext(stream)
      .catch((err: unknown): Outcome => {
        if (this.stopped) return 'stopped';
        // E.g. the database was busy: try the stream again shortly instead of leaving it asleep.
        this.opts.logger.error({ err, stream }, 'delivery stream failed; retrying');
        this.wakeAt(stream, this.clock.now() + STREAM_RETRY_MS);
        return 'wait';
      })
      .then((outcome) => {
        this.busy.delete(stream);
        const more = this.again.delete(stream);
        if (outcome === 'sent' || outcome === 'failed' || (more && outcome !== 'stopped')) this.kick(stream);
        this.settleWaiters();
      })
      .catch((err: unknown) => this.opts.logger.error({ err, stream }, 'delivery bookkeeping failed'));
    const tracked = job.finally(() => this.running.delete(tracked));
    this.running.add(tracked);
  }

  /**
   * Says `text` to one person only (`ChatPort.whisper`), paced like a post and ahead of digests.
   * Best effort: ephemeral messages are not stored, so a failure is logged and dropped.
   */
  async whisper(port: ChatPort, channel: string, thread: string | null, user: string, text: string): Promise<void> {
    if (!port.whisper || this.stopped) return;
    const dest: Destination = { platform: port.platform, limits: port.limits, kind: 'post', channel, thread };
    try {
      const said = this.opts.redact ? this.opts.redact(text) : text;
      await this.pacer.schedule(dest, PRIORITY.reply, () => port.whisper!(channel, thread, user, said));
    } catch (err) {
      this.opts.logger.warn({ err, channel }, 'could not whisper to a user');
    }
  }

  /** Resolves once nothing is pending or in flight (rate-limited rows included). */
  drain(): Promise<void> {
    for (const stream of this.opts.store.outbox.pendingStreams()) this.kick(stream);
    return this.until(() => this.opts.store.outbox.countUnfinished() === 0 && this.busy.size === 0);
  }

  /** Resolves with the row once it is sent, dead or superseded. */
  async waitFor(id: number): Promise<OutboxRow | undefined> {
    const done = () => {
      const row = this.opts.store.outbox.get(id);
      return !row || (row.status !== 'pending' && row.status !== 'inflight');
    };
    await this.until(done);
    return this.opts.store.outbox.get(id);
  }

  private until(check: () => boolean): Promise<void> {
    if (check() || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ check, resolve }));
  }

  private settleWaiters(): void {
    const keep: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.check()) w.resolve();
      else keep.push(w);
    }
    this.waiters = keep;
  }

  /** Looks at the stream's head, waits for its budget, then claims (merging waiting digests) and sends. */
  private async sendNext(stream: string): Promise<Outcome> {
    if (this.stopped) return 'stopped';
    const { store } = this.opts;
    const head = store.outbox.peekNext(stream, this.clock.now(), this.iso());
    if (head.kind === 'empty' || head.kind === 'blocked') return 'empty';
    if (head.kind === 'wait') {
      this.wakeAt(stream, head.until);
      return 'wait';
    }
    const port = this.opts.portOf(head.row.platform);
    if (!port) {
      this.opts.logger.warn({ stream, platform: head.row.platform }, 'outbox rows for a platform this process does not serve; they wait');
      this.wakeAt(stream, this.clock.now() + NO_PORT_RETRY_MS);
      return 'wait';
    }
    const upload = head.row.op === 'create' && store.uploads.filesOf(head.row.id) !== undefined;
    const dest: Destination = { platform: port.platform, limits: port.limits, kind: upload ? 'upload' : requestKind(head.row.op), channel: head.row.channel, thread: head.row.inThread ? head.row.thread : null };
    // The head goes at the most urgent priority waiting behind it (order within a stream is kept).
    const priority = Math.min(head.row.priority, store.outbox.streamPriority(stream) ?? head.row.priority);
    const attempt = await this.pacer.schedule(dest, priority, async (): Promise<Attempt> => {
      if (this.stopped) return { kind: 'none', outcome: 'stopped' };
      const mergeLimit = port.limits.maxMessageChars - port.limits.messageHeadroom;
      const claim = store.outbox.claimNext(stream, this.clock.now(), this.iso(), mergeLimit);
      if (claim.kind === 'empty' || claim.kind === 'blocked') return { kind: 'none', outcome: 'empty' };
      if (claim.kind === 'wait') {
        this.wakeAt(stream, claim.until);
        return { kind: 'none', outcome: 'wait' };
      }
      try {
        return { kind: 'done', row: claim.row, record: await this.send(port, claim.row) };
      } catch (err) {
        return { kind: 'error', row: claim.row, err };
      }
    });
    if (attempt.kind === 'none') return attempt.outcome;
    // The platform has answered: what it said is written down even if the database is busy now.
    if (attempt.kind === 'done') {
      if (!(await this.local.run({ outboxId: attempt.row.id }, attempt.record))) return 'stopped';
      this.afterDone(attempt.row.id);
      return 'sent';
    }
    if (!(await this.local.run({ outboxId: attempt.row.id }, () => this.fail(port, attempt.row, attempt.err)))) return 'stopped';
    return 'failed';
  }

  /**
   * Sends one claimed row; resolves with the write that records the platform's answer (made by
   * the caller, so a failing database is never mistaken for a failing platform).
   */
  private async send(port: ChatPort, row: ClaimedRow): Promise<() => void> {
    const { store } = this.opts;
    const now = () => this.iso();
    switch (row.op) {
      case 'create': {
        let body = row.body;
        if (row.linkThread) {
          const t = store.chatThreads.getThread(row.threadKey);
          const link = t?.thread ? port.permalink?.(t.channel, t.thread, null) : null;
          if (link) body = `${body} · ${link}`;
        }
        const files = store.uploads.filesOf(row.id);
        if (files) {
          const thread = row.inThread ? row.thread : null;
          const sent = await sendUpload(port, row.channel, thread, files, body, { nonce: outboxNonce(row.threadKey, row.id), mayExist: row.attempts > 1 });
          return () => store.outbox.markSent(row.id, sent, now());
        }
        const ref = await this.post(port, row, body);
        return () => store.outbox.markSent(row.id, ref, now());
      }
      case 'edit':
        try {
          await port.edit(row.targetMsg!, row.body);
        } catch (err) {
          if (port.classifyError(err).kind !== 'stale_edit' || row.targetId === null) throw err;
          // Too old to edit (Discord 30046): the text becomes a new message, edited from now on.
          const ref = await this.post(port, row, row.body);
          this.opts.logger.info({ outboxId: row.id, target: row.targetId, ref }, 'message too old to edit; posted it anew and edits go there now');
          return () => store.outbox.markReposted(row.id, row.targetId!, ref, now());
        }
        return () => store.outbox.markSent(row.id, null, now());
      case 'react':
        await port.react(row.targetMsg!, row.body);
        return () => store.outbox.markSent(row.id, null, now());
      case 'thread': {
        const name = row.body.slice(0, port.limits.maxThreadNameChars);
        const thread = await port.createThread(row.channel, row.targetMsg!, name);
        return () => store.outbox.markThreadCreated(row.id, row.threadKey, thread, now());
      }
    }
  }

  /** A create of a row, with its nonce; `mayExist` once an earlier attempt may have reached the platform. */
  private post(port: ChatPort, row: ClaimedRow, body: string): Promise<string> {
    return port.post(row.channel, row.inThread ? row.thread : null, body, { nonce: outboxNonce(row.threadKey, row.id), mayExist: row.attempts > 1 });
  }

  /** Rows of other streams that waited for this one (its target, or after it) may go now. */
  private afterDone(id: number): void {
    for (const stream of this.opts.store.outbox.dependentStreams(id)) this.kick(stream);
  }

  private fail(port: ChatPort, row: ClaimedRow, err: unknown): void {
    const { store, logger } = this.opts;
    const log = logger.child({ outboxId: row.id, stream: row.stream, op: row.op, attempts: row.attempts });
    const decision = retryDecision(port.classifyError(err), row.attempts, this.opts);
    if (decision.retry) {
      if (decision.countsAsAttempt) log.warn({ err, waitMs: decision.waitMs }, 'transient delivery error; retrying');
      else log.warn({ retryAfterMs: decision.waitMs }, 'rate limited; rescheduled');
      const why = decision.countsAsAttempt ? errorText(err) : `rate limited: retry after ${decision.waitMs} ms`;
      store.outbox.reschedule(row.id, this.clock.now() + decision.waitMs, why, decision.countsAsAttempt, this.iso());
      return;
    }
    log.error({ err, reason: decision.reason }, 'delivery failed; row is dead');
    store.outbox.markDead(row.id, decision.reason, this.iso());
    this.noteFailure(row, decision.reason);
    this.afterDone(row.id);
  }

  /** Says visibly that something could not be delivered (never for a note itself or a reaction). */
  private noteFailure(row: ClaimedRow, reason: string): void {
    if (row.op === 'react' || row.dedupeKey?.startsWith('delivery-failed:')) return;
    const files = this.opts.store.uploads.filesOf(row.id);
    const what =
      row.op === 'thread'
        ? 'the thread for this run could not be opened'
        : files
          ? `the playtest files could not be posted; they are kept at ${files.map((f) => f.path).join(', ')}`
          : `a ${row.op === 'edit' ? 'status update' : 'message'} could not be delivered`;
    const t = this.opts.store.chatThreads.getThread(row.threadKey);
    const inThread = row.op !== 'thread' && Boolean(t?.thread);
    this.opts.store.outbox.enqueue(
      {
        threadKey: row.threadKey,
        runId: row.runId,
        op: 'create',
        channel: t?.channel ?? row.channel,
        inThread,
        body: `⚠️ Delivery failed: ${what} (${reason.slice(0, 300)}).`,
        dedupeKey: `delivery-failed:${row.id}`,
        priority: PRIORITY.reply,
      },
      this.iso(),
    );
    this.kick(row.threadKey);
  }

  private wakeAt(stream: string, at: number): void {
    const existing = this.timers.get(stream);
    if (existing && existing.at <= at) return;
    if (existing) this.clock.clearTimeout(existing.handle);
    const handle = this.clock.setTimeout(() => {
      this.timers.delete(stream);
      this.kick(stream);
    }, Math.max(0, at - this.clock.now()));
    this.timers.set(stream, { at, handle });
  }

  private iso(): string {
    return new Date(this.clock.now()).toISOString();
  }
}
