/** Ids, timestamps and the JSON shapes Slack sends: messages, events, event_callback bodies, slash commands. */
import type { Clock } from './rate-limits.js';
import type { FakeState, StoredMessage } from './state.js';

/** Slack-looking ids: a one-letter prefix and 10 upper-case base-36 characters (U0000000001…). */
export class Ids {
  private n = 0;
  next(prefix: string): string {
    this.n += 1;
    return `${prefix}${this.n.toString(36).toUpperCase().padStart(10, '0')}`;
  }
}

/** Message timestamps `"<seconds>.<6 digits>"`, unique and increasing even within one millisecond. */
export class TsGenerator {
  private lastMicros = 0;
  constructor(private readonly clock: Clock) {}
  next(): string {
    const micros = Math.max(this.clock.now() * 1000, this.lastMicros + 1);
    this.lastMicros = micros;
    const seconds = Math.floor(micros / 1_000_000);
    return `${seconds}.${String(micros % 1_000_000).padStart(6, '0')}`;
  }
}

/** A message as the Web API returns it (chat.postMessage `message`, conversations.replies). */
export function messageJson(state: FakeState, m: StoredMessage, options: { includeMetadata?: boolean } = {}): Record<string, unknown> {
  const json: Record<string, unknown> = { type: 'message', user: m.user, text: m.text, ts: m.ts, team: state.teamId };
  if (m.botId) {
    json.bot_id = m.botId;
    json.app_id = state.appId;
    json.bot_profile = { id: m.botId, app_id: state.appId, name: state.users.get(m.user)?.name ?? 'bot', team_id: state.teamId, deleted: false };
  } else {
    json.client_msg_id = `fake-${m.ts}`;
  }
  if (m.blocks !== undefined) json.blocks = m.blocks;
  if (m.threadTs) json.thread_ts = m.threadTs;
  if (m.editedAt !== undefined) json.edited = { user: m.user, ts: tsOf(m.editedAt) };
  if (m.reactions.length) json.reactions = m.reactions.map((r) => ({ name: r.name, users: [...r.users], count: r.users.length }));
  if (options.includeMetadata && m.metadata) json.metadata = m.metadata;
  if (m.files) json.files = m.files.map((f) => ({ ...f }));
  const replies = m.threadTs === undefined ? (state.channelMessages.get(m.channel) ?? []).filter((r) => r.threadTs === m.ts && !r.deleted) : [];
  if (replies.length) {
    json.thread_ts = m.ts;
    json.reply_count = replies.length;
    json.latest_reply = replies.at(-1)!.ts;
  }
  return json;
}

const tsOf = (ms: number): string => `${Math.floor(ms / 1000)}.${String((ms % 1000) * 1000).padStart(6, '0')}`;

/** The `message` event Slack dispatches for a new message (human or bot). */
export function messageEvent(state: FakeState, m: StoredMessage): Record<string, unknown> {
  const event: Record<string, unknown> = {
    type: 'message', channel: m.channel, user: m.user, text: m.text, ts: m.ts, event_ts: m.ts, channel_type: 'channel', team: state.teamId,
  };
  if (m.blocks !== undefined) event.blocks = m.blocks;
  if (m.threadTs) event.thread_ts = m.threadTs;
  if (m.botId) {
    event.bot_id = m.botId;
    event.app_id = state.appId;
    event.bot_profile = { id: m.botId, app_id: state.appId, name: state.users.get(m.user)?.name ?? 'bot', team_id: state.teamId };
  } else {
    event.client_msg_id = `fake-${m.ts}`;
  }
  return event;
}

/** `message` / `message_changed`: `previous` is a snapshot of the message before the edit. */
export function messageChangedEvent(state: FakeState, m: StoredMessage, previous: Record<string, unknown>, eventTs: string): Record<string, unknown> {
  return {
    type: 'message', subtype: 'message_changed', hidden: true, channel: m.channel, channel_type: 'channel', ts: eventTs, event_ts: eventTs,
    message: { ...messageJson(state, m), edited: { user: m.user, ts: eventTs } }, previous_message: previous,
  };
}

