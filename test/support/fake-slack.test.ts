/**
 * Proves the fake Slack works with the REAL @slack/bolt 4 App (no mocks): Web API via `clientOptions.slackApiUrl`,
 * Socket Mode (apps.connections.open → hello → envelopes → acks, redelivery, disconnect/reconnect) and HTTP mode
 * (signed requests; forged, stale and unsigned ones refused), plus Slack-shaped 429s.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { App, LogLevel, SocketModeReceiver, webApi, type Logger } from '@slack/bolt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, startFakeSlack, type FakeSlack, type StoredMessage } from './fake-slack/index.js';

/** A Bolt logger that keeps warnings/errors so the test can assert there were none. */
function recordingLogger(): Logger & { problems: string[] } {
  const problems: string[] = [];
  let level = LogLevel.WARN;
  return {
    problems,
    debug: () => undefined,
    info: () => undefined,
    warn: (...msg: unknown[]) => void problems.push(`warn: ${msg.join(' ')}`),
    error: (...msg: unknown[]) => void problems.push(`error: ${msg.join(' ')}`),
    setLevel: (l: LogLevel) => void (level = l),
    getLevel: () => level,
    setName: () => undefined,
  };
}

interface Seen {
  commands: Array<{ text: string; channel: string }>;
  messages: Array<Record<string, unknown>>;
  reactions: Array<{ reaction: string; user: string; ts: string }>;
  /** Every event body that got past Bolt's ignoreSelf, with the transport's retry number. */
  events: Array<{ eventId: string; type: string; retryNum: number | undefined }>;
  errors: unknown[];
}

function listen(app: App, seen: Seen): void {
  app.use(async ({ body, context, next }) => {
    const b = body as { event_id?: string; event?: { type?: string } };
    if (b.event_id) seen.events.push({ eventId: b.event_id, type: String(b.event?.type), retryNum: context.retryNum });
    await next();
  });
  app.command('/run', async ({ ack, command, respond, client }) => {
    await ack();
    seen.commands.push({ text: command.text, channel: command.channel_id });
    const card = command.text.split(' ')[0]!;
    const root = await client.chat.postMessage({
      channel: command.channel_id, text: `Run ${card} started by <@${command.user_id}>`,
      metadata: { event_type: 'outbox', event_payload: { id: `${card}-header` } }, unfurl_links: false, unfurl_media: false,
    });
    await client.chat.postMessage({
      channel: command.channel_id, thread_ts: root.ts!, text: 'working on it: https://example.com/x',
      metadata: { event_type: 'outbox', event_payload: { id: `${card}-1` } }, unfurl_links: false, unfurl_media: false,
    });
    await respond({ response_type: 'ephemeral', text: `started ${card}` });
  });
  app.message(async ({ message }) => void seen.messages.push(message as unknown as Record<string, unknown>));
  app.event('reaction_added', async ({ event }) => void seen.reactions.push({ reaction: event.reaction, user: event.user, ts: (event.item as { ts: string }).ts }));
  app.error(async (error) => void seen.errors.push(error));
}

const newSeen = (): Seen => ({ commands: [], messages: [], reactions: [], events: [], errors: [] });

