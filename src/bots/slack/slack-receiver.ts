/**
 * The Slack receiver: a Bolt App as the hub's transport. Socket Mode (app token) by default, HTTP
 * mode (Bolt checks the signature and timestamp of every request) when a signing secret and a
 * port are configured. Slash commands are acknowledged before anything else; message and
 * reaction events (Bolt acks those itself) become `ChatEvent`s (translate.ts) for the
 * hub, which dedupes them by Slack's event id. The hub's delivery sends through `SlackPort` on a
 * separate write client whose own retries are off. `connect()` checks the token (auth.test);
 * `start()` starts the transport; `stop()` disconnects.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, LogLevel, SocketModeReceiver, webApi } from '@slack/bolt';
import type { Logger } from 'pino';
import type { SlackConfig } from '../../config.js';
import type { CatchUpThread, ChatEvent, ChatLimits, PaceRead, ThreadBacklog } from '../hub/chat-types.js';
import type { EventSink, Receiver } from '../hub/hub.js';
import { boltLogger } from './bolt-logger.js';
import { readBacklogs } from './catch-up-reader.js';
import { slackText } from './escape.js';
import { SLACK_LIMITS } from './limits.js';
import { channelRef, PLATFORM } from './refs.js';
import { SlackPort } from './slack-port.js';
import { commandEvent, messageEvent, reactionEvent, type BotIdentity, type EventBody, type SlashCommandData } from './translate.js';
import { UserNames } from './user-names.js';

/** The slash commands the app declares (slack-app-manifest.yml); `/chatops` alone shows the help. */
export const SLASH_COMMANDS = ['/run', '/runs', '/card', '/chatops'] as const;

export interface SlackReceiverOptions {
  slack: SlackConfig;
  logger: Logger;
  /** Pacing numbers (default `SLACK_LIMITS`; tests against a fake with shrunk windows scale them). */
  limits?: ChatLimits;
  /**
   * HTTP mode: the interface to listen on. Default 127.0.0.1: Slack only calls HTTPS URLs, so a
   * TLS-terminating proxy on this host forwards to the bot.
   */
  httpHost?: string;
  /** Socket Mode: the SDK's ping timeout, which is also its reconnect delay (default 5,000 ms). */
  clientPingTimeoutMs?: number;
}

/** Longest a write may hang (a half-open connection) before delivery retries it, duplicate-safe. */
const WRITE_TIMEOUT_MS = 20_000;
/** Name lookups are a nicety: they must never hold an event up for long. */
const LOOKUP_TIMEOUT_MS = 3_000;

/**
 * A fresh WebClient options object each time: the Socket Mode client mutates the one it gets.
 * Errors never carry the original HTTP request: its headers hold the bot token, and errors are
 * logged.
 */
function clientOptions(slack: SlackConfig): { slackApiUrl?: string; attachOriginalToWebAPIRequestError: false } {
  return { ...(slack.apiUrl ? { slackApiUrl: slack.apiUrl } : {}), attachOriginalToWebAPIRequestError: false };
}

/** The write client: no SDK retries (a timed-out post could be sent twice), 429s thrown to delivery. */
export function createWriteClient(slack: SlackConfig, timeoutMs = WRITE_TIMEOUT_MS): InstanceType<typeof webApi.WebClient> {
  return new webApi.WebClient(slack.botToken, {
    ...clientOptions(slack),
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: timeoutMs,
    logLevel: webApi.LogLevel.ERROR,
  });
}

/**
 * For catch-up's history reads (idempotent): a few SDK retries, and a 429 waited out by the SDK,
 * on a client of their own so a wait never holds up writes or name lookups.
 */
function createReadClient(slack: SlackConfig): InstanceType<typeof webApi.WebClient> {
  return new webApi.WebClient(slack.botToken, {
    ...clientOptions(slack),
    retryConfig: { retries: 3 },
    timeout: WRITE_TIMEOUT_MS,
    logLevel: webApi.LogLevel.ERROR,
  });
}

/** For `users.info`: fails fast instead of retrying for half an hour before an event is handled (the write client's options, a shorter timeout). */
function createLookupClient(slack: SlackConfig): InstanceType<typeof webApi.WebClient> {
  return createWriteClient(slack, LOOKUP_TIMEOUT_MS);
}

export class SlackReceiver implements Receiver {
  readonly platform = PLATFORM;
  readonly app: App;
  readonly port: SlackPort;
  readonly notifyChannel: string | null;
  readonly mode: 'socket' | 'http';
  /** Resolves when the receiver has stopped. */
  readonly done: Promise<void>;
  /** HTTP mode: the port the server listens on once started. */
  httpPort: number | null = null;
  private resolveDone!: () => void;
  private readonly log: Logger;
  private readonly names: UserNames;
  private sink: EventSink | null = null;
  private stopping: Promise<void> | null = null;

  /** Checks the bot token (auth.test on the write client) and builds the receiver; rejects on a bad token or an unreachable API. */
  static async connect(opts: SlackReceiverOptions): Promise<SlackReceiver> {
    const writer = createWriteClient(opts.slack);
    const who = await writer.auth.test();
    if (!who.user_id || !who.bot_id) throw new Error('Slack auth.test did not name the bot user: is SLACK_BOT_TOKEN a bot (xoxb-) token?');
    return new SlackReceiver(opts, writer, { userId: who.user_id, botId: who.bot_id, teamId: who.team_id ?? null }, who.url ?? 'https://slack.com/');
  }

