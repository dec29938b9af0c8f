/** Shared core of the fake Slack and the state changes both the Web API and the driver perform. */
import { Ids, TsGenerator, appMentionEvent, eventCallback, messageChangedEvent, messageDeletedEvent, messageEvent, messageJson, reactionEvent } from './payloads.js';
import type { Clock, RateLimiter } from './rate-limits.js';
import type { Delivery, FakeState, MessageMetadata, StoredMessage } from './state.js';

export interface CoreOptions {
  botToken: string;
  appToken: string;
  signingSecret: string;
  /** Event types the app subscribes to (Events API). */
  subscribedEvents: Set<string>;
  /** Dispatch message_changed when the bot calls chat.update (as Slack does). */
  dispatchEdits: boolean;
  /** Scopes of the bot token, sent in the `x-oauth-scopes` header of bot-token calls (as Slack does). */
  botScopes: string[];
  /** files.completeUploadExternal names the share (channel and ts) in its answer; see files.ts. Default true. */
  fileSharesInAnswer?: boolean;
}

/** Sends envelopes/requests to the app; implemented by the delivery router. */
export interface EventSink {
  deliverEvent(body: Record<string, unknown>, options?: { retryAttempt?: number; retryReason?: string }): Delivery;
}

export interface SlackCore {
  state: FakeState;
  ids: Ids;
  ts: TsGenerator;
  clock: Clock;
  limiter: RateLimiter;
  options: CoreOptions;
  sink: EventSink;
  /** Base URL of the fake (`http://127.0.0.1:<port>`), known once listening. */
  baseUrl(): string;
}

export class SlackApiError extends Error {
  constructor(
    readonly error: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(error);
  }
}

/** Wrap `event` in an event_callback and deliver it if the app subscribes to its type. Returns the delivery. */
export function dispatchEvent(core: SlackCore, event: Record<string, unknown>): Delivery | undefined {
  const type = String(event.type);
  if (!core.options.subscribedEvents.has(type)) return undefined;
  const body = eventCallback(core.state, event, core.ids.next('Ev'), Math.floor(core.clock.now() / 1000));
  return core.sink.deliverEvent(body);
}

export interface NewMessage {
  channel: string;
  user: string;
  botId?: string;
  text: string;
  blocks?: unknown;
  threadTs?: string;
  metadata?: MessageMetadata;
  unfurlLinks?: boolean;
  unfurlMedia?: boolean;
  linkNames?: boolean;
  replyBroadcast?: boolean;
  source: StoredMessage['source'];
}

/** Store a message and (unless seeded) dispatch its `message` event (+ `app_mention` when it mentions the bot). */
export function createMessage(core: SlackCore, spec: NewMessage): StoredMessage {
  const { state } = core;
  let threadTs = spec.threadTs;
  if (threadTs !== undefined) {
    const parent = state.findMessage(spec.channel, threadTs);
    if (!parent || parent.deleted) throw new SlackApiError('thread_not_found');
    threadTs = parent.threadTs ?? parent.ts; // a reply to a reply lands in the parent's thread
  }
  const message: StoredMessage = {
    channel: spec.channel, ts: core.ts.next(), threadTs, user: spec.user, botId: spec.botId, text: spec.text, blocks: spec.blocks,
    metadata: spec.metadata, unfurlLinks: spec.unfurlLinks, unfurlMedia: spec.unfurlMedia, linkNames: spec.linkNames,
    replyBroadcast: spec.replyBroadcast, edits: [], editedAt: undefined, reactions: [], createdAt: core.clock.now(), source: spec.source, deleted: false,
  };
  state.addMessage(message);
  if (spec.source !== 'seed' && state.channels.get(spec.channel)?.members.has(state.botUserId)) {
    dispatchEvent(core, messageEvent(state, message));
    if (!spec.botId && message.text.includes(`<@${state.botUserId}>`)) dispatchEvent(core, appMentionEvent(state, message));
  }
  return message;
}

export function updateMessage(core: SlackCore, message: StoredMessage, text: string, blocks: unknown, metadata?: MessageMetadata): void {
  const previous = messageJson(core.state, message);
  const now = core.clock.now();
  message.edits.push({ at: now, text, blocks });
  message.text = text;
  if (blocks !== undefined) message.blocks = blocks;
  if (metadata !== undefined) message.metadata = metadata;
  message.editedAt = now;
  core.state.changed();
  if (core.options.dispatchEdits) dispatchEvent(core, messageChangedEvent(core.state, message, previous, core.ts.next()));
}

export function deleteMessage(core: SlackCore, message: StoredMessage): void {
  message.deleted = true;
  core.state.changed();
  dispatchEvent(core, messageDeletedEvent(core.state, message, core.ts.next()));
}

/** Add a reaction; dispatches `reaction_added` only when `dispatch` (humans acting through the driver). */
export function addReaction(core: SlackCore, message: StoredMessage, name: string, userId: string, dispatch: boolean): void {
  let reaction = message.reactions.find((r) => r.name === name);
  if (reaction?.users.includes(userId)) throw new SlackApiError('already_reacted');
  if (!reaction) {
    reaction = { name, users: [] };
    message.reactions.push(reaction);
  }
  reaction.users.push(userId);
  core.state.changed();
  if (dispatch) dispatchEvent(core, reactionEvent('reaction_added', message, userId, name, core.ts.next()));
}

export function removeReaction(core: SlackCore, message: StoredMessage, name: string, userId: string, dispatch: boolean): void {
  const reaction = message.reactions.find((r) => r.name === name);
  if (!reaction?.users.includes(userId)) throw new SlackApiError('no_reaction');
  reaction.users = reaction.users.filter((u) => u !== userId);
  if (reaction.users.length === 0) message.reactions = message.reactions.filter((r) => r !== reaction);
  core.state.changed();
  if (dispatch) dispatchEvent(core, reactionEvent('reaction_removed', message, userId, name, core.ts.next()));
}
