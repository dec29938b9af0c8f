/**
 * The chat hub: one controller, one relay and one delivery per process, over the receivers of
 * every platform it serves (Discord, Slack, the console), keyed by platform. A receiver is
 * transport only: it connects, translates payloads into `ChatEvent`s for the hub, and owns its
 * platform's `ChatPort`; everything else (dedupe, authorization, runs, rendering, the outbox,
 * pacing) happens here once for all platforms. Rows and threads carry their platform, so the
 * relay and delivery pick the right port and limits for each.
 *
 *   const hub = new ChatHub({ store, manager, auth, logger });
 *   await hub.start([new DiscordReceiver(…), await SlackReceiver.connect(…)]);
 *   await hub.done;      // a receiver ended by itself, or: await hub.stop();
 */
import type { Logger } from 'pino';
import type { AuthConfig } from '../../config.js';
import type { RunEvent } from '../../core/types.js';
import type { Store } from '../../store/index.js';
import { catchUp, type CatchUpReport } from './catch-up.js';
import type { CatchUpThread, ChannelRef, ChatEvent, ChatLimits, ChatPort, ChatUser, PaceRead, ThreadBacklog, ThreadRef } from './chat-types.js';
import { systemClock, type Clock } from './clock.js';
import { ChatController, type RunControl } from './controller.js';
import { Delivery } from './delivery.js';
import { InboundWork } from './inbound-work.js';
import { Pacer, type RetryOptions } from './pacing.js';
import { Relay } from './relay.js';
import type { RendererOptions } from './run-renderer.js';

/** How many recent runs are looked at for threads still in use. */
const RECENT_RUNS = 50;

/** How long inbound event ids are kept for dedupe. */
const INBOUND_DEDUPE_KEEP_MS = 7 * 24 * 60 * 60 * 1000;

/** What a receiver hands its events to. */
export interface EventSink {
  /**
   * Runs an adapter's work for one inbound payload in the background (fetching partials, name
   * lookups, then `handle`): caught and logged, and awaited by shutdown and `idle()`. Work that
   * arrives while the hub stops is dropped with a log line.
   */
  track(kind: string, work: () => Promise<void>): void;
  /** Handles one translated event; never rejects. */
  handle(event: ChatEvent): Promise<void>;
  /** Card suggestions for autocomplete, for `user` (none for someone who may not use the bot). */
  autocompleteCards(query: string, user: ChatUser): { value: string; label: string }[];
  /**
   * The platform's thread refs that runs still use: active runs, and recent interrupted ones
   * that a reply may refine (a restarted Discord bot joins them again).
   */
  threadsInUse(platform: string): ThreadRef[];
}

/** A platform's transport, in the sense of Bolt's receivers: start, stop, events in, a port out. */
export interface Receiver {
  /** `discord`, `slack`, `console`: the platform of its events and refs. */
  readonly platform: string;
  readonly port: ChatPort;
  /** The team channel for run started / settled lines on this platform, or null. */
  readonly notifyChannel: ChannelRef | null;
  /** Connects and passes every event to `sink` from then on; rejects when the platform refuses. */
  start(sink: EventSink): Promise<void>;
  /** Stops taking events and disconnects (the hub has finished the events in hand). */
  stop(): Promise<void>;
  /** Resolves when the receiver ends by itself (Discord invalidated the session, the console quit). */
  readonly done: Promise<void>;
  /**
   * Reads back what happened in `threads` while the bot was down (src/bots/hub/catch-up.ts):
   * messages after `after` and the control reactions on the header, translated as live events
   * would be, each read through `pace`. Returns the threads it read in full (a failed one is
   * logged and left out). Absent where the platform keeps no history (the console).
   */
  catchUp?(threads: CatchUpThread[], pace: PaceRead): Promise<ThreadBacklog[]>;
}

export interface HubOptions {
  store: Store;
  /** The RunManager. */
  manager: RunControl & { subscribe(listener: (event: RunEvent) => void): () => void };
  auth: AuthConfig;
  logger: Logger;
  clock?: Clock;
  /** Digest flush delay (default 5,000 ms). */
  flushDelayMs?: number;
  renderer?: RendererOptions;
  delivery?: RetryOptions;
  /** How long a `/run` answer waits for the thread link (default 10 s). */
  threadLinkWaitMs?: number;
  /**
   * Replaces known secrets in what is said to people directly (command answers, whispers), which
   * does not pass the store's redaction. Default: unchanged.
   */
  redact?: (text: string) => string;
}

export class ChatHub {
  readonly controller: ChatController;
  readonly relay: Relay;
  readonly delivery: Delivery;
  /** Resolves with the platform of the first receiver that ended by itself. */
  readonly done: Promise<string>;
  private resolveDone!: (platform: string) => void;
  private readonly receivers = new Map<string, Receiver>();
  private readonly inbound: InboundWork;
  /** Paces catch-up's history reads (apart from delivery's budgets: they are other methods). */
  private readonly reads = new Pacer();
  private readonly logger: Logger;
  private readonly clock: Clock;
  private stopping: Promise<void> | null = null;

