/** Test-side driver: humans act (slash commands, messages, reactions), Slack redelivers, tests query and wait. */
import type { DeliveryRouter, SendOptions } from './delivery.js';
import { addReaction, createMessage, deleteMessage, dispatchEvent, removeReaction, updateMessage, type SlackCore } from './operations.js';
import { eventCallback, slashCommandBody } from './payloads.js';
import type {
  AckRecord, Delivery, EphemeralMessage, FakeState, MessageMetadata, RateLimitHit, RequestRecord, ResponseUrlPost, SignatureMode,
  SlashCommandRecord, StoredMessage, UpdateRecord, WaitOptions,
} from './state.js';

export interface SlashCommandSpec {
  command: string;
  text?: string;
  /** User name or id; default alice. */
  user?: string;
  /** Channel name or id; default general. */
  channel?: string;
  /** HTTP mode only. */
  signature?: SignatureMode;
  /** The workspace the command comes from (default: the fake's own). */
  teamId?: string;
}

export interface SlashCommandHandle {
  readonly id: string;
  readonly record: SlashCommandRecord;
  readonly delivery: Delivery;
  /** Resolves with the first ack (latencyMs, payload; `status` in HTTP mode); rejects after the wait timeout. Lazy. */
  readonly ack: Promise<AckRecord>;
  /** POSTs the app made to this command's response_url. */
  responses(): ResponseUrlPost[];
  waitForResponse(predicate?: (r: ResponseUrlPost) => boolean, options?: WaitOptions): Promise<ResponseUrlPost>;
}

export class FakeSlackDriver {
  constructor(
    protected readonly core: SlackCore,
    protected readonly router: DeliveryRouter,
  ) {}

  get state(): FakeState {
    return this.core.state;
  }

  /** User id from a name (`alice`) or id. */
  userId(ref = 'alice'): string {
    if (this.state.users.has(ref)) return ref;
    const u = [...this.state.users.values()].find((x) => x.name === ref);
    if (!u) throw new Error(`fake-slack: unknown user ${ref}`);
    return u.id;
  }

  /** Channel id from a name (`general`, `#general`) or id. */
  channelId(ref = 'general'): string {
    return this.state.channelOrThrow(ref).id;
  }

  // ---------- humans acting ----------

  /** A user runs a slash command: delivered as a `slash_commands` envelope (or a signed form POST in HTTP mode). */
  slashCommand(spec: SlashCommandSpec): SlashCommandHandle {
    const { state, ids, clock } = this.core;
    const id = ids.next('CMD');
    const record: SlashCommandRecord = {
      id, command: spec.command, text: spec.text ?? '', userId: this.userId(spec.user), channelId: this.channelId(spec.channel),
      responseUrl: `${this.core.baseUrl()}/response/${id}`, triggerId: `${ids.next('')}.fake.trigger`, dispatchedAt: clock.now(),
      deliveryIds: [], responses: [],
    };
    state.commands.set(id, record);
    const body = { ...slashCommandBody(state, record), ...(spec.teamId ? { team_id: spec.teamId } : {}) };
    const delivery = this.router.deliver('slash_commands', body, { signature: spec.signature });
    record.deliveryIds.push(delivery.id);
    state.changed();
    let ack: Promise<AckRecord> | undefined;
    return {
      id, record, delivery,
      get ack() {
        return (ack ??= waitAck());
      },
      responses: () => record.responses,
      waitForResponse: (predicate = () => true, options) =>
        this.waitFor(() => record.responses.find(predicate), { description: `response_url post for ${spec.command}`, ...options }),
    };
    function waitAck(): Promise<AckRecord> {
      return state.waitFor(() => delivery.ack ?? (delivery.error ? Promise.reject(new Error(delivery.error)) : undefined), {
        description: `ack of ${spec.command} ${spec.text ?? ''} (envelope ${delivery.id})`,
      }) as Promise<AckRecord>;
    }
  }

  /** A human posts (a top-level message, or a thread reply with `thread_ts`): stored, `message` event dispatched. */
  userMessage(spec: { channel?: string; text: string; user?: string; thread_ts?: string }): StoredMessage {
    return createMessage(this.core, { channel: this.channelId(spec.channel), user: this.userId(spec.user), text: spec.text, threadTs: spec.thread_ts, source: 'user' });
  }

  /** A human edits their message: `message_changed` dispatched. */
  editMessage(spec: { channel?: string; ts: string; text: string }): StoredMessage {
    const m = this.messageOrThrow(spec.channel, spec.ts);
    updateMessage(this.core, m, spec.text, undefined);
    return m;
  }

  /** A message is deleted: `message_deleted` dispatched. */
  deleteMessage(spec: { channel?: string; ts: string }): void {
    deleteMessage(this.core, this.messageOrThrow(spec.channel, spec.ts));
  }

