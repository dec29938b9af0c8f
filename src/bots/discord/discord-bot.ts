/**
 * The Discord bot: a discord.js client wired to the chat layer. Gateway events become
 * `ChatEvent`s (translate.ts) for the controller; run output leaves through `DiscordPort` and
 * the outbox. `start()` logs in, registers the guild commands, starts delivery and the relay,
 * and rejoins the threads of active runs; `stop()` finishes inbound work, stops sending and
 * disconnects.
 */
import { once } from 'node:events';
import { Client, Events, GatewayIntentBits, Partials, type Interaction, type Message, type MessageReaction, type PartialMessage, type PartialMessageReaction, type PartialUser, type User } from 'discord.js';
import type { Logger } from 'pino';
import type { AuthConfig, DiscordConfig } from '../../config.js';
import type { Store } from '../../store/index.js';
import { createChatBot, type ChatBot, type ChatBotOptions } from '../chat/chat-bot.js';
import type { ChatEvent, ChatLimits } from '../chat/chat-types.js';
import { InboundWork } from '../chat/inbound-work.js';
import { putGuildCommands } from './commands.js';
import { DiscordPort } from './discord-port.js';
import { messageData, reactionData } from './inbound.js';
import { AckFirst, handleAutocomplete, handleCommand } from './interactions.js';
import { REJECT_RATE_LIMIT_OVER_MS } from './limits.js';
import { channelRef } from './refs.js';
import { rejoinThreads, threadsToRejoin } from './rejoin-threads.js';
import { messageEvent, reactionEvent } from './translate.js';

export const INTENTS = [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.GuildMessageReactions, GatewayIntentBits.MessageContent];
export const PARTIALS = [Partials.Message, Partials.Channel, Partials.Reaction, Partials.User];

export interface DiscordBotOptions {
  discord: DiscordConfig;
  auth: AuthConfig;
  store: Store;
  /** The RunManager. */
  runs: ChatBotOptions['runs'];
  logger: Logger;
  /** Pacing numbers (default `DISCORD_LIMITS`; tests against a fake with shrunk windows scale them). */
  limits?: ChatLimits;
  /** Chat-layer knobs for tests: clock, digest flush delay, delivery backoff. */
  chat?: Pick<ChatBotOptions, 'clock' | 'flushDelayMs' | 'renderer' | 'delivery' | 'threadLinkWaitMs'>;
  /** Rate-limit waits longer than this throw to delivery instead of sleeping in discord.js. */
  rejectRateLimitOverMs?: number;
}

/** The discord.js client as the bot configures it (exported for `register-commands` and tests). */
export function createDiscordClient(discord: DiscordConfig, rejectOverMs = REJECT_RATE_LIMIT_OVER_MS): Client {
  return new Client({
    intents: INTENTS,
    partials: PARTIALS,
    allowedMentions: { parse: [], repliedUser: false },
    rest: {
      ...(discord.apiBase ? { api: discord.apiBase } : {}),
      // Long waits (thread creation can be limited for minutes) throw to delivery, which reschedules.
      rejectOnRateLimit: (data) => Math.max(data.retryAfter, data.timeToReset) > rejectOverMs,
    },
  });
}

export class DiscordBot {
  readonly client: Client;
  readonly port: DiscordPort;
  readonly chat: ChatBot;
  /** Resolves when the bot has stopped (by `stop()` or because Discord invalidated the session). */
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private readonly log: Logger;
  private readonly inbound: InboundWork;
  private stopping: Promise<void> | null = null;
  private readonly bootId = Date.now().toString(36);
  private reactionSeq = 0;
  private readonly acks = new AckFirst();

  constructor(private readonly opts: DiscordBotOptions) {
    this.log = opts.logger.child({ component: 'discord' });
    this.inbound = new InboundWork(this.log, 'Discord');
    this.client = createDiscordClient(opts.discord, opts.rejectRateLimitOverMs);
    this.port = new DiscordPort({ rest: this.client.rest, guildId: opts.discord.guildId, logger: this.log.child({ part: 'port' }), limits: opts.limits });
    this.chat = createChatBot({
      store: opts.store,
      runs: opts.runs,
      port: this.port,
      auth: opts.auth,
      logger: opts.logger,
      notifyChannel: opts.discord.notifyChannelId ? channelRef(opts.discord.notifyChannelId) : null,
      ...opts.chat,
    });
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.wire();
  }

