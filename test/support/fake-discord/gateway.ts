/** Fake Discord gateway (v10, encoding=json, no compression) on top of `ws`. */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { FakeCore, GatewayDispatcher } from './operations.js';
import { channelPayload, isThread, memberPayload, rolePayload, userPayload } from './payloads.js';
import type { FakeState } from './state.js';

export const Intents = {
  Guilds: 1 << 0,
  GuildMembers: 1 << 1,
  GuildMessages: 1 << 9,
  GuildMessageReactions: 1 << 10,
  MessageContent: 1 << 15,
} as const;

const EVENT_INTENT: Record<string, number> = {
  GUILD_CREATE: Intents.Guilds,
  CHANNEL_UPDATE: Intents.Guilds,
  THREAD_CREATE: Intents.Guilds,
  THREAD_UPDATE: Intents.Guilds,
  THREAD_DELETE: Intents.Guilds,
  THREAD_MEMBER_UPDATE: Intents.Guilds,
  MESSAGE_CREATE: Intents.GuildMessages,
  MESSAGE_UPDATE: Intents.GuildMessages,
  MESSAGE_DELETE: Intents.GuildMessages,
  MESSAGE_REACTION_ADD: Intents.GuildMessageReactions,
  MESSAGE_REACTION_REMOVE: Intents.GuildMessageReactions,
};

interface Frame {
  op: 0;
  s: number;
  t: string;
  d: unknown;
}

interface Session {
  id: string;
  intents: number;
  seq: number;
  buffer: Frame[];
  socket: WebSocket | null;
}

export function guildPayload(state: FakeState): Record<string, unknown> {
  return {
    id: state.guildId,
    name: state.guildName,
    icon: null,
    splash: null,
    discovery_splash: null,
    banner: null,
    description: null,
    owner_id: [...state.users.values()].find((u) => !u.bot)?.id ?? state.botUserId,
    afk_channel_id: null,
    afk_timeout: 300,
    verification_level: 0,
    default_message_notifications: 1,
    explicit_content_filter: 0,
    features: [],
    mfa_level: 0,
    application_id: null,
    system_channel_id: null,
    system_channel_flags: 0,
    rules_channel_id: null,
    public_updates_channel_id: null,
    safety_alerts_channel_id: null,
    max_members: 500_000,
    vanity_url_code: null,
    premium_tier: 0,
    premium_subscription_count: 0,
    preferred_locale: 'en-US',
    nsfw_level: 0,
    premium_progress_bar_enabled: false,
    roles: [...state.roles.values()].map(rolePayload),
    emojis: [],
    stickers: [],
  };
}

function guildCreatePayload(state: FakeState): Record<string, unknown> {
  const channels = [...state.channels.values()];
  return {
    ...guildPayload(state),
    joined_at: new Date(state.members.get(state.botUserId)?.joinedAt ?? 0).toISOString(),
    large: false,
    unavailable: false,
    member_count: state.members.size,
    voice_states: [],
    members: [...state.members.values()].map((m) => memberPayload(state, m)),
    channels: channels.filter((c) => !isThread(c)).map((c) => channelPayload(state, c)),
    threads: channels.filter((c) => isThread(c) && !c.archived).map((c) => channelPayload(state, c, state.botUserId)),
    presences: [],
    stage_instances: [],
    guild_scheduled_events: [],
    soundboard_sounds: [],
  };
}

export class FakeGateway implements GatewayDispatcher {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sessions = new Map<string, Session>();
  private readonly sockets = new Set<WebSocket>();
  private sessionCounter = 0;

  constructor(
    private readonly core: FakeCore,
    private readonly opts: { heartbeatIntervalMs: number; url: () => string },
  ) {}

  get state(): FakeState {
    return this.core.state;
  }

  /** True while at least one identified/resumed session has an open socket. */
  isConnected(): boolean {
    return [...this.sessions.values()].some((s) => s.socket?.readyState === WebSocket.OPEN);
  }

