/**
 * Wires the chat layer for one platform: relay (run events → outbox), delivery (outbox → port)
 * and the controller (events in). An adapter builds a `ChatPort`, calls `createChatBot`, then
 * `start()`, and passes every translated `ChatEvent` to `handle`.
 */
import type { Logger } from 'pino';
import type { AuthConfig } from '../../config.js';
import type { RunEvent } from '../../core/types.js';
import type { Store } from '../../store/index.js';
import type { ChannelRef, ChatEvent, ChatPort } from './chat-types.js';
import { systemClock, type Clock } from './clock.js';
import { ChatController, type RunControl } from './controller.js';
import { Delivery } from './delivery.js';
import { Relay } from './relay.js';
import type { RendererOptions } from './run-renderer.js';

/** How long inbound event ids are kept for dedupe. */
const INBOUND_DEDUPE_KEEP_MS = 7 * 24 * 60 * 60 * 1000;

export interface ChatBotOptions {
  store: Store;
  /** The RunManager. */
  runs: RunControl & { subscribe(listener: (event: RunEvent) => void): () => void };
  port: ChatPort;
  auth: AuthConfig;
  logger: Logger;
  /** The team channel for run started / settled lines, or null. */
  notifyChannel?: ChannelRef | null;
  clock?: Clock;
  /** Digest flush delay (default 5,000 ms). */
  flushDelayMs?: number;
  renderer?: RendererOptions;
  delivery?: { maxAttempts?: number; backoffBaseMs?: number; backoffMaxMs?: number };
  threadLinkWaitMs?: number;
}

export interface ChatBot {
  readonly controller: ChatController;
  readonly relay: Relay;
  readonly delivery: Delivery;
  /** Resends what a previous process left in the outbox and catches every bound run up. */
  start(): void;
  /** Handles one inbound event; never rejects. */
  handle(event: ChatEvent): Promise<void>;
  autocompleteCards(query: string): { value: string; label: string }[];
  /** Resolves when inbound work is done and the outbox is empty. */
  idle(): Promise<void>;
  /** Finishes inbound work, writes buffered output to the outbox, stops sending. */
  stop(): Promise<void>;
}

export function createChatBot(opts: ChatBotOptions): ChatBot {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger.child({ component: 'chat', platform: opts.port.platform });
  const names = new Map<string, string>();
  const delivery = new Delivery({ store: opts.store, port: opts.port, logger: logger.child({ part: 'delivery' }), clock, ...opts.delivery });
  const relay = new Relay({
    store: opts.store,
    source: opts.runs,
    limits: opts.port.limits,
    notifyChannel: opts.notifyChannel ?? null,
    logger: logger.child({ part: 'relay' }),
    onEnqueued: (k) => delivery.kick(k),
    nameOf: (actor) => (actor ? (names.get(actor) ?? actor.replace(/^[a-z]+:/, '')) : 'the bot'),
    clock,
    flushDelayMs: opts.flushDelayMs,
    renderer: opts.renderer,
  });
  const controller = new ChatController({
    store: opts.store,
    runs: opts.runs,
    port: opts.port,
    relay,
    delivery,
    auth: opts.auth,
    logger,
    names,
    clock,
    threadLinkWaitMs: opts.threadLinkWaitMs,
  });
  return {
    controller,
    relay,
    delivery,
    start() {
      // Platforms redeliver within minutes (Slack retries for about an hour); a week of dedupe
      // keys is plenty, and the table stays small.
      const weekAgo = new Date(clock.now() - INBOUND_DEDUPE_KEEP_MS).toISOString();
      const pruned = opts.store.inbound.prune(weekAgo);
      if (pruned > 0) logger.info({ pruned }, 'pruned old inbound dedupe keys');
      delivery.start();
      relay.start();
    },
    handle: (event) => controller.handle(event),
    autocompleteCards: (q) => controller.autocompleteCards(q),
    async idle() {
      await controller.idle();
      await delivery.drain();
    },
    async stop() {
      await controller.idle();
      relay.stop();
      await delivery.stop();
    },
  };
}
