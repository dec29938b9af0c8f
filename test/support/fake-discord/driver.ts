/** Test-side driver: make humans act (commands, messages, reactions) and query/wait on the fake's state. */
import {
  addReaction, buildMessage, postMessage, prepareChannelForPost, removeReaction, updateThread, type FakeCore,
} from './operations.js';
import { botPermissions, channelPayload, isThread, memberPayload, memberPermissions, interactionToken, parseEmoji, rolePayload, userPayload } from './payloads.js';
import type {
  CallbackRecord, CommandOptionDef, FakeChannel, FakeState, FakeUser, RateLimitHit, RegisteredCommand, RequestRecord, StoredInteraction,
  StoredMessage, StoredReaction, WaitOptions,
} from './state.js';

/** A human: username or user id of an existing user, or a user to create on the fly. */
export type HumanRef = string | FakeUser | { username: string; roles?: string[] };

export type OptionValue = string | number | boolean;

export interface CommandSpec {
  name: string;
  options?: Record<string, OptionValue>;
  subcommand?: string;
  /** Default: the first human (alice). */
  user?: HumanRef;
  /** Override the member's roles for this interaction (role names or ids). */
  roles?: string[];
  /** Default: #general. */
  channelId?: string;
  /** The server the interaction comes from (default: the fake's own guild). */
  guildId?: string;
}

export interface InteractionHandle {
  readonly id: string;
  readonly record: StoredInteraction;
  /** Resolves with the first callback (type 4/5/6/8…, latencyMs since dispatch); rejects after timeout. Lazy. */
  readonly ack: Promise<CallbackRecord>;
  original(): StoredMessage | undefined;
  followups(): StoredMessage[];
  waitForOriginal(predicate?: (m: StoredMessage) => boolean, options?: WaitOptions): Promise<StoredMessage>;
  waitForFollowup(predicate?: (m: StoredMessage) => boolean, options?: WaitOptions): Promise<StoredMessage>;
}

interface GatewayPresence {
  hasSession(): boolean;
}

export class FakeDriver {
  constructor(
    protected readonly core: FakeCore,
    private readonly presence: GatewayPresence,
  ) {}

  get state(): FakeState {
    return this.core.state;
  }

  // ---------- users ----------

  /** Find a user by id/username, or create a human (with guild member and roles) if given an object. */
  user(ref: HumanRef = [...this.state.users.values()].find((u) => !u.bot)!): FakeUser {
    const { state } = this.core;
    if (typeof ref === 'object' && 'id' in ref) return ref;
    const name = typeof ref === 'string' ? ref : ref.username;
    const found = state.users.get(name) ?? [...state.users.values()].find((u) => u.username === name);
    if (found) return found;
    if (typeof ref === 'string') throw new Error(`fake-discord: unknown user ${ref}`);
    const id = this.core.ids.next();
    const user: FakeUser = { id, username: name, globalName: name, bot: false };
    state.users.set(id, user);
    state.members.set(id, { userId: id, roles: (ref.roles ?? []).map((r) => this.roleId(r)), nick: null, joinedAt: this.core.clock.now() });
    state.changed();
    return user;
  }

  roleId(nameOrId: string): string {
    const role = this.state.roles.get(nameOrId) ?? [...this.state.roles.values()].find((r) => r.name === nameOrId);
    if (!role) throw new Error(`fake-discord: unknown role ${nameOrId}`);
    return role.id;
  }

  // ---------- humans acting ----------

  /** Dispatch INTERACTION_CREATE for a slash command (type 2). */
  sendCommand(spec: CommandSpec): InteractionHandle {
    return this.handle(this.dispatchInteraction(2, spec));
  }

  /** Dispatch an autocomplete interaction (type 4) and resolve with the choices the bot answered (callback type 8). */
  async sendAutocomplete(spec: CommandSpec & { focused: string }, options?: WaitOptions): Promise<Array<{ name: string; value: OptionValue }>> {
    const record = this.dispatchInteraction(4, spec);
    const cb = await this.waitFor(() => record.callbacks.find((c) => c.accepted), { description: `autocomplete answer for /${spec.name}`, ...options });
    return ((cb.data?.choices ?? []) as Array<{ name: string; value: OptionValue }>);
  }

