/** REST routes for channels, messages, threads, reactions, guild and users. */
import { ApiError, attachmentsFrom, formError, notFound, str, type RouteContext, type RouteDef } from './http.js';
import {
  addReaction, createThread, deleteMessage, editMessage, joinThread, postMessage, prepareChannelForPost, updateThread, validateContent,
  type FakeCore,
} from './operations.js';
import { channelPayload, emojiKey, isThread, memberPayload, messagePayload, parseEmoji, rolePayload, userPayload } from './payloads.js';
import type { BucketRef } from './rate-limits.js';
import type { FakeChannel, StoredMessage } from './state.js';
import { refuseOldEdit, removeReaction } from './operations.js';

const ALLOWED_CREATE_FLAGS = (1 << 2) | (1 << 12) | (1 << 15);

export function channelRoutes(core: FakeCore): RouteDef[] {
  const { state } = core;
  const bot = state.botUserId;
  const rl = core.rateLimits;

  const channel = (ctx: RouteContext): FakeChannel => {
    const found = state.channels.get(ctx.params.channel ?? '');
    if (!found) throw notFound(10003, 'Channel');
    return found;
  };
  const message = (ctx: RouteContext): StoredMessage => {
    const ch = channel(ctx);
    const found = state.messagesById.get(ctx.params.message ?? '');
    if (!found || found.deleted || found.channelId !== ch.id) throw notFound(10008, 'Message');
    return found;
  };
  const notArchived = (ch: FakeChannel): void => {
    if (isThread(ch) && ch.archived) throw new ApiError(400, 50083, 'Thread is archived');
  };
  const createBucket = (ctx: RouteContext): BucketRef => ({ key: `messages:${ctx.params.channel}`, hash: 'fake-channel-messages', config: rl.channelMessages });
  const editBucket = (ctx: RouteContext): BucketRef =>
    rl.editsShareChannelBucket ? createBucket(ctx) : { key: `edits:${ctx.params.channel}`, hash: 'fake-message-edits', config: rl.messageEdits };
  const reactionBucket = (): BucketRef => ({ key: `reactions:${bot}`, hash: 'fake-reactions', config: rl.reactions });
  const threadBucket = (): BucketRef => ({ key: `threads:${state.guildId}`, hash: 'fake-thread-create', config: rl.threadCreate });
  const msg = (m: StoredMessage): Record<string, unknown> => messagePayload(state, m);

  return [
    { method: 'GET', pattern: '/users/@me', auth: true, handle: () => ({ body: userPayload(state.users.get(bot)!) }) },
    {
      method: 'GET', pattern: '/users/:user', auth: true,
      handle: (ctx) => {
        const user = state.users.get(ctx.params.user ?? '');
        if (!user) throw notFound(10013, 'User');
        return { body: userPayload(user) };
      },
    },
    { method: 'GET', pattern: '/channels/:channel', auth: true, handle: (ctx) => ({ body: channelPayload(state, channel(ctx), bot) }) },
    {
      method: 'PATCH', pattern: '/channels/:channel', auth: true,
      handle: (ctx) => {
        const ch = channel(ctx);
        const b = ctx.body;
        updateThread(core, ch, {
          archived: typeof b.archived === 'boolean' ? b.archived : undefined,
          locked: typeof b.locked === 'boolean' ? b.locked : undefined,
          name: str(b.name),
          autoArchiveDuration: typeof b.auto_archive_duration === 'number' ? b.auto_archive_duration : undefined,
        });
        return { body: channelPayload(state, ch, bot) };
      },
    },
    { method: 'POST', pattern: '/channels/:channel/typing', auth: true, handle: (ctx) => (channel(ctx), { status: 204 }) },
    {
      method: 'GET', pattern: '/channels/:channel/messages', auth: true,
      handle: (ctx) => {
        const all = (state.channelMessages.get(channel(ctx).id) ?? []).filter((m) => !m.deleted && !(m.flags & 64));
        const limit = Math.min(100, Math.max(1, Number(ctx.query.get('limit') ?? 50)));
        const after = ctx.query.get('after');
        const before = ctx.query.get('before');
        const around = ctx.query.get('around');
        let picked: StoredMessage[];
        if (after) picked = all.filter((m) => BigInt(m.id) > BigInt(after)).slice(0, limit);
        else if (before) picked = all.filter((m) => BigInt(m.id) < BigInt(before)).slice(-limit);
        else if (around) {
          const idx = all.findIndex((m) => BigInt(m.id) >= BigInt(around));
          const start = Math.max(0, (idx < 0 ? all.length : idx) - Math.floor(limit / 2));
          picked = all.slice(start, start + limit);
        } else picked = all.slice(-limit);
        return { body: picked.reverse().map(msg) };
      },
    },
    {
      method: 'POST', pattern: '/channels/:channel/messages', auth: true, bucket: createBucket,
      handle: (ctx) => {
        const ch = channel(ctx);
        const b = ctx.body;
        const content = validateContent(b.content, { embeds: b.embeds, files: ctx.files.length, components: b.components });
        if (ctx.files.reduce((n, f) => n + f.data.length, 0) > core.options.uploadLimitBytes) throw new ApiError(413, 40005, 'Request entity too large');
        const nonce = b.nonce as string | number | undefined;
        if (nonce !== undefined && !(typeof nonce === 'number' && Number.isInteger(nonce)) && !(typeof nonce === 'string' && nonce.length <= 25)) {
          throw formError('nonce', 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
        }
        const enforceNonce = b.enforce_nonce === true;
        if (enforceNonce && nonce !== undefined) {
          const since = core.clock.now() - core.options.nonceWindowMs;
          const existing = [...state.messagesById.values()].find(
            (m) => m.authorId === bot && m.nonce === nonce && m.enforceNonce && m.createdAt >= since && !m.deleted,
          );
          if (existing) return { body: msg(existing) };
        }
        prepareChannelForPost(core, ch, true);
        const ref = b.message_reference as { message_id?: string; channel_id?: string } | undefined;
        const created = postMessage(core, {
          channelId: ch.id,
          authorId: bot,
          content,
          source: 'rest',
          type: ref?.message_id ? 19 : 0,
          flags: typeof b.flags === 'number' ? b.flags & ALLOWED_CREATE_FLAGS : 0,
          nonce,
          enforceNonce,
          allowedMentions: b.allowed_mentions,
          embeds: Array.isArray(b.embeds) ? b.embeds : [],
          components: Array.isArray(b.components) ? b.components : [],
          attachments: attachmentsFrom(ctx.files, () => core.ids.next()),
          messageReference: ref?.message_id ? { message_id: ref.message_id, channel_id: ref.channel_id ?? ch.id } : null,
        });
        return { body: msg(created) };
      },
    },
    { method: 'GET', pattern: '/channels/:channel/messages/:message', auth: true, handle: (ctx) => ({ body: msg(message(ctx)) }) },
    {
      method: 'PATCH', pattern: '/channels/:channel/messages/:message', auth: true, bucket: editBucket,
      handle: (ctx) => {
        const m = message(ctx);
        notArchived(channel(ctx));
        if (m.authorId !== bot) throw new ApiError(403, 50005, 'Cannot edit a message authored by another user');
        refuseOldEdit(core, channel(ctx), m);
        const b = ctx.body;
        const content = b.content === undefined ? undefined : validateContent(b.content, { embeds: b.embeds ?? m.embeds, files: m.attachments.length });
        editMessage(core, m, {
          content,
          allowedMentions: b.allowed_mentions,
          embeds: Array.isArray(b.embeds) ? b.embeds : undefined,
          components: Array.isArray(b.components) ? b.components : undefined,
        });
        return { body: msg(m) };
      },
    },
    {
      method: 'DELETE', pattern: '/channels/:channel/messages/:message', auth: true,
      handle: (ctx) => (deleteMessage(core, message(ctx)), { status: 204 }),
    },
    {
      method: 'POST', pattern: '/channels/:channel/messages/:message/threads', auth: true, bucket: threadBucket,
      handle: (ctx) => {
        const ch = channel(ctx);
        const starter = message(ctx);
        const thread = createThread(core, {
          parentId: ch.id,
          name: str(ctx.body.name) ?? '',
          type: ch.type === 5 ? 10 : 11,
          ownerId: bot,
          starterMessage: starter,
          autoArchiveDuration: typeof ctx.body.auto_archive_duration === 'number' ? ctx.body.auto_archive_duration : undefined,
        });
        return { status: 201, body: channelPayload(state, thread, bot) };
      },
    },
    {
      method: 'POST', pattern: '/channels/:channel/threads', auth: true, bucket: threadBucket,
      handle: (ctx) => {
        const ch = channel(ctx);
        const thread = createThread(core, {
          parentId: ch.id,
          name: str(ctx.body.name) ?? '',
          type: typeof ctx.body.type === 'number' ? ctx.body.type : 12,
          ownerId: bot,
          autoArchiveDuration: typeof ctx.body.auto_archive_duration === 'number' ? ctx.body.auto_archive_duration : undefined,
        });
        return { status: 201, body: channelPayload(state, thread, bot) };
      },
    },
    { method: 'PUT', pattern: '/channels/:channel/thread-members/@me', auth: true, handle: (ctx) => (joinThread(core, channel(ctx), bot), { status: 204 }) },
    {
      method: 'DELETE', pattern: '/channels/:channel/thread-members/@me', auth: true,
      handle: (ctx) => (channel(ctx).memberIds.delete(bot), state.changed(), { status: 204 }),
    },
    {
      method: 'PUT', pattern: '/channels/:channel/messages/:message/reactions/:emoji/@me', auth: true, bucket: reactionBucket,
      handle: (ctx) => {
        const m = message(ctx);
        notArchived(channel(ctx));
        addReaction(core, m, parseEmoji(ctx.params.emoji ?? ''), bot);
        return { status: 204 };
      },
    },
    {
      method: 'DELETE', pattern: '/channels/:channel/messages/:message/reactions/:emoji/@me', auth: true, bucket: reactionBucket,
      handle: (ctx) => {
        const m = message(ctx);
        notArchived(channel(ctx));
        removeReaction(core, m, parseEmoji(ctx.params.emoji ?? ''), bot);
        return { status: 204 };
      },
    },
    {
      method: 'GET', pattern: '/channels/:channel/messages/:message/reactions/:emoji', auth: true,
      handle: (ctx) => {
        const key = emojiKey(parseEmoji(ctx.params.emoji ?? ''));
        const reaction = message(ctx).reactions.find((r) => emojiKey(r.emoji) === key);
        const users = (reaction?.userIds ?? []).map((id) => state.users.get(id)).filter((u) => u !== undefined);
        return { body: reactionUsersPage(users, ctx.query).map(userPayload) };
      },
    },
    ...guildRoutes(core),
  ];
}

function guildRoutes(core: FakeCore): RouteDef[] {
  const { state } = core;
  const guild = (ctx: RouteContext): void => {
    if (ctx.params.guild !== state.guildId) throw notFound(10004, 'Guild');
  };
  return [
    {
      method: 'GET', pattern: '/guilds/:guild/channels', auth: true,
      handle: (ctx) => (guild(ctx), { body: [...state.channels.values()].filter((c) => !isThread(c)).map((c) => channelPayload(state, c)) }),
    },
    {
      method: 'GET', pattern: '/guilds/:guild/threads/active', auth: true,
      handle: (ctx) => {
        guild(ctx);
        const threads = [...state.channels.values()].filter((c) => isThread(c) && !c.archived);
        const members = threads.filter((t) => t.memberIds.has(state.botUserId)).map((t) => ({ id: t.id, user_id: state.botUserId, join_timestamp: new Date(t.createdAt).toISOString(), flags: 0 }));
        return { body: { threads: threads.map((t) => channelPayload(state, t)), members } };
      },
    },
    { method: 'GET', pattern: '/guilds/:guild/roles', auth: true, handle: (ctx) => (guild(ctx), { body: [...state.roles.values()].map(rolePayload) }) },
    {
      method: 'GET', pattern: '/guilds/:guild/members/:user', auth: true,
      handle: (ctx) => {
        guild(ctx);
        const member = state.members.get(ctx.params.user ?? '');
        if (!member) throw notFound(10007, 'Member');
        return { body: memberPayload(state, member) };
      },
    },
  ];
}

/** Discord's paging of reaction users: by user id, `after` exclusive, `limit` 1–100 (default 25). */
function reactionUsersPage<T extends { id: string }>(users: T[], query: URLSearchParams): T[] {
  const limit = Math.min(100, Math.max(1, Number(query.get('limit') ?? 25)));
  const after = query.get('after');
  return [...users].sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1)).filter((u) => !after || BigInt(u.id) > BigInt(after)).slice(0, limit);
}
