/**
 * Playtest screenshots and clips reach a run's thread as uploads through the outbox: on Discord a
 * message with attachments (multipart, through discord.js's REST client against the fake Discord),
 * on Slack the files upload API (the SDK's WebClient against the fake Slack), in the console the
 * files' paths. A clip over the platform's upload limit is left out, the screenshots still go, and
 * the comment says where the clip is kept. No engine: the `playtest_media` events are appended to
 * the run's event log as the playtest core writes them; relay and delivery are the real ones.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { Client } from 'discord.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConsoleLine } from '../../../src/bots/console/console-input.js';
import { ConsolePort } from '../../../src/bots/console/console-port.js';
import { DiscordPort } from '../../../src/bots/discord/discord-port.js';
import { createDiscordClient } from '../../../src/bots/discord/discord-receiver.js';
import { DISCORD_LIMITS } from '../../../src/bots/discord/limits.js';
import { channelIdOf, channelRef as discordChannel } from '../../../src/bots/discord/refs.js';
import type { ChatPort } from '../../../src/bots/hub/chat-types.js';
import { Delivery } from '../../../src/bots/hub/delivery.js';
import { scaleLimits } from '../../../src/bots/hub/pacing.js';
import { Relay } from '../../../src/bots/hub/relay.js';
import { SLACK_LIMITS } from '../../../src/bots/slack/limits.js';
import { channelRef as slackChannel, messageIdsOf } from '../../../src/bots/slack/refs.js';
import { createWriteClient } from '../../../src/bots/slack/slack-receiver.js';
import { SlackPort } from '../../../src/bots/slack/slack-port.js';
import type { RunEventData } from '../../../src/core/types.js';
import { silentLogger } from '../../../src/logger.js';
import type { Store } from '../../../src/store/index.js';
import { startFakeDiscord, type FakeDiscord } from '../../support/fake-discord/index.js';
import { startFakeSlack, type FakeSlack } from '../../support/fake-slack/index.js';
import { solidPng } from '../../support/png.js';
import { makeTempDir, useTempDirs } from '../../support/temp.js';
import { FAKE_RATE_LIMITS as DISCORD_RATES, SCALE as DISCORD_SCALE } from '../discord/discord-e2e-support.js';
import { FAKE_RATE_LIMITS as SLACK_RATES, SCALE as SLACK_SCALE } from '../slack/slack-e2e-support.js';
import { EventFeed, insertRun, openStore, started, tempStoreFile } from './chat-store-fixture.js';

useTempDirs();

const MiB = 1024 * 1024;
type Media = Extract<RunEventData, { type: 'playtest_media' }>;

interface Side {
  store: Store;
  feed: EventFeed;
  delivery: Delivery;
  stop(): Promise<void>;
}

const sides: Side[] = [];
afterEach(async () => {
  for (const s of sides.splice(0)) await s.stop();
});

/** The chat side of one run already bound to `thread`: the real relay and delivery over `port`. */
function chatSide(port: ChatPort, runId: string, channel: string, thread: string): Side {
  const store = openStore(tempStoreFile());
  insertRun(store, runId);
  const now = new Date().toISOString();
  store.chatThreads.insertThread({ threadKey: runId, platform: port.platform, channel, thread, now });
  store.chatThreads.bindRun(runId, runId, now);
  const logger = silentLogger();
  const delivery = new Delivery({ store, portOf: (p) => (p === port.platform ? port : undefined), logger, backoffBaseMs: 20, backoffMaxMs: 100 });
  const feed = new EventFeed(store);
  const relay = new Relay({ store, source: feed, limitsOf: () => port.limits, notifyChannelOf: () => null, logger, onEnqueued: (s) => delivery.kick(s), flushDelayMs: 50 });
  delivery.start();
  relay.start();
  const side: Side = {
    store,
    feed,
    delivery,
    stop: async () => {
      relay.stop();
      await delivery.stop();
      store.close();
    },
  };
  sides.push(side);
  return side;
}

