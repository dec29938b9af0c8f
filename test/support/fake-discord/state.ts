/** In-memory model of the fake Discord: guild, channels, threads, messages, reactions, commands, logs. */
import { ObservableState } from '../fake-common/observable-state.js';
import type { Clock, RateLimitScope } from './rate-limits.js';

export interface FakeUser {
  id: string;
  username: string;
  globalName: string | null;
  bot: boolean;
}

export interface FakeMember {
  userId: string;
  roles: string[];
  nick: string | null;
  joinedAt: number;
}

export interface FakeRole {
  id: string;
  name: string;
  permissions: bigint;
  position: number;
  managed: boolean;
}

export interface FakeChannel {
  id: string;
  /** 0 text, 5 announcement, 11 public thread, 12 private thread */
  type: number;
  name: string;
  guildId: string;
  parentId: string | null;
  ownerId: string | null;
  position: number;
  archived: boolean;
  locked: boolean;
  autoArchiveDuration: number;
  archivedAt: number | null;
  createdAt: number;
  lastMessageId: string | null;
  memberIds: Set<string>;
  messageCount: number;
}

export interface StoredAttachment {
  id: string;
  filename: string;
  size: number;
  contentType: string | null;
  data: Buffer;
}

export interface MessageEdit {
  at: number;
  content: string;
  allowedMentions: unknown;
}

export interface StoredReaction {
  emoji: { id: string | null; name: string };
  userIds: string[];
}

export type MessageSource = 'rest' | 'interaction' | 'followup' | 'user' | 'seed';

export interface StoredMessage {
  id: string;
  channelId: string;
  authorId: string;
  content: string;
  type: number;
  flags: number;
  createdAt: number;
  editedAt: number | null;
  /** Every content change after creation, oldest first. */
  edits: MessageEdit[];
  nonce: string | number | undefined;
  enforceNonce: boolean;
  /** As sent on create (undefined = not sent). */
  allowedMentions: unknown;
  embeds: unknown[];
  components: unknown[];
  attachments: StoredAttachment[];
  reactions: StoredReaction[];
  mentionIds: string[];
  source: MessageSource;
  interactionId: string | null;
  messageReference: { message_id?: string; channel_id?: string } | null;
  threadId: string | null;
  deleted: boolean;
}

export interface RegisteredCommand {
  id: string;
  applicationId: string;
  guildId: string | null;
  name: string;
  description: string;
  type: number;
  options: CommandOptionDef[];
  raw: Record<string, unknown>;
  version: string;
}

export interface CommandOptionDef {
  name: string;
  type: number;
  description?: string;
  required?: boolean;
  autocomplete?: boolean;
  options?: CommandOptionDef[];
  choices?: unknown[];
}

export interface CallbackRecord {
  at: number;
  /** ms since the interaction was dispatched over the gateway */
  latencyMs: number;
  type: number;
  data: Record<string, unknown> | undefined;
  accepted: boolean;
  errorCode?: number;
}

export interface StoredInteraction {
  id: string;
  token: string;
  /** 2 application command, 3 component, 4 autocomplete */
  type: number;
  commandName: string;
  channelId: string;
  userId: string;
  dispatchedAt: number;
  callbacks: CallbackRecord[];
  originalMessageId: string | null;
  followupIds: string[];
  payload: Record<string, unknown>;
}

export interface RequestRecord {
  at: number;
  method: string;
  /** Path without the `/api/v10` prefix. */
  path: string;
  query: Record<string, string>;
  body: unknown;
  status: number;
  errorCode?: number;
}

export interface RateLimitHit {
  at: number;
  method: string;
  path: string;
  bucket: string | null;
  scope: RateLimitScope;
  global: boolean;
  retryAfterMs: number;
}

export interface IdentifyRecord {
  at: number;
  intents: number;
  properties: unknown;
  shard: unknown;
  compress: unknown;
  query: Record<string, string>;
}

export type { WaitOptions } from '../fake-common/observable-state.js';

export class FakeState extends ObservableState {
  readonly users = new Map<string, FakeUser>();
  readonly members = new Map<string, FakeMember>();
  readonly roles = new Map<string, FakeRole>();
  readonly channels = new Map<string, FakeChannel>();
  readonly channelMessages = new Map<string, StoredMessage[]>();
  readonly messagesById = new Map<string, StoredMessage>();
  readonly commands: RegisteredCommand[] = [];
  readonly interactions = new Map<string, StoredInteraction>();
  readonly requests: RequestRecord[] = [];
  readonly rateLimitHits: RateLimitHit[] = [];
  readonly identifies: IdentifyRecord[] = [];
  readonly unhandledRequests: RequestRecord[] = [];
  readonly gatewayLog: Array<{ at: number; direction: 'in' | 'out'; op: number; t: string | null }> = [];
  readyCount = 0;
  resumeCount = 0;
  /** `flags` of GET /applications/@me (privileged intents: 1 << 18 / 1 << 19 Message Content). */
  applicationFlags = 0;

  constructor(
    readonly clock: Clock,
    readonly guildId: string,
    readonly guildName: string,
    readonly botUserId: string,
  ) {
    super('fake-discord');
  }

  addMessage(message: StoredMessage): void {
    let list = this.channelMessages.get(message.channelId);
    if (!list) {
      list = [];
      this.channelMessages.set(message.channelId, list);
    }
    list.push(message);
    this.messagesById.set(message.id, message);
    const channel = this.channels.get(message.channelId);
    if (channel) {
      channel.lastMessageId = message.id;
      channel.messageCount += 1;
    }
    this.changed();
  }

  channelOrThrow(id: string): FakeChannel {
    const channel = this.channels.get(id);
    if (!channel) throw new Error(`fake-discord: unknown channel ${id}`);
    return channel;
  }

  /** Human-readable dump used in timeout errors. */
  override describe(): string {
    const lines: string[] = ['--- fake-discord state ---'];
    for (const channel of this.channels.values()) {
      const msgs = (this.channelMessages.get(channel.id) ?? []).filter((m) => !m.deleted);
      const flags = [channel.archived ? 'archived' : '', channel.locked ? 'locked' : ''].filter(Boolean).join(',');
      lines.push(`#${channel.name} (${channel.id}, type ${channel.type}${flags ? `, ${flags}` : ''}): ${msgs.length} messages`);
      for (const m of msgs.slice(-5)) {
        const reactions = m.reactions.map((r) => `${r.emoji.name}x${r.userIds.length}`).join(' ');
        lines.push(`  - ${m.id} by ${this.users.get(m.authorId)?.username ?? m.authorId}: ${JSON.stringify(m.content.slice(0, 120))}${reactions ? ` [${reactions}]` : ''}`);
      }
    }
    for (const i of this.interactions.values()) {
      lines.push(`interaction ${i.id} /${i.commandName}: callbacks=${i.callbacks.map((c) => c.type).join(',') || 'none'}`);
    }
    lines.push(`gateway: identifies=${this.identifies.length} ready=${this.readyCount} resumes=${this.resumeCount}`);
    lines.push(`requests=${this.requests.length} 429s=${this.rateLimitHits.length} unhandled=${this.unhandledRequests.map((r) => `${r.method} ${r.path}`).join(', ') || 'none'}`);
    const recent = this.requests.slice(-8).map((r) => `  ${r.method} ${r.path} -> ${r.status}${r.errorCode ? ` (${r.errorCode})` : ''}`);
    return [...lines, 'recent requests:', ...recent].join('\n');
  }
}