describe('fake Slack with the real Bolt App in Socket Mode', () => {
  let slack: FakeSlack;
  let app: App;
  const seen = newSeen();
  const logger = recordingLogger();
  let root: StoredMessage;

  beforeAll(async () => {
    slack = await startFakeSlack();
    // Bolt copies clientOptions into installerOptions.clientOptions, which SocketModeReceiver hands to SocketModeClient:
    // apps.connections.open therefore also goes to slackApiUrl. auth.test runs in the constructor, so the fake must be up.
    app = new App({ token: slack.botToken, appToken: slack.appToken, socketMode: true, clientOptions: { slackApiUrl: slack.apiUrl }, logger });
    listen(app, seen);
  });

  afterAll(async () => {
    await app?.stop();
    await slack?.close();
    expect(seen.errors).toEqual([]);
    expect(logger.problems).toEqual([]);
  });

  it('starts: auth.test with the bot token, apps.connections.open with the app token, hello on the socket', async () => {
    await app.start();
    expect(slack.calls('auth.test').map((r) => [r.token, r.ok])).toEqual([['bot', true]]);
    expect(slack.calls('apps.connections.open').map((r) => [r.token, r.ok])).toEqual([['app', true]]);
    expect(slack.isSocketConnected()).toBe(true);
    expect(slack.state.connections).toHaveLength(1);
  });

  it('acks a slash command within 3 s, then posts a thread with metadata and unfurls off', async () => {
    const cmd = slack.slashCommand({ command: '/run', text: 'card-1 make it fast', user: 'alice', channel: 'general' });
    const ack = await cmd.ack;
    expect(ack.latencyMs).toBeLessThan(3_000);
    expect(cmd.delivery).toMatchObject({ transport: 'socket', kind: 'slash_commands' });
    expect((await cmd.waitForResponse()).body).toMatchObject({ response_type: 'ephemeral', text: 'started card-1' });
    expect(seen.commands).toEqual([{ text: 'card-1 make it fast', channel: slack.channels.general }]);

    root = await slack.waitFor(() => slack.botPosts('general').find((m) => m.text.startsWith('Run card-1')), { description: 'run header' });
    const thread = await slack.waitFor(() => { const t = slack.thread('general', root.ts); return t.length === 2 && t; });
    expect(root).toMatchObject({ threadTs: undefined, unfurlLinks: false, unfurlMedia: false, metadata: { event_type: 'outbox', event_payload: { id: 'card-1-header' } } });
    expect(root.text).toBe(`Run card-1 started by <@${slack.users.alice}>`);
    expect(thread[1]).toMatchObject({ threadTs: root.ts, botId: slack.botId, metadata: { event_payload: { id: 'card-1-1' } }, unfurlLinks: false });

    // A post whose answer was lost can be found again by its metadata.
    const replies = await app.client.conversations.replies({ channel: slack.channels.general, ts: root.ts, include_all_metadata: true });
    expect(replies.messages?.map((m) => (m.metadata?.event_payload as { id?: string } | undefined)?.id)).toEqual(['card-1-header', 'card-1-1']);
    const plain = await app.client.conversations.replies({ channel: slack.channels.general, ts: root.ts });
    expect(plain.messages?.[0]?.metadata).toBeUndefined();
    const link = await app.client.chat.getPermalink({ channel: slack.channels.general, message_ts: thread[1]!.ts });
    expect(link.permalink).toContain(`thread_ts=${root.ts}`);
  });

  it("delivers the bot's own posts as message events with bot_id, and Bolt's ignoreSelf drops them", async () => {
    const own = slack.eventDeliveries((e) => e.type === 'message' && e.bot_id === slack.botId);
    expect(own).toHaveLength(2);
    await Promise.all(own.map((d) => slack.waitForAck(d)));
    expect(seen.messages.filter((m) => m.bot_id)).toEqual([]);
    expect(seen.events.filter((e) => own.some((d) => d.eventId === e.eventId))).toEqual([]);
  });

  it('receives a human thread reply (message with thread_ts) and a reaction_added', async () => {
    const reply = slack.userMessage({ channel: 'general', thread_ts: root.ts, text: 'steer: use sqlite', user: 'bob' });
    const got = await slack.waitFor(() => seen.messages.find((m) => m.ts === reply.ts), { description: 'thread reply seen by the app' });
    expect(got).toMatchObject({ thread_ts: root.ts, user: slack.users.bob, text: 'steer: use sqlite', channel: slack.channels.general });
    expect(got.subtype).toBeUndefined();

    slack.addReaction({ channel: 'general', ts: root.ts, name: 'octagonal_sign', user: 'alice' });
    await slack.waitFor(() => seen.reactions.length === 1, { description: 'reaction_added seen by the app' });
    expect(seen.reactions[0]).toEqual({ reaction: 'octagonal_sign', user: slack.users.alice, ts: root.ts });
    expect(slack.message('general', root.ts)?.reactions).toEqual([{ name: 'octagonal_sign', users: [slack.users.alice] }]);
  });

  it("passes message_changed for the bot's own chat.update through ignoreSelf (the app must filter edits itself)", async () => {
    await app.client.chat.update({ channel: slack.channels.general, ts: root.ts, text: 'Run card-1: running' });
    expect(slack.updates.at(-1)).toMatchObject({ ts: root.ts, ok: true });
    expect(slack.message('general', root.ts)?.edits.map((e) => e.text)).toEqual(['Run card-1: running']);
    const changed = await slack.waitFor(() => seen.messages.find((m) => m.subtype === 'message_changed'), { description: 'message_changed' });
    expect((changed.message as { bot_id?: string }).bot_id).toBe(slack.botId);
  });

  it('a redelivered envelope (same event_id, retry_attempt 1) reaches the app twice: dedupe is the app’s job', async () => {
    const msg = slack.userMessage({ channel: 'general', text: 'hello bot', user: 'alice' });
    const first = slack.eventDeliveries((e) => e.ts === msg.ts)[0]!;
    await slack.waitForAck(first);
    const again = slack.redeliver(first.eventId!);
    expect(again.id).not.toBe(first.id);
    expect(again).toMatchObject({ eventId: first.eventId, retryAttempt: 1, retryReason: 'timeout' });
    await slack.waitForAck(again);
    const seenTwice = await slack.waitFor(() => { const e = seen.events.filter((x) => x.eventId === first.eventId); return e.length === 2 && e; });
    expect(seenTwice.map((e) => e.retryNum)).toEqual([0, 1]);
    expect(seen.messages.filter((m) => m.ts === msg.ts)).toHaveLength(2);
  });

  it('5 quick posts to one channel: Slack-shaped 429s, and a retries:0 + rejectRateLimitedCalls client rejects instead of waiting', async () => {
    const writer = new webApi.WebClient(slack.botToken, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true, logLevel: webApi.LogLevel.ERROR });
    const before = slack.rateLimitHits.length;
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((n) => writer.chat.postMessage({ channel: slack.channels.notify, text: `post ${n}` })));
    // Rejected, not paused for Retry-After: a client that waited would have retried them into successes.
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as { code: string; retryAfter: number });
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3); // burst of 3 per channel
    expect(rejected.map((e) => [e.code, e.retryAfter])).toEqual([[webApi.ErrorCode.RateLimitedError, 1], [webApi.ErrorCode.RateLimitedError, 1]]);
    expect(slack.rateLimitHits.slice(before).map((h) => [h.method, h.bucket, h.retryAfterSec])).toEqual([
      ['chat.postMessage', `postMessage:${slack.channels.notify}`, 1],
      ['chat.postMessage', `postMessage:${slack.channels.notify}`, 1],
    ]);
    expect(slack.botPosts('notify')).toHaveLength(3); // a refused call posts nothing
    // The raw answer: HTTP 429, Retry-After in whole seconds, {ok:false, error:'ratelimited'}.
    const raw = await fetch(`${slack.apiUrl}chat.postMessage`, {
      method: 'POST', headers: { authorization: `Bearer ${slack.botToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: slack.channels.notify, text: 'one more' }),
    });
    expect([raw.status, raw.headers.get('retry-after'), await raw.json()]).toEqual([429, '1', { ok: false, error: 'ratelimited' }]);
    // Other channels are not affected.
    await expect(writer.chat.postMessage({ channel: slack.channels.general, text: 'elsewhere' })).resolves.toMatchObject({ ok: true });
  });

  it('rejects a wrong token with invalid_auth', async () => {
    const bad = new webApi.WebClient('xoxb-wrong', { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
    await expect(bad.auth.test()).rejects.toMatchObject({ data: { ok: false, error: 'invalid_auth' } });
  });
});

describe('fake Slack Socket Mode: disconnect and reconnect', () => {
  let slack: FakeSlack;
  let app: App;
  const seen = newSeen();

  beforeAll(async () => {
    slack = await startFakeSlack();
    // A custom SocketModeReceiver needs clientOptions itself (installerOptions.clientOptions) to reach the fake;
    // clientPingTimeout also sets the SDK's reconnect delay (default 5 s), shrunk here so the test stays fast.
    const receiver = new SocketModeReceiver({
      appToken: slack.appToken, clientPingTimeout: 300, installerOptions: { clientOptions: { slackApiUrl: slack.apiUrl } }, logLevel: LogLevel.ERROR,
    });
    app = new App({ receiver, token: slack.botToken, clientOptions: { slackApiUrl: slack.apiUrl }, logLevel: LogLevel.ERROR });
    listen(app, seen);
    await app.start();
  });

  afterAll(async () => {
    await app?.stop();
    await slack?.close();
    expect(seen.errors).toEqual([]);
  });

  it('reconnects after a `disconnect` message; events sent meanwhile are delivered on the new connection', async () => {
    await slack.waitForSocketConnected();
    slack.disconnectSocket('refresh_requested');
    await slack.waitFor(() => !slack.isSocketConnected(), { description: 'socket closed by the client' });
    const msg = slack.userMessage({ channel: 'general', text: 'while away', user: 'alice' });
    await slack.waitForSocketConnected({ count: 2 });
    await slack.waitFor(() => seen.messages.find((m) => m.ts === msg.ts), { description: 'queued event delivered after reconnect' });
    expect(slack.calls('apps.connections.open')).toHaveLength(2);
    expect(slack.state.connections[0]?.closeCode).toBe(1000);
  });

  it('reconnects after the server drops the connection', async () => {
    slack.dropSocket({ terminate: true });
    await slack.waitForSocketConnected({ count: 3 });
    const msg = slack.userMessage({ channel: 'general', text: 'after drop', user: 'bob' });
    await slack.waitFor(() => seen.messages.find((m) => m.ts === msg.ts));
  });
});

describe('fake Slack with the real Bolt App in HTTP mode', () => {
  let slack: FakeSlack;
  let app: App;
  const seen = newSeen();

  beforeAll(async () => {
    slack = await startFakeSlack();
    app = new App({ token: slack.botToken, signingSecret: slack.signingSecret, clientOptions: { slackApiUrl: slack.apiUrl }, logLevel: LogLevel.ERROR });
    listen(app, seen);
    const server = (await app.start({ port: 0, host: '127.0.0.1' })) as Server;
    slack.useHttpMode(`http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`);
  });

  afterAll(async () => {
    await app?.stop();
    await slack?.close();
    expect(seen.errors).toEqual([]);
  });

  it('handles a correctly signed slash command (form-encoded) and event callback', async () => {
    const cmd = slack.slashCommand({ command: '/run', text: 'card-2 http', user: 'alice' });
    expect(await cmd.ack).toMatchObject({ status: 200 });
    expect(cmd.delivery.transport).toBe('http');
    await cmd.waitForResponse((r) => r.body.text === 'started card-2');
    await slack.waitFor(() => slack.botPosts('general').length === 2);

    const msg = slack.userMessage({ channel: 'general', text: 'over http', user: 'bob' });
    await slack.waitFor(() => seen.messages.find((m) => m.ts === msg.ts));
    const delivery = slack.eventDeliveries((e) => e.ts === msg.ts)[0]!;
    expect((await slack.waitForAck(delivery)).status).toBe(200);
  });

  it('a retried event carries x-slack-retry-num and reaches the app again', async () => {
    const msg = slack.userMessage({ channel: 'general', text: 'retry me', user: 'bob' });
    const first = slack.eventDeliveries((e) => e.ts === msg.ts)[0]!;
    await slack.waitForAck(first);
    const retry = slack.redeliver(first);
    expect(retry).toMatchObject({ retryAttempt: 1, retryReason: 'http_timeout', eventId: first.eventId });
    expect((await slack.waitForAck(retry)).status).toBe(200);
    const both = await slack.waitFor(() => { const e = seen.events.filter((x) => x.eventId === first.eventId); return e.length === 2 && e; });
    expect(both.map((e) => e.retryNum)).toEqual([undefined, 1]);
  });

  it('refuses forged, stale and unsigned requests with 401 and never runs a listener', async () => {
    const before = seen.messages.length;
    const event = { type: 'message', channel: slack.channels.general, user: slack.users.alice, text: 'evil', ts: '1700000000.000100', channel_type: 'channel' };
    const forged = slack.sendEvent(event, { signature: 'forged' });
    const stale = slack.sendEvent(event, { signature: 'stale' });
    const unsigned = slack.sendEvent(event, { signature: 'missing' });
    const forgedCmd = slack.slashCommand({ command: '/run', text: 'card-evil', signature: 'forged' });
    const statuses = await Promise.all([forged, stale, unsigned, forgedCmd.delivery].map(async (d) => (await slack.waitForAck(d)).status));
    expect(statuses).toEqual([401, 401, 401, 401]);
    expect(seen.messages.length).toBe(before);
    expect(seen.commands.map((c) => c.text)).not.toContain('card-evil');
  });
});

describe('fake Slack rate limits with a manual clock, injected 429s and lost answers', () => {
  let slack: FakeSlack;
  const clock = new ManualClock(1_700_000_000_000);
  let writer: InstanceType<typeof webApi.WebClient>;

  beforeAll(async () => {
    slack = await startFakeSlack({ clock, rateLimits: { update: { burst: 2, refillEveryMs: 1_200 } } });
    writer = new webApi.WebClient(slack.botToken, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true, logLevel: webApi.LogLevel.ERROR });
  });

  afterAll(async () => {
    await slack?.close();
  });

  it('chat.update draws from a workspace-wide Tier 3 bucket that refills with the injected clock', async () => {
    const a = await writer.chat.postMessage({ channel: slack.channels.general, text: 'status A' });
    const b = await writer.chat.postMessage({ channel: slack.channels.notify, text: 'status B' });
    await writer.chat.update({ channel: slack.channels.general, ts: a.ts!, text: 'A1' });
    await writer.chat.update({ channel: slack.channels.notify, ts: b.ts!, text: 'B1' });
    await expect(writer.chat.update({ channel: slack.channels.general, ts: a.ts!, text: 'A2' })).rejects.toMatchObject({ retryAfter: 2 }); // 1.2 s rounded up to whole seconds
    expect(slack.rateLimitHits.at(-1)).toMatchObject({ method: 'chat.update', bucket: 'update:workspace', retryAfterMs: 1_200 });
    clock.advance(1_200);
    await writer.chat.update({ channel: slack.channels.general, ts: a.ts!, text: 'A2' });
    expect(slack.message('general', a.ts!)?.edits.map((e) => e.text)).toEqual(['A1', 'A2']);
    expect(slack.updates.map((u) => u.ok)).toEqual([true, true, true]); // the refused call never reached the method
  });

  it('an injected 429 refuses exactly the next post; a lost answer still posts once and is found by metadata', async () => {
    slack.injectRateLimit({ method: 'chat.postMessage', retryAfterMs: 30_000 });
    await expect(writer.chat.postMessage({ channel: slack.channels.general, text: 'x' })).rejects.toMatchObject({ retryAfter: 30 });
    expect(slack.rateLimitHits.at(-1)).toMatchObject({ injected: true, retryAfterSec: 30 });

    slack.injectFault({ method: 'chat.postMessage', afterEffect: true, drop: true });
    const metadata = { event_type: 'outbox', event_payload: { id: 'row-42' } };
    await expect(writer.chat.postMessage({ channel: slack.channels.general, text: 'lost answer', metadata })).rejects.toMatchObject({ code: webApi.ErrorCode.RequestError });
    const history = await writer.conversations.history({ channel: slack.channels.general, include_all_metadata: true });
    const found = history.messages?.filter((m) => (m.metadata?.event_payload as { id?: string } | undefined)?.id === 'row-42');
    expect(found).toHaveLength(1);
    expect(slack.botPosts('general').filter((m) => m.text === 'lost answer')).toHaveLength(1);
  });

  it('seeded history dispatches nothing; users.info, conversations.info/join and chat.postEphemeral answer like Slack', async () => {
    const deliveries = slack.deliveries.length;
    slack.seedMessage({ channel: 'random', text: 'old', user: 'alice' });
    expect(slack.deliveries.length).toBe(deliveries);
    await expect(writer.chat.postMessage({ channel: slack.channels.random, text: 'hi' })).rejects.toMatchObject({ data: { error: 'not_in_channel' } });
    await writer.conversations.join({ channel: slack.channels.random });
    expect((await writer.conversations.info({ channel: slack.channels.random })).channel).toMatchObject({ name: 'random', is_member: true });
    expect((await writer.users.info({ user: slack.users.alice! })).user).toMatchObject({ name: 'alice', is_bot: false });
    await writer.chat.postEphemeral({ channel: slack.channels.general, user: slack.users.bob!, text: 'only you' });
    expect(slack.ephemerals.at(-1)).toMatchObject({ user: slack.users.bob, text: 'only you' });
  });
});
