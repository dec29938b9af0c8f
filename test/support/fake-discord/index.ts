/**
 * Fake Discord (REST + gateway) for end-to-end tests of the bot with the real discord.js client.
 *
 *   const fake = await startFakeDiscord({ rateLimits: { channelMessages: { limit: 5, windowMs: 300 } } });
 *   const client = new Client({ intents, partials, rest: { api: fake.apiBase } });
 *   await client.login(fake.token);
 *   const cmd = fake.sendCommand({ name: 'run', options: { card: 'card-1' }, user: 'alice' });
 *   expect((await cmd.ack).type).toBe(5);
 *   await cmd.waitForOriginal((m) => m.content.includes('started'));
 *   await fake.close();
 *
 * Driver (humans acting): sendCommand, sendAutocomplete, userMessage, addReaction/removeReaction,
 * seedMessage (history with no gateway event → partials), archiveThread, disconnectGateway,
 * injectRateLimit (forced 429), injectFault (5xx, optionally after performing the request),
 * holdRequest (a request held open until the test releases it).
 * Queries: messages(channelId), message(id), threads(), reactions(ch, msg), commands(), rateLimitHits,
 * requests, intents, state (raw model). Waiting: waitFor(predicate) re-checks on every fake-state change;
 * to observe discord.js-side state, await the client's own events instead.
 */
import { FakeGateway, guildPayload } from './gateway.js';
import { appRoutes } from './rest-app.js';
import { channelRoutes } from './rest-routes.js';
import type { FakeCore } from './operations.js';
import { Snowflakes, botPermissions, everyonePermissions } from './payloads.js';
import { resolveRateLimits, systemClock, type Clock, type InjectedRateLimit, type RateLimitOptions } from './rate-limits.js';
import { FakeServer, type InjectedFault } from './server.js';
import type { OutageSpec, Outages } from '../fake-common/outage.js';
import { FakeState, type FakeChannel, type FakeUser, type StoredMessage, type WaitOptions } from './state.js';
import { FakeDriver } from './driver.js';
import type { RouteContext } from './http.js';
import { CountedRules } from '../fake-common/counted-rules.js';

interface Hold {
  method?: string;
  path: RegExp;
  times: number;
  reach: () => void;
  released: Promise<void>;
}

export { ManualClock, systemClock, type Clock, type RateLimitOptions } from './rate-limits.js';
export type { OutageSpec } from '../fake-common/outage.js';
export { Intents } from './gateway.js';
export type * from './state.js';
export type { CommandSpec, HumanRef, InteractionHandle } from './driver.js';

export interface FakeDiscordOptions {
  token?: string;
  guildName?: string;
  botUsername?: string;
  /** Human users created up front (name → role names). Default: alice (operator), bob (no roles). */
  humans?: Record<string, string[]>;
  /** Extra role names besides @everyone, the bot's managed role and `operator`. */
  roles?: string[];
  rateLimits?: Partial<RateLimitOptions>;
  clock?: Clock;
  heartbeatIntervalMs?: number;
  interactionAckDeadlineMs?: number;
  interactionTokenTtlMs?: number;
  nonceWindowMs?: number;
  /** Edits of thread messages older than this (on `clock`) answer 30046; default one hour, null never. */
  editMaxAgeMs?: number | null;
  /** Attachments one message may carry (a guild without boosts: 10 MiB); more is refused with 413 / 40005. */
  uploadLimitBytes?: number;
  /** The application's Message Content intent (flags in GET /applications/@me). Default: on. */
  messageContentIntent?: boolean;
}

export class FakeDiscord extends FakeDriver {
  readonly token: string;
  readonly apiBase: string;
  readonly gatewayUrl: string;
  readonly guildId: string;
  readonly botUser: FakeUser;
  readonly applicationId: string;
  /** Ids of the two text channels in the test guild. */
  readonly channels: { general: string; notify: string };
  /** Role ids by name (`everyone`, `bot`, `operator`, …). */
  readonly roles: Record<string, string>;

  private constructor(core: FakeCore, private readonly server: FakeServer, private readonly gw: FakeGateway, setup: Setup) {
    super(core, gw);
    this.token = core.options.token;
    this.apiBase = `http://127.0.0.1:${server.port}/api`;
    this.gatewayUrl = `ws://127.0.0.1:${server.port}/gateway`;
    this.guildId = core.state.guildId;
    this.botUser = core.state.users.get(core.state.botUserId)!;
    this.applicationId = this.botUser.id;
    this.channels = setup.channels;
    this.roles = setup.roles;
  }

