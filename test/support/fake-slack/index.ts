/**
 * Fake Slack (Web API + Socket Mode + signed HTTP requests) on 127.0.0.1 for end-to-end tests with the real @slack/bolt App.
 *
 *   const slack = await startFakeSlack({ rateLimits: { postMessage: { burst: 2, refillEveryMs: 200 } } });
 *   const app = new App({ token: slack.botToken, appToken: slack.appToken, socketMode: true, clientOptions: { slackApiUrl: slack.apiUrl } });
 *   await app.start();                                  // auth.test + apps.connections.open + hello
 *   const cmd = slack.slashCommand({ command: '/run', text: 'card-1 make it fast', user: 'alice' });
 *   expect((await cmd.ack).latencyMs).toBeLessThan(3000);
 *   await slack.waitFor(() => slack.botPosts('general').find((m) => m.text.includes('card-1')));
 *   await app.stop(); await slack.close();
 *
 * HTTP mode: `slack.useHttpMode('http://127.0.0.1:<app port>/slack/events')`; events and commands are then signed POSTs
 * (`signature: 'forged' | 'stale' | 'missing'` to test refusal). See driver.ts for the test-side API.
 */
import { DeliveryRouter } from './delivery.js';
import { FakeSlackDriver } from './driver.js';
import type { CoreOptions, SlackCore } from './operations.js';
import { Ids, TsGenerator } from './payloads.js';
import { RateLimiter, resolveRateLimits, systemClock, type Clock, type InjectedRateLimit, type RateLimitOptions } from './rate-limits.js';
import { filesOf, type StoredFile } from './files.js';
import { FakeServer, type InjectedFault } from './server.js';
import type { OutageSpec, Outages } from '../fake-common/outage.js';
import { FakeSocketMode } from './socket-mode.js';
import { FakeState, type FakeChannel, type WaitOptions } from './state.js';

export { ManualClock, systemClock, type Clock, type RateLimitOptions, type BucketConfig } from './rate-limits.js';
export { slackSignature, STALE_SECONDS } from './http-mode.js';
export type * from './state.js';
export type { SlashCommandHandle, SlashCommandSpec } from './driver.js';
export type { InjectedFault } from './server.js';
export type { OutageSpec } from '../fake-common/outage.js';
export type { StoredFile } from './files.js';

export const DEFAULT_SUBSCRIBED_EVENTS = ['message', 'app_mention', 'reaction_added', 'reaction_removed'];

export interface FakeSlackOptions {
  rateLimits?: Partial<RateLimitOptions>;
  clock?: Clock;
  botToken?: string;
  appToken?: string;
  signingSecret?: string;
  botName?: string;
  /** Human users (names). Default alice, bob. */
  humans?: string[];
  /** Event types of the app's subscription. Default: message, app_mention, reaction_added, reaction_removed. */
  subscribedEvents?: string[];
  /** Dispatch `message_changed` when the bot edits with chat.update (Slack does). Default true. */
  dispatchEdits?: boolean;
  /** Send WebSocket pings this often (the SDK then expects them; off by default). */
  pingIntervalMs?: number;
  /** The bot token's scopes (x-oauth-scopes). Default: those of slack-app-manifest.yml. */
  botScopes?: string[];
  /** files.completeUploadExternal's answer names the share's ts (Slack's may not yet). Default true. */
  fileSharesInAnswer?: boolean;
}

export class FakeSlack extends FakeSlackDriver {
  readonly apiUrl: string;
  readonly baseUrl: string;
  readonly botToken: string;
  readonly appToken: string;
  readonly signingSecret: string;
  readonly teamId: string;
  readonly appId: string;
  readonly botUserId: string;
  readonly botId: string;
  /** Human user ids by name (alice, bob, …). */
  readonly users: Record<string, string>;
  /** Channel ids: the bot is a member of general and notify, not of random. */
  readonly channels: { general: string; notify: string; random: string };

  private constructor(core: SlackCore, router: DeliveryRouter, private readonly server: FakeServer, setup: Setup) {
    super(core, router);
    this.baseUrl = core.baseUrl();
    this.apiUrl = `${this.baseUrl}/api/`;
    this.botToken = core.options.botToken;
    this.appToken = core.options.appToken;
    this.signingSecret = core.options.signingSecret;
    this.teamId = core.state.teamId;
    this.appId = core.state.appId;
    this.botUserId = core.state.botUserId;
    this.botId = core.state.botId;
    this.users = setup.users;
    this.channels = setup.channels;
  }