  /** Store a message without dispatching anything (history from before the app started). Author defaults to the bot. */
  seedMessage(spec: { channel?: string; text: string; user?: string | 'bot'; thread_ts?: string; metadata?: MessageMetadata }): StoredMessage {
    const isBot = !spec.user || spec.user === 'bot';
    return createMessage(this.core, {
      channel: this.channelId(spec.channel), user: isBot ? this.state.botUserId : this.userId(spec.user), botId: isBot ? this.state.botId : undefined,
      text: spec.text, threadTs: spec.thread_ts, metadata: spec.metadata, source: 'seed',
    });
  }

  addReaction(spec: { channel?: string; ts: string; name: string; user?: string }): void {
    addReaction(this.core, this.messageOrThrow(spec.channel, spec.ts), spec.name.replace(/:/g, ''), this.userId(spec.user), true);
  }

  removeReaction(spec: { channel?: string; ts: string; name: string; user?: string }): void {
    removeReaction(this.core, this.messageOrThrow(spec.channel, spec.ts), spec.name.replace(/:/g, ''), this.userId(spec.user), true);
  }

  /** Deliver an arbitrary event (wrapped in event_callback). HTTP mode: choose the signature (`forged`, `stale`, `missing`). */
  sendEvent(event: Record<string, unknown>, options: SendOptions = {}): Delivery {
    const body = eventCallback(this.state, event, this.core.ids.next('Ev'), Math.floor(this.core.clock.now() / 1000));
    return this.router.deliverEvent(body, options);
  }

  /** Dispatch like Slack would (only if subscribed); undefined when the app does not subscribe to the type. */
  dispatch(event: Record<string, unknown>): Delivery | undefined {
    return dispatchEvent(this.core, event);
  }

  /** Slack gives up redelivering what waits for a connection (the app was down too long); returns what it dropped. */
  giveUpRedelivery(): Delivery[] {
    return this.router.discardQueued();
  }

  /** Deliver an envelope again (same event_id, higher retry_attempt / x-slack-retry-num). Accepts an envelope id, event id or delivery. */
  redeliver(ref: string | Delivery, options?: { reason?: string; signature?: SignatureMode }): Delivery {
    return this.router.redeliver(ref, options);
  }

  // ---------- queries ----------

  /** Messages of a channel in posting order (top-level and replies), deleted ones hidden unless asked. */
  messages(channel = 'general', options: { includeDeleted?: boolean } = {}): StoredMessage[] {
    return (this.state.channelMessages.get(this.channelId(channel)) ?? []).filter((m) => options.includeDeleted || !m.deleted);
  }

  /** The thread rooted at `ts`: parent first, then replies in order. */
  thread(channel: string, ts: string): StoredMessage[] {
    return this.messages(channel).filter((m) => m.ts === ts || m.threadTs === ts);
  }

  message(channel: string, ts: string): StoredMessage | undefined {
    return this.state.findMessage(this.channelId(channel), ts);
  }

  /** Messages posted with the bot token, across channels. */
  botPosts(channel?: string): StoredMessage[] {
    const lists = channel ? [this.messages(channel)] : [...this.state.channelMessages.values()];
    return lists.flat().filter((m) => m.botId === this.state.botId && !m.deleted && m.source === 'api');
  }

  get ephemerals(): EphemeralMessage[] {
    return this.state.ephemerals;
  }

  get updates(): UpdateRecord[] {
    return this.state.updates;
  }

  get rateLimitHits(): RateLimitHit[] {
    return this.state.rateLimitHits;
  }

  get requests(): RequestRecord[] {
    return this.state.requests;
  }

  /** Web API calls of one method, e.g. `calls('chat.postMessage')`. */
  calls(method: string): RequestRecord[] {
    return this.state.requests.filter((r) => r.method === method);
  }

  get deliveries(): Delivery[] {
    return this.state.deliveries;
  }

  /** Events API deliveries whose inner event matches, e.g. `eventDeliveries((e) => e.ts === msg.ts)`. */
  eventDeliveries(filter: (event: Record<string, unknown>) => boolean = () => true): Delivery[] {
    return this.state.deliveries.filter((d) => d.kind === 'events_api' && filter(d.payload.event as Record<string, unknown>));
  }

  /** Deliveries of one event id (the original and its redeliveries). */
  deliveriesOf(eventId: string): Delivery[] {
    return this.state.deliveries.filter((d) => d.eventId === eventId);
  }

  waitFor<T>(predicate: () => T | undefined | null | false, options?: WaitOptions): Promise<T> {
    return this.state.waitFor(predicate, options);
  }

  /** Wait until the delivery is acked (Socket Mode ack or HTTP response). */
  waitForAck(delivery: Delivery, options?: WaitOptions): Promise<AckRecord> {
    return this.waitFor(() => delivery.ack, { description: `ack of envelope ${delivery.id} (${delivery.kind}${delivery.eventType ? `/${delivery.eventType}` : ''})`, ...options });
  }

  private messageOrThrow(channel: string | undefined, ts: string): StoredMessage {
    const m = this.state.findMessage(this.channelId(channel), ts);
    if (!m || m.deleted) throw new Error(`fake-slack: no message ${ts} in ${channel ?? 'general'}`);
    return m;
  }
}