  static async start(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
    const clock = options.clock ?? systemClock;
    const ids = new Snowflakes(clock);
    const guildId = ids.next();
    const botUserId = ids.next();
    const state = new FakeState(clock, guildId, options.guildName ?? 'fake-guild', botUserId);
    let port = 0;
    const url = (): string => `ws://127.0.0.1:${port}/gateway`;
    const core: FakeCore = {
      state,
      ids,
      clock,
      rateLimits: resolveRateLimits(options.rateLimits),
      gateway: { dispatch: () => undefined },
      options: {
        token: options.token ?? 'fake-bot-token.ZmFrZQ.discord-test-token',
        interactionAckDeadlineMs: options.interactionAckDeadlineMs ?? 3_000,
        interactionTokenTtlMs: options.interactionTokenTtlMs ?? 15 * 60_000,
        nonceWindowMs: options.nonceWindowMs ?? 5 * 60_000,
        editMaxAgeMs: options.editMaxAgeMs === undefined ? 60 * 60_000 : options.editMaxAgeMs,
        uploadLimitBytes: options.uploadLimitBytes ?? 10 * 1024 * 1024,
      },
    };
    const gateway = new FakeGateway(core, { heartbeatIntervalMs: options.heartbeatIntervalMs ?? 41_250, url });
    core.gateway = gateway;
    const setup = seed(core, options);
    state.applicationFlags = options.messageContentIntent === false ? 0 : 1 << 19;
    const holds = new CountedRules<Hold>();
    // Every route can be held open by a test (holdRequest) before it does anything.
    const routes = [...appRoutes(core, url, () => guildPayload(state)), ...channelRoutes(core)].map((r) => ({
      ...r,
      handle: async (ctx: RouteContext) => {
        const hold = holds.take((h) => (!h.method || h.method === ctx.method) && h.path.test(ctx.path));
        if (hold) {
          hold.reach();
          await hold.released;
        }
        return r.handle(ctx);
      },
    }));
    const server = new FakeServer(core, routes, gateway);
    await server.listen();
    port = server.port;
    const fake = new FakeDiscord(core, server, gateway, setup);
    fake.holds = holds;
    return fake;
  }

  private holds!: CountedRules<Hold>;

  /**
   * Holds the next matching REST request open until `release()` (a gate, not a delay): `reached`
   * resolves when the request arrived, e.g. to act while the bot still registers its commands.
   */
  holdRequest(rule: { method?: string; path: RegExp }): { reached: Promise<void>; release(): void } {
    let reach!: () => void;
    let release!: () => void;
    const reached = new Promise<void>((r) => (reach = r));
    const released = new Promise<void>((r) => (release = r));
    this.holds.add({ ...rule, times: 1, reach, released });
    return { reached, release };
  }

  /** Make the next matching request(s) answer 429 (e.g. a minutes-long thread-create limit). */
  injectRateLimit(rule: InjectedRateLimit): void {
    this.server.limiter.inject(rule);
  }

  /** Make the next matching request(s) fail (optionally after performing them, like a lost response). */
  injectFault(fault: InjectedFault): void {
    this.server.injectFault(fault);
  }

  /** A platform outage on the fake's clock (5xx answers, hung requests, lost answers); returns a function that ends it. */
  scheduleOutage(spec: OutageSpec): () => void {
    return this.server.outages.add(spec);
  }

  /** How many requests each kind of outage took. */
  get outageHits(): Outages['hits'] {
    return this.server.outages.hits;
  }

  /** Close every gateway socket; the client reconnects and RESUMEs (missed events are replayed). */
  disconnectGateway(options: { code?: number; invalidateSession?: boolean } = {}): void {
    if (options.invalidateSession) this.gw.invalidateSessions();
    this.gw.disconnect(options.code ?? 4000);
  }

  /** Send op 7 RECONNECT. */
  requestGatewayReconnect(): void {
    this.gw.requestReconnect();
  }

  isGatewayConnected(): boolean {
    return this.gw.isConnected();
  }

  waitForGatewayConnected(options?: WaitOptions): Promise<true> {
    return this.waitFor(() => this.gw.isConnected(), { description: 'gateway connected', ...options });
  }

  async close(): Promise<void> {
    await this.server.close();
    this.state.removeAllListeners();
  }
}

export const startFakeDiscord = (options?: FakeDiscordOptions): Promise<FakeDiscord> => FakeDiscord.start(options);

interface Setup {
  channels: { general: string; notify: string };
  roles: Record<string, string>;
}

function seed(core: FakeCore, options: FakeDiscordOptions): Setup {
  const { state, ids, clock } = core;
  const now = clock.now();
  const roles: Record<string, string> = { everyone: state.guildId };
  state.roles.set(state.guildId, { id: state.guildId, name: '@everyone', permissions: everyonePermissions, position: 0, managed: false });
  const botRole = ids.next();
  roles.bot = botRole;
  state.roles.set(botRole, { id: botRole, name: options.botUsername ?? 'chatops-bot', permissions: botPermissions, position: 1, managed: true });
  for (const [i, name] of ['operator', ...(options.roles ?? [])].entries()) {
    const id = ids.next();
    roles[name] = id;
    state.roles.set(id, { id, name, permissions: 0n, position: i + 2, managed: false });
  }
  state.users.set(state.botUserId, { id: state.botUserId, username: options.botUsername ?? 'chatops-bot', globalName: null, bot: true });
  state.members.set(state.botUserId, { userId: state.botUserId, roles: [botRole], nick: null, joinedAt: now });
  for (const [name, roleNames] of Object.entries(options.humans ?? { alice: ['operator'], bob: [] })) {
    const id = ids.next();
    state.users.set(id, { id, username: name, globalName: name[0]!.toUpperCase() + name.slice(1), bot: false });
    state.members.set(id, { userId: id, roles: roleNames.map((r) => roles[r] ?? r), nick: null, joinedAt: now });
  }
  const channel = (name: string, position: number): string => {
    const c: FakeChannel = {
      id: ids.next(), type: 0, name, guildId: state.guildId, parentId: null, ownerId: null, position, archived: false, locked: false,
      autoArchiveDuration: 1440, archivedAt: null, createdAt: now, lastMessageId: null, memberIds: new Set(), messageCount: 0,
    };
    state.channels.set(c.id, c);
    return c.id;
  };
  return { channels: { general: channel('general', 0), notify: channel('notify', 1) }, roles };
}

export type { StoredMessage };
