/**
 * The DiscordPort contract against the fake Discord through the real discord.js REST client (no
 * gateway, no engine): mentions off on creates and edits, enforce_nonce dedupe, idempotent thread
 * creation, unarchiving for edits and reactions, long rate limits thrown to delivery, and the
 * error classification delivery relies on. Also `registerCommands` for the CLI.
 */
import { DiscordAPIError, HTTPError, RateLimitError } from 'discord.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerCommands } from '../../../src/bots/discord/commands.js';
import { classifyDiscordError, DiscordPort } from '../../../src/bots/discord/discord-port.js';
import { channelIdOf, channelRef, messageIdsOf } from '../../../src/bots/discord/refs.js';
import { createWriteRest } from '../../../src/bots/discord/write-rest.js';
import { silentLogger } from '../../../src/logger.js';
import { startFakeDiscord, type FakeDiscord } from '../../support/fake-discord/index.js';

let fake: FakeDiscord;
let port: DiscordPort;

beforeAll(async () => {
  // Modelled buckets off: with the tiny threshold below, their ordinary waits would be thrown too.
  fake = await startFakeDiscord({ rateLimits: { enabled: false } });
  const discord = { token: fake.token, guildId: fake.guildId, notifyChannelId: null, apiBase: fake.apiBase };
  // The bot's own write client, with a small threshold so a short injected 429 counts as "long".
  port = new DiscordPort({ rest: createWriteRest(discord, { rejectOverMs: 200 }), guildId: fake.guildId, logger: silentLogger() });
});

afterAll(async () => {
  await fake?.close();
});

const general = () => channelRef(fake.channels.general);

describe('DiscordPort against the fake Discord', () => {
  it('posts with mentions off and a nonce; the same nonce returns the same message instead of posting twice', async () => {
    const a = await port.post(general(), null, '@everyone look <@123456789012345678>', { nonce: 'run1-a' });
    const b = await port.post(general(), null, '@everyone look <@123456789012345678>', { nonce: 'run1-a' });
    expect(b).toBe(a);
    const stored = fake.message(messageIdsOf(a).messageId)!;
    expect(stored).toMatchObject({ allowedMentions: { parse: [] }, nonce: 'run1-a', enforceNonce: true });
    expect(fake.messages(fake.channels.general).filter((m) => m.nonce === 'run1-a')).toHaveLength(1);
  });

  it('opens a public thread from a message (id = message id), idempotently, and posts into it', async () => {
    const header = await port.post(general(), null, 'header', { nonce: 'hdr-1' });
    const thread = await port.createThread(general(), header, 'x'.repeat(150));
    expect(channelIdOf(thread)).toBe(messageIdsOf(header).messageId);
    expect(fake.thread(channelIdOf(thread))).toMatchObject({ type: 11, autoArchiveDuration: 1440, parentId: fake.channels.general });
    expect(fake.thread(channelIdOf(thread))!.name).toHaveLength(100);
    expect(await port.createThread(general(), header, 'again')).toBe(thread);
    const inThread = await port.post(general(), thread, 'in the thread', { nonce: 'in-1' });
    expect(messageIdsOf(inThread).channelId).toBe(channelIdOf(thread));
    expect(port.permalink(general(), thread, null)).toBe(`https://discord.com/channels/${fake.guildId}/${channelIdOf(thread)}`);
    expect(port.permalink(general(), thread, inThread)).toBe(`https://discord.com/channels/${fake.guildId}/${channelIdOf(thread)}/${messageIdsOf(inThread).messageId}`);
  });

  it('edits with mentions off and reacts; in an archived thread it unarchives first', async () => {
    const header = await port.post(general(), null, 'header 2', { nonce: 'hdr-2' });
    const thread = await port.createThread(general(), header, 'archived later');
    const status = await port.post(general(), thread, 'status 1', { nonce: 'st-1' });
    fake.archiveThread(channelIdOf(thread));
    await port.edit(status, 'status 2 @here');
    const stored = fake.message(messageIdsOf(status).messageId)!;
    expect(stored.content).toBe('status 2 @here');
    expect(stored.edits.at(-1)!.allowedMentions).toEqual({ parse: [] });
    fake.archiveThread(channelIdOf(thread));
    await port.react(status, '⏹️');
    expect(fake.reactions(channelIdOf(thread), messageIdsOf(status).messageId).map((r) => r.emoji.name)).toEqual(['⏹️']);
    expect(fake.thread(channelIdOf(thread))!.archived).toBe(false);
  });

  it('throws a long rate limit to delivery (rate_limited with the wait) instead of sleeping inside discord.js', async () => {
    const header = await port.post(general(), null, 'header 3', { nonce: 'hdr-3' });
    fake.injectRateLimit({ method: 'POST', path: /\/threads$/, retryAfterMs: 2_000, scope: 'shared' });
    const err = await port.createThread(general(), header, 'limited').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    const klass = port.classifyError(err);
    expect(klass.kind).toBe('rate_limited');
    expect((klass as { retryAfterMs: number }).retryAfterMs).toBeGreaterThanOrEqual(2_000);
  });

  it('classifies unknown messages as permanent with the code, 5xx and resets as transient', async () => {
    const gone = await port.edit(`discord:${fake.channels.general}:123456789012345678`, 'x').catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(DiscordAPIError);
    expect(port.classifyError(gone)).toEqual({ kind: 'permanent', reason: expect.stringContaining('code 10008') });
    fake.injectFault({ method: 'PATCH', path: /\/messages\/\d+$/, status: 502, times: 10 });
    const msg = await port.post(general(), null, 'to edit', { nonce: 'e-1' });
    const requests = fake.requests.length;
    const flaky = await port.edit(msg, 'y').catch((e: unknown) => e);
    expect(port.classifyError(flaky)).toEqual({ kind: 'transient' });
    expect(flaky instanceof HTTPError || flaky instanceof DiscordAPIError).toBe(true);
    // discord.js did not repeat it by itself: delivery sees the error at once and owns the retry.
    expect(fake.requests.length - requests).toBe(1);
  });
});