/** A real PNG screenshot and a clip of `clipBytes` (sparse: its bytes are never read when it is left out). */
function mediaFiles(clipBytes: number, by: string | null = null): { png: Buffer; media: Media } {
  const dir = makeTempDir('playtest-files-');
  const png = solidPng(8, 8, [255, 0, 0]);
  const shot = path.join(dir, 'shot-1.png');
  fs.writeFileSync(shot, png);
  const clip = path.join(dir, 'clip-1.mp4');
  fs.writeFileSync(clip, '');
  fs.truncateSync(clip, clipBytes);
  return {
    png,
    media: {
      type: 'playtest_media',
      files: [
        { path: clip, name: 'clip-1.mp4', kind: 'clip', contentType: 'video/mp4', bytes: clipBytes },
        { path: shot, name: 'shot-1.png', kind: 'screenshot', contentType: 'image/png', bytes: png.length },
      ],
      note: null,
      by,
    },
  };
}

describe('playtest media on Discord', () => {
  let fake: FakeDiscord;
  let client: Client;
  let port: DiscordPort;
  beforeAll(async () => {
    fake = await startFakeDiscord({ rateLimits: DISCORD_RATES });
    client = createDiscordClient({ token: fake.token, guildId: fake.guildId, notifyChannelId: null, apiBase: fake.apiBase });
    client.rest.setToken(fake.token);
    port = new DiscordPort({ rest: client.rest, guildId: fake.guildId, logger: silentLogger(), limits: scaleLimits(DISCORD_LIMITS, DISCORD_SCALE) });
  });
  afterAll(async () => {
    await client?.destroy();
    await fake?.close();
  });

  it('posts the screenshot as a multipart attachment whose bytes are the file, and leaves out a clip over the 10 MB limit with a note saying where it is kept', async () => {
    const general = discordChannel(fake.channels.general);
    const header = await port.post(general, null, 'header', { nonce: 'media-hdr-1' });
    const thread = await port.createThread(general, header, 'card-1 · media');
    const side = chatSide(port, 'run-media-d', general, thread);
    const { png, media } = mediaFiles(11 * MiB, 'discord:42');

    side.feed.append('run-media-d', started, media);
    await side.delivery.drain();

    const withFiles = fake.messages(channelIdOf(thread)).filter((m) => m.attachments.length > 0);
    expect(withFiles).toHaveLength(1);
    const [message] = withFiles;
    expect(message!.attachments.map((a) => [a.filename, a.contentType])).toEqual([['shot-1.png', 'image/png']]);
    expect(message!.attachments[0]!.data.equals(png)).toBe(true);
    expect(message!.content).toContain('📸 Playtest a screenshot and a clip (requested by discord:42)');
    expect(message!.content).toContain(`clip of 11 MB is over Discord's 10 MB upload limit; kept at ${media.files[0]!.path}`);
    expect(message!).toMatchObject({ enforceNonce: true, allowedMentions: { parse: [] } });
    expect(side.store.outbox.listThread('run-media-d').filter((r) => r.status === 'dead')).toEqual([]);
  });
});

describe('playtest media refused by Discord', () => {
  it('an upload Discord refuses as too large (a file that grew after its size was checked) is reported in the thread with where the files are kept', async () => {
    const fake = await startFakeDiscord({ rateLimits: DISCORD_RATES });
    const client = createDiscordClient({ token: fake.token, guildId: fake.guildId, notifyChannelId: null, apiBase: fake.apiBase });
    client.rest.setToken(fake.token);
    try {
      const port = new DiscordPort({ rest: client.rest, guildId: fake.guildId, logger: silentLogger(), limits: scaleLimits(DISCORD_LIMITS, DISCORD_SCALE) });
      const general = discordChannel(fake.channels.general);
      const thread = await port.createThread(general, await port.post(general, null, 'header', { nonce: 'media-hdr-2' }), 'card-1 · media');
      const side = chatSide(port, 'run-media-big', general, thread);
      const { media } = mediaFiles(1024);
      fs.truncateSync(media.files[0]!.path, 11 * MiB);

      side.feed.append('run-media-big', started, media);
      await side.delivery.drain();

      const texts = fake.messages(channelIdOf(thread)).map((m) => m.content);
      const failed = texts.find((t) => t.includes('Delivery failed'))!;
      expect(failed).toContain(`the playtest files could not be posted; they are kept at ${media.files[1]!.path}, ${media.files[0]!.path}`);
      expect(failed).toContain('Discord 413 (code 40005)');
      expect(fake.messages(channelIdOf(thread)).filter((m) => m.attachments.length > 0)).toEqual([]);
    } finally {
      await client.destroy();
      await fake.close();
    }
  });
});