  /** A human posts a message (stored, MESSAGE_CREATE dispatched). Posting in an archived thread unarchives it. */
  userMessage(spec: { channelId: string; content: string; user?: HumanRef; replyTo?: string }): StoredMessage {
    this.requireGateway();
    const user = this.user(spec.user);
    const channel = this.state.channelOrThrow(spec.channelId);
    prepareChannelForPost(this.core, channel, false);
    return postMessage(this.core, {
      channelId: channel.id,
      authorId: user.id,
      content: spec.content,
      source: 'user',
      type: spec.replyTo ? 19 : 0,
      messageReference: spec.replyTo ? { message_id: spec.replyTo, channel_id: channel.id } : null,
    });
  }

  /** Store a message without any gateway event (history from before the bot started). Author defaults to the bot. */
  seedMessage(spec: { channelId: string; content: string; author?: HumanRef | 'bot' }): StoredMessage {
    const authorId = !spec.author || spec.author === 'bot' ? this.state.botUserId : this.user(spec.author).id;
    this.state.channelOrThrow(spec.channelId);
    const message = buildMessage(this.core, { channelId: spec.channelId, authorId, content: spec.content, source: 'seed' });
    this.state.addMessage(message);
    return message;
  }

  addReaction(spec: { messageId: string; emoji: string; user?: HumanRef }): void {
    this.requireGateway();
    addReaction(this.core, this.messageOrThrow(spec.messageId), parseEmoji(spec.emoji), this.user(spec.user).id);
  }

  removeReaction(spec: { messageId: string; emoji: string; user?: HumanRef }): void {
    this.requireGateway();
    removeReaction(this.core, this.messageOrThrow(spec.messageId), parseEmoji(spec.emoji), this.user(spec.user).id);
  }

  /** Archive (and optionally lock) a thread, as Discord's auto-archive or a moderator would. */
  archiveThread(threadId: string, options: { locked?: boolean } = {}): void {
    updateThread(this.core, this.state.channelOrThrow(threadId), { archived: true, locked: options.locked });
  }

  // ---------- queries ----------

  /** Messages of a channel/thread in creation order (ephemeral and deleted ones hidden unless asked). */
  messages(channelId: string, options: { includeEphemeral?: boolean; includeDeleted?: boolean } = {}): StoredMessage[] {
    return (this.state.channelMessages.get(channelId) ?? []).filter(
      (m) => (options.includeDeleted || !m.deleted) && (options.includeEphemeral || !(m.flags & 64)),
    );
  }

  message(id: string): StoredMessage | undefined {
    return this.state.messagesById.get(id);
  }

  threads(): FakeChannel[] {
    return [...this.state.channels.values()].filter(isThread);
  }

  thread(id: string): FakeChannel | undefined {
    const c = this.state.channels.get(id);
    return c && isThread(c) ? c : undefined;
  }

  reactions(channelId: string, messageId: string): StoredReaction[] {
    const m = this.state.messagesById.get(messageId);
    return m && m.channelId === channelId ? m.reactions : [];
  }

  /** Registered application commands (default: the test guild's). */
  commands(guildId: string | null = this.state.guildId): RegisteredCommand[] {
    return this.state.commands.filter((c) => c.guildId === guildId);
  }

  get rateLimitHits(): readonly RateLimitHit[] {
    return this.state.rateLimitHits;
  }

  get requests(): readonly RequestRecord[] {
    return this.state.requests;
  }

  /** Intents of the latest IDENTIFY (undefined before the bot connects). */
  get intents(): number | undefined {
    return this.state.identifies.at(-1)?.intents;
  }

  /** Wait until `predicate` returns a truthy value; re-checked on every state change, never polled. */
  waitFor<T>(predicate: () => T | undefined | null | false, options?: WaitOptions): Promise<T> {
    return this.state.waitFor(predicate, options);
  }

  waitForMessage(channelId: string, predicate: (m: StoredMessage) => boolean = () => true, options?: WaitOptions): Promise<StoredMessage> {
    return this.waitFor(() => this.messages(channelId).find(predicate), { description: `message in channel ${channelId} matching ${predicate.toString()}`, ...options });
  }

  describe(): string {
    return this.state.describe();
  }

  // ---------- internals ----------

  private requireGateway(): void {
    if (!this.presence.hasSession()) throw new Error('fake-discord: the bot has not identified on the gateway yet (await client login / clientReady first)');
  }

  private messageOrThrow(id: string): StoredMessage {
    const m = this.state.messagesById.get(id);
    if (!m || m.deleted) throw new Error(`fake-discord: unknown message ${id}`);
    return m;
  }

