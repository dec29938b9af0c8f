/**
 * The Discord receiver: a discord.js client as the hub's transport. Gateway events become
 * `ChatEvent`s (translate.ts) for the hub; the hub's delivery sends through `DiscordPort`.
 * `start()` logs in, registers the guild commands and rejoins the threads of runs in use;
 * `stop()` disconnects.
 */
import { once } from 'node:events';
import { Client, Events, GatewayIntentBits, Partials, type Interaction, type Message, type MessageReaction, type PartialMessage, type PartialMessageReaction, type PartialUser, type User } from 'discord.js';
import type { Logger } from 'pino';
import type { DiscordConfig } from '../../config.js';
import type { CatchUpThread, ChatEvent, ChatLimits, PaceRead, ThreadBacklog } from '../hub/chat-types.js';
import { readBacklogs } from './catch-up-reader.js';
import type { EventSink, Receiver } from '../hub/hub.js';
import { putGuildCommands } from './commands.js';
import { DiscordPort } from './discord-port.js';
import { messageData, reactionData } from './inbound.js';
import { AckFirst, handleAutocomplete, handleCommand } from './interactions.js';
import { REJECT_RATE_LIMIT_OVER_MS } from './limits.js';
import { channelIdOf, channelRef, PLATFORM } from './refs.js';
import { rejoinThreads } from './rejoin-threads.js';
import { createWriteRest } from './write-rest.js';
import { messageEvent, reactionEvent } from './translate.js';

export const INTENTS = [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.GuildMessageReactions, GatewayIntentBits.MessageContent];
export const PARTIALS = [Partials.Message, Partials.Channel, Partials.Reaction, Partials.User];

export interface DiscordReceiverOptions {
  discord: DiscordConfig;
  logger: Logger;
  /** Pacing numbers (default `DISCORD_LIMITS`; tests against a fake with shrunk windows scale them). */
  limits?: ChatLimits;
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

export class DiscordReceiver implements Receiver {
  readonly platform = PLATFORM;
  readonly client: Client;
  readonly port: DiscordPort;
  readonly notifyChannel: string | null;
  /** Resolves when the receiver has stopped (by `stop()` or because Discord invalidated the session). */
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private readonly log: Logger;
  private sink: EventSink | null = null;
  private stopping: Promise<void> | null = null;
  private readonly acks = new AckFirst();

  constructor(private readonly opts: DiscordReceiverOptions) {
    this.log = opts.logger.child({ component: 'discord' });
    this.client = createDiscordClient(opts.discord, opts.rejectRateLimitOverMs);
    // Writes go through a REST client of their own that never retries or sleeps long (write-rest.ts).
    const rest = createWriteRest(opts.discord, { rejectOverMs: opts.rejectRateLimitOverMs });
    this.port = new DiscordPort({ rest, guildId: opts.discord.guildId, logger: this.log.child({ part: 'port' }), limits: opts.limits });
    this.notifyChannel = opts.discord.notifyChannelId ? channelRef(opts.discord.notifyChannelId) : null;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.wire();
  }

  /** Logs in, registers the guild commands, rejoins the threads of runs in use. */
  async start(sink: EventSink): Promise<void> {
    // Take events from the first one on: an interaction that arrives while commands are being
    // registered must still be acknowledged (nothing reaches handlers before READY anyway).
    this.sink = sink;
    const ready = once(this.client, Events.ClientReady);
    try {
      await this.client.login(this.opts.discord.token);
      await ready;
    } catch (err) {
      this.sink = null;
      await this.client.destroy();
      throw err;
    }
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
    await rejoinThreads(this.client, sink.threadsInUse(PLATFORM).map(channelIdOf), this.log);
  }

  /** Reads back what was missed in run threads while the bot was down (catch-up-reader.ts). */
  async catchUp(threads: CatchUpThread[], pace: PaceRead): Promise<ThreadBacklog[]> {
    const me = this.client.user?.id;
    if (!me) return [];
    return readBacklogs(this.client, me, threads, pace, this.log.child({ part: 'catch-up' }));
  }

  /** Disconnects (the hub has stopped taking events and finished the ones in hand). */
  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      this.sink = null;
      await this.client.destroy();
      this.log.info('disconnected from Discord');
      this.resolveDone();
    })());
  }

  private wire(): void {
    const c = this.client;
    const track = (kind: string, work: (sink: EventSink) => Promise<void>) => {
      const sink = this.sink;
      if (sink) sink.track(kind, () => work(sink));
      else this.log.warn({ kind }, 'a Discord event arrived while the receiver is stopped; ignored');
    };
    c.on(Events.InteractionCreate, (i) => track('interaction', (sink) => this.onInteraction(sink, i)));
    c.on(Events.MessageCreate, (m) => track('message', (sink) => this.onMessage(sink, m)));
    c.on(Events.MessageReactionAdd, (r, u) => track('reaction', (sink) => this.onReaction(sink, r, u, true)));
    c.on(Events.MessageReactionRemove, (r, u) => track('reaction', (sink) => this.onReaction(sink, r, u, false)));
    c.on(Events.Error, (err) => this.log.error({ err }, 'discord.js client error'));
    c.on(Events.Warn, (message) => this.log.warn({ message }, 'discord.js warning'));
    // discord.js emits this only for close codes it will not reconnect after (token reset,
    // intents not allowed, ...): without it the bot would sit there deaf.
    c.on(Events.ShardDisconnect, (event, shardId) => {
      this.log.error({ code: event.code, shardId }, 'Discord closed the gateway for good (token or intents?); stopping the Discord receiver');
      void this.stop();
    });
    c.rest.on('rateLimited', (info) =>
      this.log.warn({ route: info.route, method: info.method, retryAfterMs: info.retryAfter, global: info.global, scope: info.scope }, 'Discord rate limit'),
    );
  }

  private async onInteraction(sink: EventSink, i: Interaction): Promise<void> {
    // Commands count only from the configured server: the bot may be in others (or in DMs).
    if (!this.ours(i.guildId)) {
      this.log.warn({ guildId: i.guildId, interactionId: i.id }, 'ignored an interaction from outside DISCORD_GUILD_ID');
      return;
    }
    if (i.isAutocomplete()) return handleAutocomplete(i, sink, this.acks, this.log);
    if (i.isChatInputCommand()) return handleCommand(i, sink, this.acks, this.log);
  }

  private ours(guildId: string | null): boolean {
    return guildId === this.opts.discord.guildId;
  }

  private async onMessage(sink: EventSink, m: Message | PartialMessage): Promise<void> {
    const me = this.client.user?.id;
    // The bot ignores itself before doing anything else (no fetch, no dedupe row).
    if (!me || m.author?.id === me || !this.ours(m.guildId)) return;
    const data = await messageData(this.client, m, this.log);
    if (data) await emit(sink, messageEvent(data, me));
  }

  private async onReaction(sink: EventSink, r: MessageReaction | PartialMessageReaction, u: User | PartialUser, added: boolean): Promise<void> {
    const me = this.client.user?.id;
    if (!me || u.id === me || !this.ours(r.message.guildId ?? this.opts.discord.guildId)) return;
    const data = await reactionData(this.client, r, u, added, this.log);
    await emit(sink, reactionEvent(data, me));
  }
}

async function emit(sink: EventSink, event: ChatEvent | null): Promise<void> {
  if (event) await sink.handle(event);
}