  private constructor(
    private readonly opts: SlackReceiverOptions,
    writer: InstanceType<typeof webApi.WebClient>,
    private readonly me: BotIdentity,
    teamUrl: string,
  ) {
    this.log = opts.logger.child({ component: 'slack' });
    const { slack } = opts;
    this.mode = slack.signingSecret && slack.port !== null ? 'http' : 'socket';
    const logger = boltLogger(this.log.child({ part: 'bolt' }));
    const common = {
      token: slack.botToken,
      botId: me.botId,
      botUserId: me.userId,
      // auth.test already ran in connect(); Bolt need not repeat it.
      tokenVerificationEnabled: false,
      convoStore: false as const,
      clientOptions: clientOptions(slack),
      logger,
      logLevel: LogLevel.INFO,
    };
    if (this.mode === 'http') {
      this.app = new App({ ...common, signingSecret: slack.signingSecret! });
    } else {
      if (!slack.appToken) throw new Error('Socket Mode needs SLACK_APP_TOKEN (an xapp- token with connections:write)');
      const receiver = new SocketModeReceiver({
        appToken: slack.appToken,
        installerOptions: { clientOptions: clientOptions(slack) },
        logger,
        logLevel: LogLevel.INFO,
        ...(opts.clientPingTimeoutMs ? { clientPingTimeout: opts.clientPingTimeoutMs } : {}),
      });
      this.app = new App({ ...common, receiver });
    }
    this.names = new UserNames(createLookupClient(opts.slack), this.log, me.teamId);
    this.port = new SlackPort({
      client: writer,
      teamUrl,
      limits: opts.limits ?? SLACK_LIMITS,
      logger: this.log.child({ part: 'port' }),
    });
    this.notifyChannel = slack.notifyChannel ? channelRef(slack.notifyChannel) : null;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.wire();
  }

  /** Starts the transport (Socket Mode connection or HTTP server); events go to `sink` from then on. */
  async start(sink: EventSink): Promise<void> {
    this.sink = sink;
    try {
      if (this.mode === 'http') {
        const server = (await this.app.start({ port: this.opts.slack.port!, host: this.opts.httpHost ?? '127.0.0.1' })) as Server;
        this.httpPort = (server.address() as AddressInfo).port;
      } else {
        await this.app.start();
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.log.info({ mode: this.mode, botUserId: this.me.userId, httpPort: this.httpPort }, 'connected to Slack');
  }

  /** Reads back what was missed in run threads while the bot was down (catch-up-reader.ts). */
  catchUp(threads: CatchUpThread[], pace: PaceRead): Promise<ThreadBacklog[]> {
    const opts = { client: createReadClient(this.opts.slack), me: this.me, enrich: (e: ChatEvent) => this.enrich(e), log: this.log.child({ part: 'catch-up' }) };
    return readBacklogs(opts, threads, pace);
  }

  /** Disconnects (the hub has stopped taking events and finished the ones in hand). */
  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      this.sink = null;
      try {
        await this.app.stop();
      } catch (err) {
        this.log.warn({ err }, 'stopping the Slack transport failed');
      }
      this.log.info('disconnected from Slack');
      this.resolveDone();
    })());
  }

  /** Runs `work` as tracked inbound work of the hub, or drops it once stopped. */
  private track(kind: string, work: (sink: EventSink) => Promise<void>): void {
    const sink = this.sink;
    if (sink) sink.track(kind, () => work(sink));
    else this.log.warn({ kind }, 'a Slack event arrived while the receiver is stopped; ignored');
  }

  private wire(): void {
    const { app } = this;
    for (const name of SLASH_COMMANDS) {
      app.command(name, async ({ ack, command, respond }) => {
        // Acknowledge first: Slack shows the user an error after 3 s; everything else happens after.
        await ack();
        const cmd = command as unknown as SlashCommandData;
        if (!this.ours(cmd.team_id)) return;
        this.track('command', async (sink) => {
          const answer = async (text: string): Promise<void> => {
            await respond({ response_type: 'ephemeral', text: slackText(text) });
          };
          const event = commandEvent(cmd, answer);
          const who = await this.names.of(cmd.user_id, cmd.user_name);
          event.user.displayName = who.name;
          event.user.restricted = who.restricted;
          await sink.handle(event);
        });
      });
    }
    app.event('message', async ({ body }) => this.track('message', (sink) => this.onEvent(sink, body as unknown as EventBody, messageEvent)));
    app.event('reaction_added', async ({ body }) => this.track('reaction', (sink) => this.onEvent(sink, body as unknown as EventBody, reactionEvent)));
    app.event('reaction_removed', async ({ body }) => this.track('reaction', (sink) => this.onEvent(sink, body as unknown as EventBody, reactionEvent)));
    app.error(async (err) => {
      this.log.error({ err }, 'Slack listener error');
    });
  }

  /**
   * Whether a request comes from the workspace the app is installed in: commands and events of
   * any other are ignored (a shared app, an org-wide install, a forwarded request).
   */
  private ours(teamId: string | undefined): boolean {
    if (this.me.teamId === null || teamId === undefined || teamId === this.me.teamId) return true;
    this.log.warn({ teamId }, 'ignored a request from another Slack workspace');
    return false;
  }

  private async onEvent(sink: EventSink, body: EventBody, translate: (body: EventBody, me: BotIdentity) => ChatEvent | null): Promise<void> {
    if (!this.ours(body.team_id)) return;
    const event = translate(body, this.me);
    if (!event) return;
    await this.enrich(event);
    await sink.handle(event);
  }

  /** A reply's or reaction's person: display name, and whether they are restricted. */
  private async enrich(event: ChatEvent): Promise<void> {
    if (event.kind !== 'reply' && event.kind !== 'reaction') return;
    const who = await this.names.of(event.user.id.replace(/^slack:/, ''));
    event.user.displayName = who.name;
    event.user.restricted = who.restricted;
  }
}
