/** In-memory model of the fake Slack workspace: users, channels, messages, commands, deliveries, logs. */
import { ObservableState } from '../fake-common/observable-state.js';
import type { Clock } from './rate-limits.js';

export interface FakeUser {
  id: string;
  name: string;
  realName: string;
  isBot: boolean;
  /** Set for the app's bot user (B…). */
  botId?: string;
  /** A guest account (`is_restricted`). */
  restricted?: boolean;
  /** The user's own workspace when it is not this one (a Slack Connect user). */
  teamId?: string;
}

export interface FakeChannel {
  id: string;
  name: string;
  isPrivate: boolean;
  /** User ids of members (the bot must be a member to receive message events and to post). */
  members: Set<string>;
}

export interface MessageEdit {
  at: number;
  text: string;
  blocks: unknown;
}

export interface StoredReaction {
  name: string;
  users: string[];
}

export interface MessageMetadata {
  event_type: string;
  event_payload: Record<string, unknown>;
}

export type MessageSource = 'api' | 'user' | 'seed';

export interface StoredMessage {
  channel: string;
  ts: string;
  /** Parent ts for replies (Slack: always the parent's ts, never a reply's). */
  threadTs: string | undefined;
  /** Author user id (the bot user for API posts). */
  user: string;
  /** Set for posts made with the bot token. */
  botId: string | undefined;
  text: string;
  blocks: unknown;
  metadata: MessageMetadata | undefined;
  /** As sent (undefined = not sent, i.e. Slack's default). */
  unfurlLinks: boolean | undefined;
  unfurlMedia: boolean | undefined;
  linkNames: boolean | undefined;
  replyBroadcast: boolean | undefined;
  /** Every chat.update after creation, oldest first. */
  edits: MessageEdit[];
  editedAt: number | undefined;
  reactions: StoredReaction[];
  createdAt: number;
  source: MessageSource;
  deleted: boolean;
  /** Files the message shares (a files.completeUploadExternal message); see files.ts. */
  files?: SharedFile[];
}

export interface SharedFile {
  id: string;
  name: string;
  title: string;
  mimetype: string | undefined;
  size: number;
}

export interface EphemeralMessage {
  at: number;
  channel: string;
  user: string;
  text: string;
  blocks: unknown;
  threadTs: string | undefined;
}

export interface UpdateRecord {
  at: number;
  channel: string;
  ts: string;
  text: string;
  ok: boolean;
  error?: string;
}

export interface ResponseUrlPost {
  at: number;
  body: Record<string, unknown>;
}

export interface AckRecord {
  at: number;
  /** ms between sending the envelope/request and the ack (socket ack message or HTTP response). */
  latencyMs: number;
  /** Socket Mode ack `payload`, or the parsed HTTP response body. */
  payload: unknown;
  /** HTTP status (HTTP mode only). */
  status?: number;
}

export type DeliveryKind = 'events_api' | 'slash_commands' | 'interactive';
export type SignatureMode = 'valid' | 'forged' | 'stale' | 'missing';

export interface Delivery {
  /** envelope_id (Socket Mode) or a fake id for HTTP deliveries. */
  id: string;
  transport: 'socket' | 'http';
  kind: DeliveryKind;
  /** The envelope payload / HTTP body (event_callback, or slash command fields). */
  payload: Record<string, unknown>;
  eventId: string | undefined;
  eventType: string | undefined;
  retryAttempt: number;
  retryReason: string | undefined;
  /** Set when the envelope was written to a socket / the request was sent. */
  sentAt: number | undefined;
  connectionId: number | undefined;
  signature: SignatureMode | undefined;
  ack: AckRecord | undefined;
  error: string | undefined;
}

export interface SlashCommandRecord {
  id: string;
  command: string;
  text: string;
  userId: string;
  channelId: string;
  responseUrl: string;
  triggerId: string;
  dispatchedAt: number;
  deliveryIds: string[];
  responses: ResponseUrlPost[];
}

export interface RequestRecord {
  at: number;
  /** Web API method, e.g. `chat.postMessage` (or `response_url`). */
  method: string;
  params: Record<string, unknown>;
  /** Which token authorised it (`bot`, `app`, or null). */
  token: 'bot' | 'app' | null;
  status: number;
  ok: boolean;
  error?: string;
}

export interface RateLimitHit {
  at: number;
  method: string;
  bucket: string;
  channel: string | undefined;
  retryAfterMs: number;
  /** Value of the Retry-After header (whole seconds). */
  retryAfterSec: number;
  injected: boolean;
}