describe('error classification without a server', () => {
  it('says what to fix for a channel the bot cannot write to, and treats 30046 as an edit to re-post', () => {
    const refusal = (status: number, code: number, message: string) =>
      new DiscordAPIError({ code, message }, code, status, 'POST', 'https://discord.test/api/v10/channels/1/messages', { body: {}, files: undefined });
    expect(classifyDiscordError(refusal(403, 50001, 'Missing Access'))).toEqual({ kind: 'permanent', reason: expect.stringContaining('give its role View Channel') });
    expect(classifyDiscordError(refusal(403, 50013, 'Missing Permissions'))).toEqual({ kind: 'permanent', reason: expect.stringContaining('Create Public Threads') });
    expect(classifyDiscordError(refusal(400, 30046, 'Maximum number of edits'))).toEqual({ kind: 'stale_edit' });
  });

  it('maps network failures to transient and unknown values to permanent', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(classifyDiscordError(reset)).toEqual({ kind: 'transient' });
    expect(classifyDiscordError(new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }))).toEqual({ kind: 'transient' });
    const abort = new Error('aborted');
    abort.name = 'AbortError';
    expect(classifyDiscordError(abort)).toEqual({ kind: 'transient' });
    expect(classifyDiscordError('weird')).toEqual({ kind: 'permanent', reason: 'weird' });
  });
});

describe('registerCommands (chatops register-commands)', () => {
  it('bulk-overwrites the guild commands without connecting to the gateway', async () => {
    const discord = { token: fake.token, guildId: fake.guildId, notifyChannelId: null, apiBase: fake.apiBase };
    const result = await registerCommands(discord, silentLogger());
    expect(result).toEqual({ guildId: fake.guildId, applicationId: fake.applicationId, names: ['run', 'runs', 'card', 'help'] });
    expect(fake.commands().map((c) => c.name)).toEqual(['run', 'runs', 'card', 'help']);
    await registerCommands(discord, silentLogger());
    expect(fake.commands()).toHaveLength(4);
    expect(fake.state.identifies).toHaveLength(0);
  });
});