  static async start(options: FakeSlackOptions = {}): Promise<FakeSlack> {
    const clock = options.clock ?? systemClock;
    const ids = new Ids();
    const state = new FakeState(clock, ids.next('T'), ids.next('A'), ids.next('U'), ids.next('B'));
    let port = 0;
    const coreOptions: CoreOptions = {
      botToken: options.botToken ?? 'xoxb-1-fake-bot-token',
      appToken: options.appToken ?? 'xapp-1-A0FAKE-1-fake-app-token',
      signingSecret: options.signingSecret ?? 'fake-signing-secret-8f14e45fceea167a',
      subscribedEvents: new Set(options.subscribedEvents ?? DEFAULT_SUBSCRIBED_EVENTS),
      dispatchEdits: options.dispatchEdits ?? true,
      fileSharesInAnswer: options.fileSharesInAnswer,
      botScopes: options.botScopes ?? ['chat:write', 'channels:history', 'groups:history', 'reactions:read', 'reactions:write', 'commands', 'users:read', 'files:write'],
    };
    const core: SlackCore = {
      state, ids, clock, ts: new TsGenerator(clock), limiter: new RateLimiter(resolveRateLimits(options.rateLimits), clock), options: coreOptions,
      sink: { deliverEvent: () => { throw new Error('fake-slack: not started'); } },
      baseUrl: () => `http://127.0.0.1:${port}`,
    };
    const socket = new FakeSocketMode(core, { pingIntervalMs: options.pingIntervalMs });
    const router = new DeliveryRouter(core, socket);
    core.sink = router;
    const setup = seed(core, options);
    const server = new FakeServer(core, socket);
    await server.listen();
    port = server.port;
    return new FakeSlack(core, router, server, setup);
  }

  /** Deliver events and commands as signed HTTP requests to `url` (the app's `/slack/events`); `undefined` = back to Socket Mode. */
  useHttpMode(url: string | undefined): void {
    this.router.useHttp(url);
  }

  get mode(): 'socket' | 'http' {
    return this.router.mode;
  }

  /** Files uploaded through files.getUploadURLExternal and the upload URL, with their bytes, in order. */
  uploadedFiles(): StoredFile[] {
    return [...filesOf(this.core).values()];
  }

  /** Make the next matching call(s) answer 429 with `Retry-After` (counted in rateLimitHits with `injected: true`). */
  injectRateLimit(rule: InjectedRateLimit): void {
    this.core.limiter.inject(rule);
  }

  /** Make the next matching call(s) fail; `afterEffect` performs the call first (a lost answer), `drop` kills the socket. */
  injectFault(fault: InjectedFault): void {
    this.server.injectFault(fault);
  }

  /** A platform outage on the fake's clock (5xx answers, hung calls, lost answers); returns a function that ends it. */
  scheduleOutage(spec: OutageSpec): () => void {
    return this.server.outages.add(spec);
  }

  /** How many calls each kind of outage took. */
  get outageHits(): Outages['hits'] {
    return this.server.outages.hits;
  }

  /** Send `{type:'disconnect', reason}` on every open Socket Mode connection (the SDK reconnects). */
  disconnectSocket(reason = 'refresh_requested'): void {
    this.server.socketMode.disconnect(reason);
  }

  /** Close (or terminate) every Socket Mode connection from the server side. */
  dropSocket(options?: { code?: number; terminate?: boolean }): void {
    this.server.socketMode.drop(options);
  }

  isSocketConnected(): boolean {
    return this.server.socketMode.isConnected();
  }

  /** Wait until `count` Socket Mode connections have been opened in total and one is open. */
  waitForSocketConnected(options: WaitOptions & { count?: number } = {}): Promise<true> {
    const count = options.count ?? 1;
    return this.waitFor(() => this.state.connections.length >= count && this.isSocketConnected(), { description: `socket connection #${count} open`, ...options });
  }

  async close(): Promise<void> {
    await this.router.settle();
    await this.server.close();
    this.state.removeAllListeners();
  }
}

export const startFakeSlack = (options?: FakeSlackOptions): Promise<FakeSlack> => FakeSlack.start(options);

interface Setup {
  users: Record<string, string>;
  channels: { general: string; notify: string; random: string };
}

function seed(core: SlackCore, options: FakeSlackOptions): Setup {
  const { state, ids } = core;
  const botName = options.botName ?? 'chatops-bot';
  state.users.set(state.botUserId, { id: state.botUserId, name: botName, realName: botName, isBot: true, botId: state.botId });
  const users: Record<string, string> = {};
  for (const name of options.humans ?? ['alice', 'bob']) {
    const id = ids.next('U');
    users[name] = id;
    state.users.set(id, { id, name, realName: name[0]!.toUpperCase() + name.slice(1), isBot: false });
  }
  // A guest and a Slack Connect user from another organization, members of the channels too.
  for (const [name, extra] of [['gina', { restricted: true }], ['xena', { teamId: 'TEXTERNAL1' }]] as const) {
    const id = ids.next('U');
    users[name] = id;
    state.users.set(id, { id, name, realName: name[0]!.toUpperCase() + name.slice(1), isBot: false, ...extra });
  }
  const everyone = Object.values(users);
  const channel = (name: string, withBot: boolean): string => {
    const c: FakeChannel = { id: ids.next('C'), name, isPrivate: false, members: new Set([...everyone, ...(withBot ? [state.botUserId] : [])]) };
    state.channels.set(c.id, c);
    return c.id;
  };
  return { users, channels: { general: channel('general', true), notify: channel('notify', true), random: channel('random', false) } };
}
