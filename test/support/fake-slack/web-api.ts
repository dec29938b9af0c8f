/** Web API methods of the fake Slack (`POST /api/<method>`), answering like Slack: `{ok:true,…}` or `{ok:false,error}`. */
import { addReaction, createMessage, deleteMessage, removeReaction, SlackApiError, updateMessage, type SlackCore } from './operations.js';
import { channelJson, messageJson, userJson } from './payloads.js';
import type { FakeChannel, MessageMetadata, StoredMessage } from './state.js';

export type Params = Record<string, unknown>;
export type TokenKind = 'bot' | 'app';
export interface MethodContext {
  params: Params;
  token: TokenKind;
}
export interface MethodDef {
  /** Which token the method accepts. */
  token: TokenKind;
  handle(ctx: MethodContext): Record<string, unknown>;
}

// ---------- parameter helpers (WebClient sends form-encoded strings; JSON bodies carry real types) ----------

export function str(p: Params, key: string): string | undefined {
  const v = p[key];
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? v : String(v);
}

function required(p: Params, key: string): string {
  const v = str(p, key);
  if (v === undefined || v === '') throw new SlackApiError(`invalid_arguments`, { response_metadata: { messages: [`[ERROR] missing required field: ${key}`] } });
  return v;
}

export function bool(p: Params, key: string): boolean | undefined {
  const v = p[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  return v === 'true' || v === '1' || v === 1;
}

function json(p: Params, key: string, error: string): unknown {
  const v = p[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    throw new SlackApiError(error);
  }
}

function metadata(p: Params): MessageMetadata | undefined {
  const m = json(p, 'metadata', 'invalid_metadata_format');
  if (m === undefined) return undefined;
  const o = m as Partial<MessageMetadata>;
  if (typeof o !== 'object' || typeof o.event_type !== 'string' || typeof o.event_payload !== 'object' || o.event_payload === null) {
    throw new SlackApiError('invalid_metadata_format');
  }
  return { event_type: o.event_type, event_payload: o.event_payload };
}

export function webApiMethods(core: SlackCore): Record<string, MethodDef> {
  const { state } = core;
  const channelOf = (p: Params): FakeChannel => {
    const c = state.channel(required(p, 'channel'));
    if (!c) throw new SlackApiError('channel_not_found');
    return c;
  };
  const messageOf = (channel: FakeChannel, ts: string): StoredMessage => {
    const m = state.findMessage(channel.id, ts);
    if (!m || m.deleted) throw new SlackApiError('message_not_found');
    return m;
  };
  const requireMember = (channel: FakeChannel): void => {
    if (!channel.members.has(state.botUserId)) throw new SlackApiError('not_in_channel');
  };
  const textAndBlocks = (p: Params): { text: string; blocks: unknown } => {
    const text = str(p, 'text') ?? '';
    const blocks = json(p, 'blocks', 'invalid_blocks');
    if (!text && (blocks === undefined || (Array.isArray(blocks) && blocks.length === 0))) throw new SlackApiError('no_text');
    return { text, blocks };
  };
  const bot = (handle: (p: Params) => Record<string, unknown>): MethodDef => ({ token: 'bot', handle: ({ params }) => handle(params) });

  return {
    'api.test': bot((p) => ({ args: p })),
    'auth.test': bot(() => ({
      url: 'https://fake-workspace.slack.com/', team: 'Fake Workspace', user: state.users.get(state.botUserId)?.name ?? 'bot',
      team_id: state.teamId, user_id: state.botUserId, bot_id: state.botId, is_enterprise_install: false,
    })),
    'apps.connections.open': {
      token: 'app',
      handle: () => {
        state.connectionsOpened += 1;
        const ticket = core.ids.next('t').toLowerCase();
        state.socketTickets.add(ticket);
        state.changed();
        return { url: `${core.baseUrl().replace(/^http/, 'ws')}/link/?ticket=${ticket}&app_id=${state.appId}` };
      },
    },
    'chat.postMessage': bot((p) => {
      const channel = channelOf(p);
      requireMember(channel);
      const { text, blocks } = textAndBlocks(p);
      const m = createMessage(core, {
        channel: channel.id, user: state.botUserId, botId: state.botId, text, blocks, threadTs: str(p, 'thread_ts') || undefined,
        metadata: metadata(p), unfurlLinks: bool(p, 'unfurl_links'), unfurlMedia: bool(p, 'unfurl_media'), linkNames: bool(p, 'link_names'),
        replyBroadcast: bool(p, 'reply_broadcast'), source: 'api',
      });
      return { channel: channel.id, ts: m.ts, message: messageJson(state, m, { includeMetadata: true }) };
    }),
    'chat.postEphemeral': bot((p) => {
      const channel = channelOf(p);
      const user = required(p, 'user');
      if (!state.users.has(user)) throw new SlackApiError('user_not_found');
      if (!channel.members.has(user)) throw new SlackApiError('user_not_in_channel');
      const { text, blocks } = textAndBlocks(p);
      const messageTs = core.ts.next();
      state.ephemerals.push({ at: core.clock.now(), channel: channel.id, user, text, blocks, threadTs: str(p, 'thread_ts') });
      state.changed();
      return { message_ts: messageTs };
    }),
    'chat.update': bot((p) => {
      const channel = channelOf(p);
      const ts = required(p, 'ts');
      const record = { at: core.clock.now(), channel: channel.id, ts, text: str(p, 'text') ?? '', ok: false as boolean, error: undefined as string | undefined };
      state.updates.push(record);
      try {
        const m = messageOf(channel, ts);
        if (m.botId !== state.botId) throw new SlackApiError('cant_update_message');
        const { text, blocks } = textAndBlocks(p);
        updateMessage(core, m, text, blocks, metadata(p));
        record.ok = true;
        return { channel: channel.id, ts: m.ts, text: m.text, message: messageJson(state, m, { includeMetadata: true }) };
      } catch (error) {
        if (error instanceof SlackApiError) record.error = error.error;
        throw error;
      }
    }),
    'chat.delete': bot((p) => {
      const channel = channelOf(p);
      const m = messageOf(channel, required(p, 'ts'));
      if (m.botId !== state.botId) throw new SlackApiError('cant_delete_message');
      deleteMessage(core, m);
      return { channel: channel.id, ts: m.ts };
    }),
    'chat.getPermalink': bot((p) => {
      const channel = channelOf(p);
      const m = messageOf(channel, required(p, 'message_ts'));
      const base = `https://fake-workspace.slack.com/archives/${channel.id}/p${m.ts.replace('.', '')}`;
      return { channel: channel.id, permalink: m.threadTs ? `${base}?thread_ts=${m.threadTs}&cid=${channel.id}` : base };
    }),
    'reactions.add': bot((p) => {
      const channel = channelOf(p);
      addReaction(core, messageOf(channel, required(p, 'timestamp')), required(p, 'name').replace(/:/g, ''), state.botUserId, false);
      return {};
    }),
    'reactions.remove': bot((p) => {
      const channel = channelOf(p);
      removeReaction(core, messageOf(channel, required(p, 'timestamp')), required(p, 'name').replace(/:/g, ''), state.botUserId, false);
      return {};
    }),
    'reactions.get': bot((p) => reactionsGet(state, channelOf(p), messageOf(channelOf(p), required(p, 'timestamp')), bool(p, 'full') ?? false)),
    'conversations.replies': bot((p) => {
      const channel = channelOf(p);
      const ts = required(p, 'ts');
      const parent = state.findMessage(channel.id, ts);
      if (!parent || parent.deleted) throw new SlackApiError('thread_not_found');
      const rootTs = parent.threadTs ?? parent.ts;
      const root = state.findMessage(channel.id, rootTs)!;
      const inclusive = bool(p, 'inclusive') ?? false;
      const oldest = str(p, 'oldest');
      const latest = str(p, 'latest');
      const inRange = (m: StoredMessage): boolean =>
        (oldest === undefined || (inclusive ? Number(m.ts) >= Number(oldest) : Number(m.ts) > Number(oldest))) &&
        (latest === undefined || (inclusive ? Number(m.ts) <= Number(latest) : Number(m.ts) < Number(latest)));
      const replies = (state.channelMessages.get(channel.id) ?? []).filter((m) => m.threadTs === rootTs && !m.deleted && inRange(m));
      const all = [root, ...replies]; // Slack always returns the parent first
      return page(all, p, (m) => messageJson(state, m, { includeMetadata: bool(p, 'include_all_metadata') ?? false }));
    }),
    'conversations.history': bot((p) => {
      const channel = channelOf(p);
      const top = (state.channelMessages.get(channel.id) ?? []).filter((m) => !m.deleted && (m.threadTs === undefined || m.replyBroadcast)).reverse();
      return page(top, p, (m) => messageJson(state, m, { includeMetadata: bool(p, 'include_all_metadata') ?? false }));
    }),
    'conversations.info': bot((p) => ({ channel: channelJson(state, channelOf(p).id) })),
    'conversations.join': bot((p) => {
      const channel = channelOf(p);
      const already = channel.members.has(state.botUserId);
      channel.members.add(state.botUserId);
      state.changed();
      return { channel: channelJson(state, channel.id), ...(already ? { warning: 'already_in_channel' } : {}) };
    }),
    'users.info': bot((p) => {
      const user = userJson(state, required(p, 'user'));
      if (!user) throw new SlackApiError('user_not_found');
      return { user };
    }),
  };
}

function page<T>(items: T[], p: Params, render: (item: T) => Record<string, unknown>): Record<string, unknown> {
  const limit = Math.max(1, Math.min(1000, Number(str(p, 'limit') ?? 100) || 100));
  const start = Number(str(p, 'cursor') ?? 0) || 0;
  const slice = items.slice(start, start + limit);
  const next = start + limit < items.length ? String(start + limit) : '';
  return { messages: slice.map(render), has_more: next !== '', response_metadata: { next_cursor: next } };
}

/**
 * `reactions.get` of a message: `{type: 'message', channel, message}` with the message's
 * `reactions` (`name`, `users`, `count`); without `full`, each `users` list is cut to its first 10
 * (Slack shortens long lists; `count` stays the total).
 */
function reactionsGet(state: SlackCore['state'], channel: FakeChannel, m: StoredMessage, full: boolean): Record<string, unknown> {
  const message = messageJson(state, m);
  if (!full && Array.isArray(message.reactions)) {
    message.reactions = (message.reactions as { users: string[] }[]).map((r) => ({ ...r, users: r.users.slice(0, 10) }));
  }
  return { type: 'message', channel: channel.id, message };
}