describe('playtest media on Slack', () => {
  let slack: FakeSlack;
  let port: SlackPort;
  beforeAll(async () => {
    slack = await startFakeSlack({ rateLimits: SLACK_RATES });
    const client = createWriteClient({ botToken: slack.botToken, appToken: null, signingSecret: null, port: null, apiUrl: slack.apiUrl, notifyChannel: null });
    port = new SlackPort({ client, teamUrl: 'https://fake-workspace.slack.com/', limits: scaleLimits(SLACK_LIMITS, SLACK_SCALE), logger: silentLogger() });
  });
  afterAll(async () => {
    await slack?.close();
  });

  async function slackSide(runId: string): Promise<{ side: Side; rootTs: string }> {
    const general = slackChannel(slack.channels.general);
    const header = await port.post(general, null, 'header', { nonce: `hdr-${runId}` });
    const thread = await port.createThread(general, header);
    return { side: chatSide(port, runId, general, thread), rootTs: messageIdsOf(thread).ts };
  }

  it('uploads the screenshot and the clip through the files API into the thread, bytes unchanged, with the comment as the message', async () => {
    const { side, rootTs } = await slackSide('run-media-s');
    const { png, media } = mediaFiles(64 * 1024);
    fs.writeFileSync(media.files[0]!.path, Buffer.alloc(64 * 1024, 7));

    side.feed.append('run-media-s', started, media);
    await side.delivery.drain();

    const posted = slack.thread('general', rootTs).filter((m) => m.files);
    expect(posted).toHaveLength(1);
    expect(posted[0]!.threadTs).toBe(rootTs);
    expect(posted[0]!.text).toContain('📸 Playtest a screenshot and a clip');
    expect(posted[0]!.files!.map((f) => f.name)).toEqual(['shot-1.png', 'clip-1.mp4']);
    const uploaded = new Map(slack.uploadedFiles().filter((f) => f.shared?.ts === posted[0]!.ts).map((f) => [f.name, f.data!]));
    expect(uploaded.get('shot-1.png')!.equals(png)).toBe(true);
    expect(uploaded.get('clip-1.mp4')!.equals(Buffer.alloc(64 * 1024, 7))).toBe(true);
    const methods = slack.requests.map((r) => r.method);
    expect(methods.filter((m) => m === 'files.getUploadURLExternal')).toHaveLength(2);
    expect(methods.filter((m) => m === 'files.completeUploadExternal')).toHaveLength(1);
  });

  it('an upload whose answer was lost is found in the thread on the retry instead of being shared twice', async () => {
    const { side, rootTs } = await slackSide('run-media-lost');
    const { media } = mediaFiles(1024);
    slack.injectFault({ method: 'files.completeUploadExternal', status: 500, afterEffect: true });

    side.feed.append('run-media-lost', started, media);
    await side.delivery.drain();

    expect(slack.thread('general', rootTs).filter((m) => m.files)).toHaveLength(1);
    const row = side.store.outbox.listThread('run-media-lost').find((r) => r.dedupeKey?.startsWith('upload:'))!;
    expect(row).toMatchObject({ status: 'sent', attempts: 2 });
  });
});

