/**
 * Proves the fake Discord works with the REAL discord.js 14 client (no mocks): gateway handshake,
 * commands, interactions, messages, threads, reactions (incl. partials), rate-limit pacing, resume.
 */
import { once, type EventEmitter } from 'node:events';
import {
  ApplicationCommandOptionType, Client, DiscordAPIError, GatewayIntentBits, Partials, type Interaction, type Message, type MessageReaction,
  type PartialMessageReaction, type PartialUser, type TextChannel, type ThreadChannel, type User,
} from 'discord.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, startFakeDiscord, type FakeDiscord } from './fake-discord/index.js';

/** Resolve on the first `event` whose args satisfy `predicate` (listener attached before the trigger). */
function nextEvent<A extends unknown[]>(emitter: EventEmitter, event: string, predicate: (...args: A) => boolean = () => true, timeoutMs = 5_000): Promise<A> {
  return new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`timed out waiting for ${event}`));
    }, timeoutMs);
    const listener = (...args: unknown[]): void => {
      if (!predicate(...(args as A))) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args as A);
    };
    emitter.on(event, listener);
  });
}

describe('fake Discord with the real discord.js client', () => {
  let fake: FakeDiscord;
  let client: Client;
  let general: TextChannel;
  let anchor: Message;
  let thread: ThreadChannel;
  const seenRoles: boolean[] = [];
  const handlerErrors: unknown[] = [];

  beforeAll(async () => {
    fake = await startFakeDiscord({
      // Discord-shaped buckets, shrunk so discord.js's own header-driven waits stay short.
      rateLimits: { channelMessages: { limit: 5, windowMs: 400 }, reactions: { limit: 1, windowMs: 50 } },
    });
    client = new Client({
      intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.GuildMessageReactions, GatewayIntentBits.MessageContent],
      partials: [Partials.Message, Partials.Channel, Partials.Reaction, Partials.User],
      allowedMentions: { parse: [], repliedUser: false },
      rest: { api: fake.apiBase },
    });
    client.on('interactionCreate', (interaction) => void onInteraction(interaction).catch((error: unknown) => handlerErrors.push(error)));
    const onInteraction = async (interaction: Interaction): Promise<void> => {
      if (interaction.isAutocomplete()) {
        const typed = interaction.options.getFocused();
        await interaction.respond(['card-1', 'card-2', 'other'].filter((c) => c.startsWith(typed)).map((c) => ({ name: c, value: c })));
        return;
      }
      if (!interaction.isChatInputCommand()) return;
      await interaction.deferReply();
      seenRoles.push(interaction.inCachedGuild() && interaction.member.roles.cache.has(fake.roles.operator!));
      const card = interaction.options.getString('card', true);
      await interaction.editReply(`Started ${card}: ${interaction.options.getString('prompt') ?? ''}`);
    };
  });

  afterAll(async () => {
    expect(handlerErrors).toEqual([]);
    await client?.destroy();
    await fake?.close();
  });

  it('logs in over the fake gateway and sees the test guild', async () => {
    const ready = once(client, 'clientReady');
    await client.login(fake.token);
    await ready;
    expect(client.user?.id).toBe(fake.botUser.id);
    expect(client.application?.id).toBe(fake.applicationId);
    const guild = client.guilds.cache.get(fake.guildId);
    expect(guild?.available).toBe(true);
    general = guild!.channels.cache.get(fake.channels.general) as TextChannel;
    expect(general.name).toBe('general');
    expect(guild!.channels.cache.get(fake.channels.notify)?.name).toBe('notify');
    const wanted = GatewayIntentBits.Guilds | GatewayIntentBits.GuildMessages | GatewayIntentBits.GuildMessageReactions | GatewayIntentBits.MessageContent;
    expect(fake.intents).toBe(wanted);
    expect(fake.state.identifies[0]?.query).toMatchObject({ v: '10', encoding: 'json' });
  });

  it('registers guild commands and answers a slash command with defer + edit', async () => {
    await client.application!.commands.set(
      [{
        name: 'run',
        description: 'Run a card',
        options: [
          { type: ApplicationCommandOptionType.String, name: 'card', description: 'card id', required: true, autocomplete: true },
          { type: ApplicationCommandOptionType.String, name: 'prompt', description: 'extra prompt' },
        ],
      }],
      fake.guildId,
    );
    expect(fake.commands().map((c) => c.name)).toEqual(['run']);
    expect(fake.commands()[0]?.options.map((o) => o.name)).toEqual(['card', 'prompt']);

    expect(await fake.sendAutocomplete({ name: 'run', options: { card: 'card' }, focused: 'card' })).toEqual([
      { name: 'card-1', value: 'card-1' },
      { name: 'card-2', value: 'card-2' },
    ]);

    const cmd = fake.sendCommand({ name: 'run', user: 'alice', options: { card: 'card-1', prompt: 'add a test' } });
    const ack = await cmd.ack;
    expect(ack.type).toBe(5);
    expect(ack.accepted).toBe(true);
    expect(ack.latencyMs).toBeLessThan(3_000);
    const original = await cmd.waitForOriginal((m) => m.content.startsWith('Started'));
    expect(original.content).toBe('Started card-1: add a test');
    expect(original.channelId).toBe(fake.channels.general);
    expect(seenRoles).toEqual([true]);

    const secondAck = await fetch(`${fake.apiBase}/v10/interactions/${cmd.id}/${cmd.record.token}/callback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 4, data: { content: 'late' } }),
    });
    expect(secondAck.status).toBe(400);
    expect(((await secondAck.json()) as { code: number }).code).toBe(40060);
  });

  it('posts with allowed_mentions recorded, starts a thread and receives a human reply', async () => {
    const alice = fake.user('alice');
    anchor = await general.send({ content: `Run for <@${alice.id}> started`, allowedMentions: { parse: [] } });
    expect(fake.message(anchor.id)?.allowedMentions).toEqual({ parse: [] });
    expect(fake.messages(fake.channels.general).at(-1)?.content).toBe(`Run for <@${alice.id}> started`);

    thread = await anchor.startThread({ name: 'run card-1', autoArchiveDuration: 1440 });
    expect(thread.id).toBe(anchor.id);
    expect(fake.threads().map((t) => [t.id, t.name, t.parentId])).toEqual([[anchor.id, 'run card-1', fake.channels.general]]);
    const again = await anchor.startThread({ name: 'dup' }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(DiscordAPIError);
    expect((again as DiscordAPIError).code).toBe(160004);

    const reply = nextEvent<[Message]>(client, 'messageCreate', (m) => m.channelId === thread.id && !m.author.bot);
    fake.userMessage({ channelId: thread.id, content: 'please also cover the empty case', user: 'bob' });
    const [message] = await reply;
    expect(message.content).toBe('please also cover the empty case');
    expect(message.author.username).toBe('bob');
  });

  it('adds its own reaction and gets a human reaction on an uncached message via partials', async () => {
    const ownReaction = nextEvent<[MessageReaction]>(client, 'messageReactionAdd', (r) => r.message.id === anchor.id);
    await anchor.react('👀');
    expect(fake.reactions(fake.channels.general, anchor.id)).toEqual([{ emoji: { id: null, name: '👀' }, userIds: [fake.botUser.id] }]);
    expect((await ownReaction)[0].me).toBe(true);

    const old = fake.seedMessage({ channelId: fake.channels.general, content: 'status from before the restart' });
    const human = nextEvent<[MessageReaction | PartialMessageReaction, User | PartialUser]>(client, 'messageReactionAdd', (r) => r.message.id === old.id);
    fake.addReaction({ messageId: old.id, emoji: '🛑', user: 'alice' });
    const [reaction, user] = await human;
    expect(reaction.message.partial).toBe(true);
    expect(user.id).toBe(fake.user('alice').id);
    const full = await reaction.message.fetch();
    expect(full.content).toBe('status from before the restart');
    expect(full.author.id).toBe(fake.botUser.id);
    expect(reaction.emoji.name).toBe('🛑');
  });

  it('lets discord.js pace 6 quick creates in one thread by the rate-limit headers', async () => {
    const before = fake.rateLimitHits.length;
    const sent = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => thread.send(`chunk ${i}`)));
    const contents = fake.messages(thread.id).filter((m) => m.authorId === fake.botUser.id).map((m) => m.content);
    expect(contents).toEqual(['chunk 0', 'chunk 1', 'chunk 2', 'chunk 3', 'chunk 4', 'chunk 5']);
    expect(sent.map((m) => m.content)).toEqual(contents);
    const stored = fake.messages(thread.id).filter((m) => m.authorId === fake.botUser.id);
    // The 6th create had to wait for the next 400 ms window.
    expect(stored[5]!.createdAt - stored[0]!.createdAt).toBeGreaterThanOrEqual(400);
    const hits = fake.rateLimitHits.length - before;
    console.info(`[fake-discord] 429s during 6 quick creates: ${hits}; total 429s so far: ${fake.rateLimitHits.length}`);
    expect(hits).toBeLessThanOrEqual(1);

    // An unexpected 429 (e.g. a shared bucket): discord.js obeys Retry-After and retries by itself.
    fake.injectRateLimit({ method: 'POST', path: /^\/channels\/\d+\/messages$/, retryAfterMs: 120, scope: 'shared' });
    const retried = await thread.send('after a 429');
    expect(fake.message(retried.id)?.content).toBe('after a 429');
    expect(fake.rateLimitHits.at(-1)).toMatchObject({ scope: 'shared', retryAfterMs: 120, method: 'POST' });
  });

  it('rejects >2000 chars, dedupes enforce_nonce and survives a gateway drop with resume', async () => {
    const tooLong = await general.send('x'.repeat(2001)).catch((e: unknown) => e);
    expect((tooLong as DiscordAPIError).code).toBe(50035);

    const first = await general.send({ content: 'exactly once', nonce: 'outbox-42', enforceNonce: true });
    const second = await general.send({ content: 'exactly once', nonce: 'outbox-42', enforceNonce: true });
    expect(second.id).toBe(first.id);
    expect(fake.messages(fake.channels.general).filter((m) => m.nonce === 'outbox-42')).toHaveLength(1);

    const missed = nextEvent<[Message]>(client, 'messageCreate', (m) => m.content === 'sent while you were away');
    fake.disconnectGateway();
    fake.userMessage({ channelId: thread.id, content: 'sent while you were away', user: 'alice' });
    await missed;
    expect(fake.state.resumeCount).toBe(1);
    expect(fake.state.identifies).toHaveLength(1);
  });
});

describe('fake Discord threads and history', () => {
  it('unarchives a thread on post, joins threads and pages history with ?after', async () => {
    const fake = await startFakeDiscord();
    const client = new Client({ intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages], rest: { api: fake.apiBase } });
    try {
      const ready = once(client, 'clientReady');
      await client.login(fake.token);
      await ready;
      const notify = client.channels.cache.get(fake.channels.notify) as TextChannel;
      const thread = await notify.threads.create({ name: 'standalone' });
      expect(fake.thread(thread.id)?.type).toBe(11);
      const archived = nextEvent<[ThreadChannel, ThreadChannel]>(client, 'threadUpdate', (_old, t) => t.id === thread.id && t.archived === true);
      fake.archiveThread(thread.id);
      await archived;
      await expect(thread.join()).rejects.toMatchObject({ code: 50083 });
      const first = await thread.send('wakes the thread');
      expect(fake.thread(thread.id)?.archived).toBe(false);
      await thread.join();
      expect(fake.thread(thread.id)?.memberIds.has(fake.botUser.id)).toBe(true);
      fake.userMessage({ channelId: thread.id, content: 'human 1' });
      fake.userMessage({ channelId: thread.id, content: 'human 2' });
      const page = await thread.messages.fetch({ after: first.id, limit: 10 });
      expect([...page.values()].map((m) => m.content)).toEqual(['human 2', 'human 1']);
    } finally {
      await client.destroy();
      await fake.close();
    }
  });
});

describe('fake Discord REST model (raw HTTP)', () => {
  it('serves Discord-shaped 429s from an injectable clock, 401s and 40060 double acks', async () => {
    const clock = new ManualClock();
    const fake = await startFakeDiscord({ clock });
    try {
      const post = (content: string, auth = `Bot ${fake.token}`): Promise<Response> =>
        fetch(`${fake.apiBase}/v10/channels/${fake.channels.notify}/messages`, {
          method: 'POST',
          headers: { authorization: auth, 'content-type': 'application/json' },
          body: JSON.stringify({ content }),
        });
      expect((await post('nope', 'Bot wrong')).status).toBe(401);
      const ok = [];
      for (let i = 0; i < 5; i += 1) ok.push(await post(`m${i}`));
      expect(ok.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
      expect(ok[4]!.headers.get('x-ratelimit-remaining')).toBe('0');
      expect(ok[4]!.headers.get('x-ratelimit-limit')).toBe('5');
      expect(ok[4]!.headers.get('x-ratelimit-reset-after')).toBe('5.000');
      const limited = await post('m5');
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('5.000');
      expect(limited.headers.get('x-ratelimit-scope')).toBe('user');
      expect(await limited.json()).toEqual({ message: 'You are being rate limited.', retry_after: 5, global: false });
      expect(fake.rateLimitHits).toHaveLength(1);
      clock.advance(5_000);
      expect((await post('m5')).status).toBe(200);
      expect(fake.messages(fake.channels.notify).map((m) => m.content)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    } finally {
      await fake.close();
    }
  });
});