  constructor(private readonly opts: HubOptions) {
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger.child({ component: 'hub' });
    this.inbound = new InboundWork(this.logger);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    const portOf = (platform: string) => this.receivers.get(platform)?.port;
    const limitsOf = (platform: string): ChatLimits => {
      const port = portOf(platform);
      if (!port) throw new Error(`no ${platform} receiver in this process`);
      return port.limits;
    };
    const names = new Map<string, string>();
    this.delivery = new Delivery({ store: opts.store, portOf, logger: this.logger.child({ part: 'delivery' }), clock: this.clock, redact: opts.redact, ...opts.delivery });
    this.relay = new Relay({
      store: opts.store,
      source: opts.manager,
      limitsOf,
      notifyChannelOf: (platform) => this.receivers.get(platform)?.notifyChannel ?? null,
      logger: this.logger.child({ part: 'relay' }),
      onEnqueued: (stream) => this.delivery.kick(stream),
      nameOf: (actor) => (actor ? (names.get(actor) ?? actor.replace(/^[a-z]+:/, '')) : 'the bot'),
      clock: this.clock,
      flushDelayMs: opts.flushDelayMs,
      renderer: opts.renderer,
    });
    this.controller = new ChatController({
      store: opts.store,
      manager: opts.manager,
      portOf,
      limitsOf,
      relay: this.relay,
      delivery: this.delivery,
      auth: opts.auth,
      logger: this.logger,
      names,
      clock: this.clock,
      threadLinkWaitMs: opts.threadLinkWaitMs,
    });
  }

  /**
   * Starts every receiver, then the relay and delivery (which resend what a previous process
   * left in the outbox and catch every bound run up). If a receiver fails to start, the ones
   * already started are stopped and the error is thrown.
   */
  async start(receivers: Receiver[]): Promise<void> {
    for (const r of receivers) {
      if (this.receivers.has(r.platform)) throw new Error(`two ${r.platform} receivers in one hub`);
      this.receivers.set(r.platform, r);
    }
    this.inbound.open();
    const sink: EventSink = {
      track: (kind, work) => this.inbound.track(kind, work),
      handle: (event) => this.handle(event),
      autocompleteCards: (q, user) => this.controller.autocompleteCards(q, user),
      threadsInUse: (platform) => this.threadsInUse(platform),
    };
    const started: Receiver[] = [];
    try {
      for (const r of receivers) {
        await r.start(sink);
        started.push(r);
        void r.done.then(() => this.resolveDone(r.platform));
      }
    } catch (err) {
      await this.inbound.close();
      await Promise.allSettled(started.map((r) => r.stop()));
      throw err;
    }
    // Platforms redeliver within minutes (Slack retries for about an hour); a week of dedupe
    // keys is plenty, and the table stays small.
    const weekAgo = new Date(this.clock.now() - INBOUND_DEDUPE_KEEP_MS).toISOString();
    const pruned = this.opts.store.inbound.prune(weekAgo);
    if (pruned > 0) this.logger.info({ pruned }, 'pruned old inbound dedupe keys');
    this.delivery.start();
    this.relay.start();
    this.logger.info({ platforms: [...this.receivers.keys()] }, 'chat hub started');
  }

  /**
   * Reads back the replies and reactions missed while the bot was down in the threads of recent
   * runs and handles each once (catch-up.ts). Call after `start` and after the run queue resumed,
   * so a missed reply to a resumed run steers it. Tracked like inbound work: shutdown waits for it.
   */
  catchUp(): Promise<CatchUpReport | null> {
    return new Promise((resolve) => {
      let report: CatchUpReport | null = null;
      let ran = false;
      this.inbound.track('catch-up', async () => {
        ran = true;
        try {
          report = await catchUp({
            store: this.opts.store,
            receivers: [...this.receivers.values()],
            handle: (event) => this.handle(event),
            pacer: this.reads,
            logger: this.logger.child({ part: 'catch-up' }),
            clock: this.clock,
            stopping: () => this.stopping !== null,
          });
        } finally {
          resolve(report);
        }
      });
      // Not taken (the hub is stopping or not started): nothing to wait for.
      if (!ran) resolve(null);
    });
  }

  private threadsInUse(platform: string): ThreadRef[] {
    const { store, manager } = this.opts;
    const refs = new Set<string>();
    const add = (t: { platform: string; thread: string | null } | undefined) => {
      if (t?.platform === platform && t.thread) refs.add(t.thread);
    };
    for (const binding of store.chatThreads.listUnfinished()) add(store.chatThreads.getThread(binding.threadKey));
    for (const run of manager.list(RECENT_RUNS)) {
      if (run.status === 'running' || run.status === 'interrupted') add(store.chatThreads.threadOfRun(run.id));
    }
    return [...refs];
  }

  /** Handles one event as if a receiver had passed it (the console, tests). */
  handle(event: ChatEvent): Promise<void> {
    const redact = this.opts.redact;
    if (redact && event.kind === 'command') {
      const respond = event.respond;
      return this.controller.handle({ ...event, respond: (text) => respond(redact(text)) });
    }
    return this.controller.handle(event);
  }

  autocompleteCards(query: string, user: ChatUser): { value: string; label: string }[] {
    return this.controller.autocompleteCards(query, user);
  }

  /** Resolves when every inbound event received so far is handled and the outbox is empty. */
  async idle(): Promise<void> {
    await this.inbound.settled();
    await this.controller.idle();
    await this.delivery.drain();
  }

  /** Stops taking events and finishes the ones in hand (a shutdown's first step; `stop` follows). */
  async pause(): Promise<void> {
    await this.inbound.close();
    await this.controller.idle();
  }

  /**
   * Stops taking events, finishes the ones in hand, writes buffered output to the outbox, stops
   * sending (pending rows stay for the next start) and disconnects every receiver.
   */
  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      await this.reads.stop();
      await this.inbound.close();
      await this.controller.idle();
      this.relay.stop();
      await this.delivery.stop();
      const results = await Promise.allSettled([...this.receivers.values()].map((r) => r.stop()));
      for (const r of results) if (r.status === 'rejected') this.logger.warn({ err: r.reason }, 'a receiver did not stop cleanly');
    })());
  }
}