export interface SocketConnectionRecord {
  id: number;
  openedAt: number;
  closedAt: number | undefined;
  closeCode: number | undefined;
  ticket: string;
}

export type { WaitOptions } from '../fake-common/observable-state.js';

export class FakeState extends ObservableState {
  readonly users = new Map<string, FakeUser>();
  readonly channels = new Map<string, FakeChannel>();
  readonly channelMessages = new Map<string, StoredMessage[]>();
  readonly ephemerals: EphemeralMessage[] = [];
  readonly updates: UpdateRecord[] = [];
  readonly commands = new Map<string, SlashCommandRecord>();
  readonly deliveries: Delivery[] = [];
  readonly requests: RequestRecord[] = [];
  readonly rateLimitHits: RateLimitHit[] = [];
  readonly unhandledRequests: RequestRecord[] = [];
  readonly connections: SocketConnectionRecord[] = [];
  /** Unused tickets of URLs returned by apps.connections.open. */
  readonly socketTickets = new Set<string>();
  /** apps.connections.open calls answered with a URL. */
  connectionsOpened = 0;

  constructor(
    readonly clock: Clock,
    readonly teamId: string,
    readonly appId: string,
    readonly botUserId: string,
    readonly botId: string,
  ) {
    super('fake-slack');
  }

  addMessage(message: StoredMessage): void {
    let list = this.channelMessages.get(message.channel);
    if (!list) {
      list = [];
      this.channelMessages.set(message.channel, list);
    }
    list.push(message);
    this.changed();
  }

  findMessage(channel: string, ts: string): StoredMessage | undefined {
    return this.channelMessages.get(channel)?.find((m) => m.ts === ts);
  }

  /** Resolve a channel by id or name (`general`, `#general`). */
  channel(ref: string): FakeChannel | undefined {
    const name = ref.replace(/^#/, '');
    return this.channels.get(ref) ?? [...this.channels.values()].find((c) => c.name === name);
  }

  channelOrThrow(ref: string): FakeChannel {
    const c = this.channel(ref);
    if (!c) throw new Error(`fake-slack: unknown channel ${ref}`);
    return c;
  }

  /** Human-readable dump used in timeout errors. */
  override describe(): string {
    const lines: string[] = ['--- fake-slack state ---'];
    const name = (id: string): string => this.users.get(id)?.name ?? id;
    for (const channel of this.channels.values()) {
      const msgs = (this.channelMessages.get(channel.id) ?? []).filter((m) => !m.deleted);
      lines.push(`#${channel.name} (${channel.id}): ${msgs.length} messages`);
      for (const m of msgs.slice(-6)) {
        const reactions = m.reactions.map((r) => `:${r.name}:x${r.users.length}`).join(' ');
        const thread = m.threadTs ? ` (thread ${m.threadTs})` : '';
        lines.push(`  - ${m.ts}${thread} by ${name(m.user)}: ${JSON.stringify(m.text.slice(0, 120))}${m.edits.length ? ` [${m.edits.length} edits]` : ''}${reactions ? ` [${reactions}]` : ''}`);
      }
    }
    for (const c of this.commands.values()) {
      const acks = c.deliveryIds.map((id) => this.deliveries.find((d) => d.id === id)?.ack ? 'acked' : 'unacked').join(',');
      lines.push(`command ${c.command} ${JSON.stringify(c.text)} by ${name(c.userId)}: ${acks}, ${c.responses.length} response_url posts`);
    }
    const open = this.connections.filter((c) => c.closedAt === undefined).length;
    lines.push(`socket: opened=${this.connectionsOpened} connections=${this.connections.length} open=${open}`);
    for (const d of this.deliveries.slice(-8)) {
      lines.push(`  delivery ${d.id} ${d.transport} ${d.kind}${d.eventType ? `/${d.eventType}` : ''} retry=${d.retryAttempt} ${d.sentAt === undefined ? 'QUEUED' : d.ack ? `acked in ${d.ack.latencyMs} ms${d.ack.status ? ` (HTTP ${d.ack.status})` : ''}` : 'unacked'}${d.error ? ` error=${d.error}` : ''}`);
    }
    lines.push(`requests=${this.requests.length} 429s=${this.rateLimitHits.length} unhandled=${this.unhandledRequests.map((r) => r.method).join(', ') || 'none'}`);
    const recent = this.requests.slice(-8).map((r) => `  ${r.method} -> ${r.status}${r.ok ? '' : ` ${r.error}`}`);
    return [...lines, 'recent requests:', ...recent].join('\n');
  }
}