export function messageDeletedEvent(state: FakeState, m: StoredMessage, eventTs: string): Record<string, unknown> {
  return {
    type: 'message', subtype: 'message_deleted', hidden: true, channel: m.channel, channel_type: 'channel', ts: eventTs, event_ts: eventTs,
    deleted_ts: m.ts, previous_message: messageJson(state, m),
  };
}

export function reactionEvent(type: 'reaction_added' | 'reaction_removed', m: StoredMessage, userId: string, name: string, eventTs: string): Record<string, unknown> {
  return { type, user: userId, reaction: name, item_user: m.user, item: { type: 'message', channel: m.channel, ts: m.ts }, event_ts: eventTs };
}

export function appMentionEvent(state: FakeState, m: StoredMessage): Record<string, unknown> {
  const event: Record<string, unknown> = { type: 'app_mention', user: m.user, text: m.text, ts: m.ts, channel: m.channel, event_ts: m.ts, team: state.teamId };
  if (m.threadTs) event.thread_ts = m.threadTs;
  return event;
}

/** The Events API outer body (`event_callback`) that wraps every event. */
export function eventCallback(state: FakeState, event: Record<string, unknown>, eventId: string, eventTimeSec: number): Record<string, unknown> {
  return {
    token: 'fake-verification-token',
    team_id: state.teamId,
    context_team_id: state.teamId,
    context_enterprise_id: null,
    api_app_id: state.appId,
    event,
    type: 'event_callback',
    event_id: eventId,
    event_time: eventTimeSec,
    authorizations: [{ enterprise_id: null, team_id: state.teamId, user_id: state.botUserId, is_bot: true, is_enterprise_install: false }],
    is_ext_shared_channel: false,
    event_context: `4-fake-${eventId}`,
  };
}

/** Fields of a slash command request (form-encoded in HTTP mode, an object in a Socket Mode envelope). */
export function slashCommandBody(
  state: FakeState,
  spec: { command: string; text: string; userId: string; channelId: string; responseUrl: string; triggerId: string },
): Record<string, string> {
  const channel = state.channels.get(spec.channelId);
  return {
    token: 'fake-verification-token',
    team_id: state.teamId,
    team_domain: 'fake-workspace',
    channel_id: spec.channelId,
    channel_name: channel?.name ?? 'unknown',
    user_id: spec.userId,
    user_name: state.users.get(spec.userId)?.name ?? spec.userId,
    command: spec.command,
    text: spec.text,
    api_app_id: state.appId,
    is_enterprise_install: 'false',
    response_url: spec.responseUrl,
    trigger_id: spec.triggerId,
  };
}

export function userJson(state: FakeState, userId: string): Record<string, unknown> | undefined {
  const u = state.users.get(userId);
  if (!u) return undefined;
  return {
    id: u.id, team_id: u.teamId ?? state.teamId, name: u.name, real_name: u.realName, is_bot: u.isBot, deleted: false, is_admin: false,
    is_restricted: u.restricted ?? false, is_ultra_restricted: false, is_stranger: u.teamId !== undefined && u.teamId !== state.teamId,
    profile: { real_name: u.realName, display_name: u.name, ...(u.botId ? { bot_id: u.botId } : {}) },
  };
}

export function channelJson(state: FakeState, channelId: string): Record<string, unknown> | undefined {
  const c = state.channels.get(channelId);
  if (!c) return undefined;
  return {
    id: c.id, name: c.name, is_channel: !c.isPrivate, is_group: c.isPrivate, is_private: c.isPrivate, is_archived: false,
    is_member: c.members.has(state.botUserId), num_members: c.members.size, context_team_id: state.teamId,
  };
}