/** A fake Slack of its own (other options) with the bot's port and a run thread in #general. */
async function ownSlack(options: Parameters<typeof startFakeSlack>[0], runId: string): Promise<{ slack: FakeSlack; side: Side; thread: string }> {
  const slack = await startFakeSlack({ rateLimits: SLACK_RATES, ...options });
  const client = createWriteClient({ botToken: slack.botToken, appToken: null, signingSecret: null, port: null, apiUrl: slack.apiUrl, notifyChannel: null });
  const port = new SlackPort({ client, teamUrl: 'https://fake-workspace.slack.com/', limits: scaleLimits(SLACK_LIMITS, SLACK_SCALE), logger: silentLogger() });
  const general = slackChannel(slack.channels.general);
  const thread = await port.createThread(general, await port.post(general, null, 'header', { nonce: `hdr-${runId}` }));
  return { slack, side: chatSide(port, runId, general, thread), thread };
}

describe('playtest media on Slack when the upload answer names no share yet', () => {
  it("records the file message's ts, read from the thread, so reactions on it reach the run", async () => {
    const { slack, side, thread } = await ownSlack({ fileSharesInAnswer: false }, 'run-media-noshare');
    try {
      side.feed.append('run-media-noshare', started, mediaFiles(1024).media);
      await side.delivery.drain();
      const posted = slack.thread('general', messageIdsOf(thread).ts).find((m) => m.files)!;
      const row = side.store.outbox.listThread('run-media-noshare').find((r) => r.dedupeKey?.startsWith('upload:'))!;
      expect(row.platformMsg).toBe(`slack:${slack.channels.general}:${posted.ts}`);
      expect(side.store.outbox.findByPlatformMsg(row.platformMsg!)).toMatchObject({ threadKey: 'run-media-noshare' });
    } finally {
      await slack.close();
    }
  });
});

describe('playtest media on a Slack app without files:write', () => {
  it('says visibly in the thread that the scope is missing and how to add it', async () => {
    const botScopes = ['chat:write', 'channels:history', 'reactions:read', 'reactions:write', 'commands', 'users:read'];
    const { slack, side, thread } = await ownSlack({ botScopes }, 'run-media-noscope');
    try {
      side.feed.append('run-media-noscope', started, mediaFiles(1024).media);
      await side.delivery.drain();

      const texts = slack.thread('general', messageIdsOf(thread).ts).map((m) => m.text);
      const failed = texts.find((t) => t.includes('Delivery failed'))!;
      expect(failed).toContain('missing_scope (files:write): the app lacks a scope: reinstall it from slack-app-manifest.yml');
      expect(failed).toContain('the playtest files could not be posted; they are kept at ');
      expect(failed).toContain('shot-1.png');
      expect(slack.uploadedFiles()).toEqual([]);
    } finally {
      await slack.close();
    }
  });
});

describe('playtest media in the console', () => {
  it("prints the files' paths in the run's thread", async () => {
    const out = new PassThrough();
    let printed = '';
    out.on('data', (chunk: Buffer) => (printed += chunk.toString('utf8')));
    const port = new ConsolePort(out, false);
    const header = await port.post('console:main', null, 'header', { nonce: 'hdr-console' });
    const thread = await port.createThread('console:main', header, 'card-1 · media · run-medi');
    const side = chatSide(port, 'run-media-c', 'console:main', thread);
    const { media } = mediaFiles(2048);

    side.feed.append('run-media-c', started, media);
    await side.delivery.drain();

    for (const f of media.files) expect(printed).toContain(`📎 ${f.path} (${f.contentType}`);
    expect(printed).toContain('📸 Playtest a screenshot and a clip');
  });

  it('`:capture` is the console\'s 📸 on the current thread', () => {
    const state = { user: { id: 'console:ada', displayName: 'ada', roleIds: [], isBot: false }, thread: 'console:t1', lastMessage: 'console:m2', respond: async () => {}, userMessage: () => 'console:u1' };
    expect(parseConsoleLine(':capture', state)).toMatchObject({ kind: 'event', event: { kind: 'reaction', emoji: '📸', added: true, thread: 'console:t1' } });
  });
});