  private dispatchInteraction(type: 2 | 4, spec: CommandSpec & { focused?: string }): StoredInteraction {
    this.requireGateway();
    const { state, ids, clock } = this.core;
    const user = this.user(spec.user);
    const baseMember = state.members.get(user.id)!;
    const member = spec.roles ? { ...baseMember, roles: spec.roles.map((r) => this.roleId(r)) } : baseMember;
    const channel = state.channelOrThrow(spec.channelId ?? [...state.channels.values()].find((c) => c.name === 'general')!.id);
    const command = state.commands.find((c) => c.name === spec.name && c.type === 1 && (c.guildId === state.guildId || c.guildId === null));
    const resolved: Record<string, Record<string, unknown>> = {};
    const defs = spec.subcommand ? command?.options.find((d) => d.name === spec.subcommand)?.options : command?.options;
    const values = this.buildOptions(defs, spec.options ?? {}, spec.focused, resolved);
    const options = spec.subcommand ? [{ name: spec.subcommand, type: 1, options: values }] : values;
    const id = ids.next();
    const token = interactionToken();
    const payload: Record<string, unknown> = {
      id,
      application_id: state.botUserId,
      type,
      token,
      version: 1,
      data: {
        id: command?.id ?? ids.next(),
        name: spec.name,
        type: 1,
        options,
        ...(command?.guildId ? { guild_id: command.guildId } : {}),
        ...(Object.keys(resolved).length ? { resolved } : {}),
      },
      guild_id: spec.guildId ?? state.guildId,
      guild: { id: spec.guildId ?? state.guildId, locale: 'en-US', features: [] },
      channel_id: channel.id,
      channel: channelPayload(state, channel),
      member: { ...memberPayload(state, member), permissions: memberPermissions(state, member).toString() },
      app_permissions: botPermissions.toString(),
      locale: 'en-US',
      guild_locale: 'en-US',
      entitlements: [],
      authorizing_integration_owners: { '0': state.guildId },
      context: 0,
      attachment_size_limit: 10_485_760,
    };
    const record: StoredInteraction = {
      id, token, type, commandName: spec.name, channelId: channel.id, userId: user.id, dispatchedAt: clock.now(),
      callbacks: [], originalMessageId: null, followupIds: [], payload,
    };
    state.interactions.set(id, record);
    state.changed();
    this.core.gateway.dispatch('INTERACTION_CREATE', payload);
    return record;
  }

  private buildOptions(defs: CommandOptionDef[] | undefined, values: Record<string, OptionValue>, focused: string | undefined, resolved: Record<string, Record<string, unknown>>): unknown[] {
    const { state } = this.core;
    return Object.entries(values).map(([name, value]) => {
      const type = defs?.find((d) => d.name === name)?.type ??
        (typeof value === 'boolean' ? 5 : typeof value === 'number' ? (Number.isInteger(value) ? 4 : 10) : 3);
      const key = String(value);
      if (type === 6 && state.users.has(key)) {
        (resolved.users ??= {})[key] = userPayload(state.users.get(key)!);
        const m = state.members.get(key);
        if (m) (resolved.members ??= {})[key] = { ...memberPayload(state, m, false), permissions: memberPermissions(state, m).toString() };
      } else if (type === 7 && state.channels.has(key)) {
        (resolved.channels ??= {})[key] = { ...channelPayload(state, state.channels.get(key)!), permissions: botPermissions.toString() };
      } else if (type === 8 && state.roles.has(key)) {
        (resolved.roles ??= {})[key] = rolePayload(state.roles.get(key)!);
      }
      return { name, type, value, ...(focused === name ? { focused: true } : {}) };
    });
  }

  private handle(record: StoredInteraction): InteractionHandle {
    let ack: Promise<CallbackRecord> | undefined;
    const waitForAck = (): Promise<CallbackRecord> =>
      this.waitFor(() => record.callbacks[0], { description: `first callback for interaction /${record.commandName}` });
    const original = (): StoredMessage | undefined => {
      const m = record.originalMessageId ? this.state.messagesById.get(record.originalMessageId) : undefined;
      return m && !m.deleted ? m : undefined;
    };
    const followups = (): StoredMessage[] => record.followupIds.map((id) => this.state.messagesById.get(id)!).filter((m) => !m.deleted);
    return {
      id: record.id,
      record,
      get ack() {
        return (ack ??= waitForAck());
      },
      original,
      followups,
      waitForOriginal: (predicate = () => true, options) =>
        this.waitFor(() => { const m = original(); return m && predicate(m) ? m : undefined; }, { description: `@original of /${record.commandName} matching ${predicate.toString()}`, ...options }),
      waitForFollowup: (predicate = () => true, options) =>
        this.waitFor(() => followups().find(predicate), { description: `followup of /${record.commandName} matching ${predicate.toString()}`, ...options }),
    };
  }
}