  /** Logs in, starts delivery and the relay, registers the guild commands, rejoins active threads. */
  async start(): Promise<void> {
    const ready = once(this.client, Events.ClientReady);
    // Take events from the first one on: an interaction that arrives while commands are being
    // registered must still be acknowledged (nothing reaches handlers before READY anyway).
    this.inbound.open();
    try {
      await this.client.login(this.opts.discord.token);
      await ready;
    } catch (err) {
      await this.inbound.close();
      await this.client.destroy();
      throw err;
    }
    this.chat.start();
    const appId = this.client.application?.id ?? this.client.user!.id;
    this.log.info({ user: this.client.user?.tag, guildId: this.opts.discord.guildId }, 'connected to Discord');
    try {
      const names = await putGuildCommands(this.client.rest, appId, this.opts.discord.guildId);
      this.log.info({ commands: names }, 'registered guild commands');
    } catch (err) {
      this.log.error(
        { err, guildId: this.opts.discord.guildId },
        'could not register the slash commands: check DISCORD_GUILD_ID and that the bot was invited with the applications.commands scope',
      );
    }
    await rejoinThreads(this.client, threadsToRejoin(this.opts.store, this.opts.runs.list(50)), this.log);
  }

  /** Resolves when every event received so far is handled and the outbox is empty. */
  async idle(): Promise<void> {
    await this.inbound.settled();
    await this.chat.idle();
  }

  /** Stops taking events, finishes the ones in hand, stops sending (pending rows stay for next start), disconnects. */
  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      await this.inbound.close();
      await this.chat.stop();
      await this.client.destroy();
      this.log.info('disconnected from Discord');
      this.resolveDone();
    })());
  }

  private wire(): void {
    const c = this.client;
    c.on(Events.InteractionCreate, (i) => this.inbound.track('interaction', () => this.onInteraction(i)));
    c.on(Events.MessageCreate, (m) => this.inbound.track('message', () => this.onMessage(m)));
    c.on(Events.MessageReactionAdd, (r, u) => this.inbound.track('reaction', () => this.onReaction(r, u, true)));
    c.on(Events.MessageReactionRemove, (r, u) => this.inbound.track('reaction', () => this.onReaction(r, u, false)));
    c.on(Events.Error, (err) => this.log.error({ err }, 'discord.js client error'));
    c.on(Events.Warn, (message) => this.log.warn({ message }, 'discord.js warning'));
    // discord.js emits this only for close codes it will not reconnect after (token reset,
    // intents not allowed, ...): without it the bot would sit there deaf.
    c.on(Events.ShardDisconnect, (event, shardId) => {
      this.log.error({ code: event.code, shardId }, 'Discord closed the gateway for good (token or intents?); stopping the Discord bot');
      void this.stop();
    });
    c.rest.on('rateLimited', (info) =>
      this.log.warn({ route: info.route, method: info.method, retryAfterMs: info.retryAfter, global: info.global, scope: info.scope }, 'Discord rate limit'),
    );
  }

  private async onInteraction(i: Interaction): Promise<void> {
    if (i.isAutocomplete()) return handleAutocomplete(i, this.chat, this.acks, this.log);
    if (i.isChatInputCommand()) return handleCommand(i, this.chat, this.acks, this.log);
  }

  private ours(guildId: string | null): boolean {
    return guildId === this.opts.discord.guildId;
  }

  private async onMessage(m: Message | PartialMessage): Promise<void> {
    const me = this.client.user?.id;
    // The bot ignores itself before doing anything else (no fetch, no dedupe row).
    if (!me || m.author?.id === me || !this.ours(m.guildId)) return;
    const data = await messageData(this.client, m, this.log);
    if (data) await this.emit(messageEvent(data, me));
  }

  private async onReaction(r: MessageReaction | PartialMessageReaction, u: User | PartialUser, added: boolean): Promise<void> {
    const me = this.client.user?.id;
    if (!me || u.id === me || !this.ours(r.message.guildId ?? this.opts.discord.guildId)) return;
    const occurrence = `${this.bootId}.${++this.reactionSeq}`;
    const data = await reactionData(this.client, r, u, added, occurrence, this.log);
    await this.emit(reactionEvent(data, me));
  }

  private async emit(event: ChatEvent | null): Promise<void> {
    if (event) await this.chat.handle(event);
  }
}
