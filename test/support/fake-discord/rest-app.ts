/** REST routes for the gateway info, the application, commands, interaction callbacks and webhooks. */
import { ApiError, attachmentsFrom, formError, notFound, type RouteContext, type RouteDef } from './http.js';
import { deleteMessage, editMessage, postMessage, prepareChannelForPost, validateContent, type FakeCore } from './operations.js';
import { MessageFlag, messagePayload, userPayload } from './payloads.js';
import type { CommandOptionDef, RegisteredCommand, StoredInteraction, StoredMessage } from './state.js';

export function appRoutes(core: FakeCore, gatewayUrl: () => string, guildPayload: () => Record<string, unknown>): RouteDef[] {
  const { state } = core;
  const appId = state.botUserId;

  const application = (): Record<string, unknown> => ({
    id: appId,
    name: state.users.get(appId)?.username ?? 'bot',
    icon: null,
    description: 'fake-discord application',
    bot_public: false,
    bot_require_code_grant: false,
    verify_key: '0'.repeat(64),
    flags: state.applicationFlags,
    team: null,
    owner: userPayload(state.users.get(appId)!),
    bot: userPayload(state.users.get(appId)!),
    approximate_guild_count: 1,
    integration_types_config: { '0': {} },
  });
  const checkApp = (ctx: RouteContext): void => {
    if (ctx.params.app !== appId) throw notFound(10002, 'Application');
  };
  const checkGuild = (ctx: RouteContext): void => {
    if (ctx.params.guild !== state.guildId) throw notFound(10004, 'Guild');
  };
  const commandPayload = (c: RegisteredCommand): Record<string, unknown> => ({
    ...c.raw,
    id: c.id,
    application_id: c.applicationId,
    ...(c.guildId ? { guild_id: c.guildId } : {}),
    name: c.name,
    description: c.description,
    type: c.type,
    options: c.options,
    version: c.version,
    default_member_permissions: c.raw.default_member_permissions ?? null,
    nsfw: c.raw.nsfw ?? false,
  });
  const register = (guildId: string | null, raw: Record<string, unknown>, index: number): RegisteredCommand => {
    const name = typeof raw.name === 'string' ? raw.name : '';
    const type = typeof raw.type === 'number' ? raw.type : 1;
    if (!/^[-_\p{L}\p{N}]{1,32}$/u.test(name) || (type === 1 && name !== name.toLowerCase())) {
      throw formError(`${index}.name`, 'APPLICATION_COMMAND_INVALID_NAME', `Command name is invalid: ${JSON.stringify(name)}`);
    }
    const description = typeof raw.description === 'string' ? raw.description : '';
    if (type === 1 && (description.length < 1 || description.length > 100)) {
      throw formError(`${index}.description`, 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
    }
    const existing = state.commands.find((c) => c.guildId === guildId && c.name === name && c.type === type);
    return {
      id: existing?.id ?? core.ids.next(),
      applicationId: appId,
      guildId,
      name,
      description,
      type,
      options: Array.isArray(raw.options) ? (raw.options as CommandOptionDef[]) : [],
      raw,
      version: core.ids.next(),
    };
  };
  const overwrite = (guildId: string | null, body: unknown): RegisteredCommand[] => {
    if (!Array.isArray(body)) throw formError('_', 'BASE_TYPE_ARRAY', 'Must be an array.');
    const created = body.map((raw, i) => register(guildId, raw as Record<string, unknown>, i));
    const keep = state.commands.filter((c) => c.guildId !== guildId);
    state.commands.splice(0, state.commands.length, ...keep, ...created);
    state.changed();
    return created;
  };
  const commandsFor = (guildId: string | null): RegisteredCommand[] => state.commands.filter((c) => c.guildId === guildId);

  return [
    { method: 'GET', pattern: '/gateway', auth: false, handle: () => ({ body: { url: gatewayUrl() } }) },
    {
      method: 'GET', pattern: '/gateway/bot', auth: true,
      handle: () => ({
        body: {
          url: gatewayUrl(),
          shards: 1,
          session_start_limit: { total: 1000, remaining: 1000 - state.identifies.length, reset_after: 86_400_000, max_concurrency: 1 },
        },
      }),
    },
    { method: 'GET', pattern: '/applications/@me', auth: true, handle: () => ({ body: application() }) },
    { method: 'GET', pattern: '/oauth2/applications/@me', auth: true, handle: () => ({ body: application() }) },
    { method: 'GET', pattern: '/guilds/:guild', auth: true, handle: (ctx) => (checkGuild(ctx), { body: guildPayload() }) },
    {
      method: 'PUT', pattern: '/applications/:app/guilds/:guild/commands', auth: true,
      handle: (ctx) => (checkApp(ctx), checkGuild(ctx), { body: overwrite(ctx.params.guild!, ctx.rawBody).map(commandPayload) }),
    },
    {
      method: 'GET', pattern: '/applications/:app/guilds/:guild/commands', auth: true,
      handle: (ctx) => (checkApp(ctx), checkGuild(ctx), { body: commandsFor(ctx.params.guild!).map(commandPayload) }),
    },
    {
      method: 'POST', pattern: '/applications/:app/guilds/:guild/commands', auth: true,
      handle: (ctx) => {
        checkApp(ctx);
        checkGuild(ctx);
        const guildId = ctx.params.guild!;
        const cmd = register(guildId, ctx.body, 0);
        const rest = state.commands.filter((c) => c.id !== cmd.id);
        state.commands.splice(0, state.commands.length, ...rest, cmd);
        state.changed();
        return { status: 201, body: commandPayload(cmd) };
      },
    },
    {
      method: 'DELETE', pattern: '/applications/:app/guilds/:guild/commands/:command', auth: true,
      handle: (ctx) => {
        const idx = state.commands.findIndex((c) => c.id === ctx.params.command);
        if (idx < 0) throw notFound(10063, 'application command');
        state.commands.splice(idx, 1);
        state.changed();
        return { status: 204 };
      },
    },
    { method: 'PUT', pattern: '/applications/:app/commands', auth: true, handle: (ctx) => (checkApp(ctx), { body: overwrite(null, ctx.rawBody).map(commandPayload) }) },
    { method: 'GET', pattern: '/applications/:app/commands', auth: true, handle: (ctx) => (checkApp(ctx), { body: commandsFor(null).map(commandPayload) }) },
    ...interactionRoutes(core),
  ];
}

function interactionRoutes(core: FakeCore): RouteDef[] {
  const { state } = core;
  const appId = state.botUserId;
  const msg = (m: StoredMessage): Record<string, unknown> => messagePayload(state, m);

  const byToken = (ctx: RouteContext): StoredInteraction => {
    if (ctx.params.app !== appId) throw notFound(10015, 'Webhook');
    const found = [...state.interactions.values()].find((i) => i.token === ctx.params.token);
    if (!found || core.clock.now() - found.dispatchedAt > core.options.interactionTokenTtlMs) throw new ApiError(401, 50027, 'Invalid Webhook Token');
    if (!found.callbacks.some((c) => c.accepted)) throw notFound(10015, 'Webhook');
    return found;
  };
  const target = (ctx: RouteContext, i: StoredInteraction): StoredMessage => {
    const id = ctx.params.message === '@original' ? i.originalMessageId : ctx.params.message;
    const m = id ? state.messagesById.get(id) : undefined;
    if (!m || m.deleted || (m.id !== i.originalMessageId && !i.followupIds.includes(m.id))) throw notFound(10008, 'Message');
    return m;
  };
  const newInteractionMessage = (i: StoredInteraction, data: Record<string, unknown>, files: number, flags: number, source: 'interaction' | 'followup', ctx: RouteContext): StoredMessage => {
    const loading = (flags & MessageFlag.Loading) !== 0;
    const content = loading ? '' : validateContent(data.content, { embeds: data.embeds, files, components: data.components });
    const channel = state.channels.get(i.channelId);
    if (channel) prepareChannelForPost(core, channel, true);
    return postMessage(core, {
      channelId: i.channelId,
      authorId: appId,
      content,
      source,
      type: source === 'interaction' ? 20 : 0,
      flags,
      interactionId: i.id,
      allowedMentions: data.allowed_mentions,
      embeds: Array.isArray(data.embeds) ? data.embeds : [],
      components: Array.isArray(data.components) ? data.components : [],
      attachments: attachmentsFrom(ctx.files, () => core.ids.next()),
    });
  };
  const applyEdit = (m: StoredMessage, ctx: RouteContext): void => {
    const b = ctx.body;
    const content = b.content === undefined || b.content === null ? undefined : validateContent(b.content, { embeds: b.embeds ?? m.embeds, files: m.attachments.length + ctx.files.length });
    if (ctx.files.length > 0) m.attachments.push(...attachmentsFrom(ctx.files, () => core.ids.next()));
    editMessage(core, m, {
      content,
      allowedMentions: b.allowed_mentions,
      embeds: Array.isArray(b.embeds) ? b.embeds : undefined,
      components: Array.isArray(b.components) ? b.components : undefined,
    });
  };

  return [
    {
      method: 'POST', pattern: '/interactions/:interaction/:token/callback', auth: false,
      handle: (ctx) => {
        const i = state.interactions.get(ctx.params.interaction ?? '');
        if (!i || i.token !== ctx.params.token) throw new ApiError(404, 10062, 'Unknown interaction');
        const now = core.clock.now();
        const type = Number(ctx.body.type);
        const data = (ctx.body.data ?? {}) as Record<string, unknown>;
        const record = { at: now, latencyMs: now - i.dispatchedAt, type, data, accepted: false } as StoredInteraction['callbacks'][number];
        i.callbacks.push(record);
        const fail = (error: ApiError): never => {
          record.errorCode = error.code;
          state.changed();
          throw error;
        };
        if (i.callbacks.some((c) => c !== record && c.accepted)) fail(new ApiError(400, 40060, 'Interaction has already been acknowledged.'));
        if (record.latencyMs > core.options.interactionAckDeadlineMs) fail(new ApiError(404, 10062, 'Unknown interaction'));
        const flags = typeof data.flags === 'number' ? data.flags : 0;
        let message: StoredMessage | undefined;
        try {
          if (type === 4) message = newInteractionMessage(i, data, ctx.files.length, flags & (MessageFlag.Ephemeral | 4096 | 4), 'interaction', ctx);
          else if (type === 5) message = newInteractionMessage(i, data, 0, (flags & MessageFlag.Ephemeral) | MessageFlag.Loading, 'interaction', ctx);
          else if (type === 8) {
            const choices = (data.choices ?? []) as unknown[];
            if (i.type !== 4) fail(new ApiError(400, 50035, 'Autocomplete result for a non-autocomplete interaction'));
            if (choices.length > 25) fail(formError('data.choices', 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.'));
          } else if (![6, 7, 9].includes(type)) fail(formError('type', 'BASE_TYPE_CHOICES', `Value must be one of (4, 5, 6, 7, 8, 9): ${type}`));
        } catch (error) {
          if (error instanceof ApiError) fail(error);
          throw error;
        }
        record.accepted = true;
        if (message) i.originalMessageId = message.id;
        state.changed();
        if (ctx.query.get('with_response') !== 'true') return { status: 204 };
        return {
          body: {
            interaction: {
              id: i.id,
              type: i.type,
              response_message_id: message?.id,
              response_message_loading: type === 5,
              response_message_ephemeral: (flags & MessageFlag.Ephemeral) !== 0,
            },
            resource: { type, ...(message ? { message: msg(message) } : {}) },
          },
        };
      },
    },
    { method: 'GET', pattern: '/webhooks/:app/:token/messages/:message', auth: false, handle: (ctx) => ({ body: msg(target(ctx, byToken(ctx))) }) },
    {
      method: 'PATCH', pattern: '/webhooks/:app/:token/messages/:message', auth: false,
      handle: (ctx) => {
        const m = target(ctx, byToken(ctx));
        applyEdit(m, ctx);
        return { body: msg(m) };
      },
    },
    {
      method: 'DELETE', pattern: '/webhooks/:app/:token/messages/:message', auth: false,
      handle: (ctx) => (deleteMessage(core, target(ctx, byToken(ctx))), { status: 204 }),
    },
    {
      method: 'POST', pattern: '/webhooks/:app/:token', auth: false,
      handle: (ctx) => {
        const i = byToken(ctx);
        const original = i.originalMessageId ? state.messagesById.get(i.originalMessageId) : undefined;
        if (original && original.flags & MessageFlag.Loading) {
          // Discord: the first followup after a deferred reply replaces the "thinking…" message.
          applyEdit(original, ctx);
          return { body: msg(original) };
        }
        const flags = typeof ctx.body.flags === 'number' ? ctx.body.flags & (MessageFlag.Ephemeral | 4096 | 4) : 0;
        const m = newInteractionMessage(i, ctx.body, ctx.files.length, flags, 'followup', ctx);
        i.followupIds.push(m.id);
        state.changed();
        return ctx.query.get('wait') === 'true' ? { body: msg(m) } : { status: 204 };
      },
    },
  ];
}