  hasSession(): boolean {
    return this.sessions.size > 0;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req));
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const query = Object.fromEntries(new URL(req.url ?? '/', 'http://x').searchParams);
    this.sockets.add(ws);
    ws.on('error', () => undefined);
    ws.on('close', () => {
      this.sockets.delete(ws);
      for (const s of this.sessions.values()) if (s.socket === ws) s.socket = null;
      this.state.changed();
    });
    if ((query.encoding ?? 'json') !== 'json' || query.compress) {
      ws.close(4002, 'fake-discord supports encoding=json without transport compression only');
      return;
    }
    ws.on('message', (raw: RawData) => this.onMessage(ws, raw, query));
    this.send(ws, { op: 10, d: { heartbeat_interval: this.opts.heartbeatIntervalMs, _trace: ['fake-discord'] } });
  }

  private send(ws: WebSocket, payload: { op: number; d?: unknown; s?: number | null; t?: string | null }): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    this.state.gatewayLog.push({ at: this.core.clock.now(), direction: 'out', op: payload.op, t: payload.t ?? null });
    ws.send(JSON.stringify({ s: null, t: null, ...payload }));
  }

  private onMessage(ws: WebSocket, raw: RawData, query: Record<string, string>): void {
    let payload: { op?: number; d?: Record<string, unknown> | number | null };
    try {
      payload = JSON.parse(raw.toString()) as typeof payload;
    } catch {
      ws.close(4002, 'Error while decoding payload.');
      return;
    }
    const op = payload.op ?? -1;
    this.state.gatewayLog.push({ at: this.core.clock.now(), direction: 'in', op, t: null });
    const d = (typeof payload.d === 'object' && payload.d !== null ? payload.d : {}) as Record<string, unknown>;
    switch (op) {
      case 1:
        this.send(ws, { op: 11 });
        return;
      case 2:
        this.identify(ws, d, query);
        return;
      case 6:
        this.resume(ws, d);
        return;
      case 8: {
        const members = [...this.state.members.values()].map((m) => memberPayload(this.state, m));
        this.dispatchTo(this.sessionOf(ws), 'GUILD_MEMBERS_CHUNK', { guild_id: this.state.guildId, members, chunk_index: 0, chunk_count: 1, not_found: [], nonce: d.nonce });
        return;
      }
      case 3:
      case 4:
        return;
      default:
        ws.close(4001, 'Unknown opcode.');
    }
  }

  private sessionOf(ws: WebSocket): Session | undefined {
    return [...this.sessions.values()].find((s) => s.socket === ws);
  }

  private tokenOk(token: unknown): boolean {
    return typeof token === 'string' && token.replace(/^Bot\s+/i, '') === this.core.options.token;
  }

  private identify(ws: WebSocket, d: Record<string, unknown>, query: Record<string, string>): void {
    if (this.sessionOf(ws)) {
      ws.close(4005, 'Already authenticated.');
      return;
    }
    if (!this.tokenOk(d.token)) {
      ws.close(4004, 'Authentication failed.');
      return;
    }
    const intents = Number(d.intents ?? 0);
    this.state.identifies.push({ at: this.core.clock.now(), intents, properties: d.properties, shard: d.shard, compress: d.compress, query });
    this.sessionCounter += 1;
    const session: Session = { id: `fake-session-${this.sessionCounter}-${this.core.ids.next()}`, intents, seq: 0, buffer: [], socket: ws };
    this.sessions.set(session.id, session);
    const bot = this.state.users.get(this.state.botUserId)!;
    this.dispatchTo(session, 'READY', {
      v: 10,
      user: { ...userPayload(bot), verified: true, mfa_enabled: false, email: null },
      guilds: [{ id: this.state.guildId, unavailable: true }],
      session_id: session.id,
      session_type: 'normal',
      resume_gateway_url: this.opts.url(),
      shard: d.shard ?? [0, 1],
      application: { id: this.state.botUserId, flags: 0 },
      private_channels: [],
      relationships: [],
      presences: [],
      guild_join_requests: [],
      geo_ordered_rtc_regions: [],
      user_settings: {},
      auth: {},
      _trace: ['fake-discord'],
    });
    this.state.readyCount += 1;
    if (intents & Intents.Guilds) this.dispatchTo(session, 'GUILD_CREATE', guildCreatePayload(this.state));
    this.state.changed();
  }

  private resume(ws: WebSocket, d: Record<string, unknown>): void {
    const session = this.sessions.get(String(d.session_id));
    if (!session || !this.tokenOk(d.token)) {
      this.send(ws, { op: 9, d: false });
      return;
    }
    if (session.socket && session.socket !== ws) session.socket.close(4000, 'Session resumed elsewhere');
    session.socket = ws;
    const from = Number(d.seq ?? 0);
    for (const frame of session.buffer) if (frame.s > from) this.send(ws, frame);
    this.state.resumeCount += 1;
    this.dispatchTo(session, 'RESUMED', { _trace: ['fake-discord'] });
    this.state.changed();
  }

  private dispatchTo(session: Session | undefined, t: string, d: unknown): void {
    if (!session) return;
    session.seq += 1;
    const frame: Frame = { op: 0, s: session.seq, t, d };
    session.buffer.push(frame);
    if (session.buffer.length > 2000) session.buffer.shift();
    if (session.socket) this.send(session.socket, frame);
  }

  /** Send an event to every session that asked for its intent (events are buffered for RESUME). */
  dispatch(t: string, d: Record<string, unknown>): void {
    const needed = EVENT_INTENT[t];
    for (const session of this.sessions.values()) {
      if (needed !== undefined && !(session.intents & needed)) continue;
      this.dispatchTo(session, t, this.redact(session, t, d));
    }
  }

  /** Without MESSAGE_CONTENT, content/embeds/attachments/components are empty unless the bot wrote or is mentioned. */
  private redact(session: Session, t: string, d: Record<string, unknown>): Record<string, unknown> {
    if ((t !== 'MESSAGE_CREATE' && t !== 'MESSAGE_UPDATE') || session.intents & Intents.MessageContent) return d;
    const author = d.author as { id?: string } | undefined;
    const mentions = (d.mentions as Array<{ id: string }> | undefined) ?? [];
    if (author?.id === this.state.botUserId || mentions.some((m) => m.id === this.state.botUserId)) return d;
    return { ...d, content: '', embeds: [], attachments: [], components: [] };
  }

  /** Drop every socket (sessions survive, so discord.js can RESUME). Code 4000 = "unknown error, reconnect". */
  disconnect(code = 4000): void {
    for (const ws of this.sockets) ws.close(code, 'fake-discord disconnect');
  }

  /** Forget sessions: the next RESUME gets op 9 (d=false) and the client must IDENTIFY again. */
  invalidateSessions(): void {
    this.sessions.clear();
  }

  /** Send op 7 RECONNECT to every socket. */
  requestReconnect(): void {
    for (const ws of this.sockets) this.send(ws, { op: 7, d: null });
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
