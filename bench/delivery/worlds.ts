/**
 * The bench's worlds: a fake platform with its rate limits on (every window × `scale`), the real
 * run engine with the replay driver as its agent, and the real receiver in a real chat hub with
 * every pacing number scaled the same way. Only time is scaled: counts per window, burst sizes
 * and message sizes stay the platforms'. What a world exposes is what the bench reads back: the
 * fake's message store and request log, keyed to each run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DiscordReceiver } from '../../src/bots/discord/discord-receiver.js';
import { DISCORD_LIMITS } from '../../src/bots/discord/limits.js';
import { channelIdOf } from '../../src/bots/discord/refs.js';
import type { ChatLimits } from '../../src/bots/hub/chat-types.js';
import { ChatHub } from '../../src/bots/hub/hub.js';
import { scaleLimits } from '../../src/bots/hub/pacing.js';
import { SLACK_LIMITS } from '../../src/bots/slack/limits.js';
import { messageIdsOf } from '../../src/bots/slack/refs.js';
import { SlackReceiver } from '../../src/bots/slack/slack-receiver.js';
import type { Run } from '../../src/core/types.js';
import { silentLogger } from '../../src/logger.js';
import { makeHarness, type Harness } from '../../test/support/engine-harness.js';
import { startFakeDiscord, type FakeDiscord } from '../../test/support/fake-discord/index.js';
import { startFakeSlack, type FakeSlack } from '../../test/support/fake-slack/index.js';
import type { MockLlm } from '../../test/support/mock-llm.js';
import type { Recording } from './fixture.js';
import { ReplayDriver } from './replay-driver.js';

/** Something that landed in a thread: a post or an edit of one, with its text. */
export interface Landing {
  at: number;
  text: string;
  messageId: string;
  edit: boolean;
}

/** What the bench reads back about one run's thread. */
export interface ThreadView {
  /** When the header (the thread's parent message) was created, or null. */
  headerAt: number | null;
  /** The thread's messages in posting order (the status message first), each with its edits. */
  posts: { id: string; at: number; text: string; edits: { at: number; text: string }[] }[];
}

export interface World {
  platform: 'discord' | 'slack';
  h: Harness;
  hub: ChatHub;
  replay: ReplayDriver;
  /** Sends `/run <card>` as an authorized user. */
  sendRun(cardId: string): void;
  view(run: Run): ThreadView;
  /** Requests the bot made and 429s it got, so far. */
  requestCount(): number;
  /** Requests since set-up by kind: post, edit, reaction, thread, interaction, other. */
  requestKinds(): Record<string, number>;
  rateLimitCount(): number;
  close(): Promise<void>;
}

/** The platform's limits with every window × scale, and the global per-second cap ÷ scale. */
export function benchLimits(limits: ChatLimits, scale: number): ChatLimits {
  return { ...scaleLimits(limits, scale), globalPerSecond: limits.globalPerSecond / scale };
}

/**
 * Where the bench keeps its SQLite file: a tmpfs when there is one. A commit's fsync is real time
 * that the time scale does not shrink (≈4 ms on this machine's disk, ×10 once converted), so on a
 * disk it would dominate what the bench means to measure: pacing and delivery.
 * (`npm run bench`'s hot-path part measures synchronous=FULL on disk.)
 */
export function benchDataDir(): string {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const dir = fs.mkdtempSync(path.join(base, 'chatops-bench-'));
  dataDirs.push(dir);
  return path.join(dir, 'data');
}
const dataDirs: string[] = [];

export function removeBenchDataDirs(): void {
  for (const dir of dataDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

async function engineWith(llm: MockLlm, recording: Recording, scale: number, cards: number): Promise<{ h: Harness; replay: ReplayDriver }> {
  const replay = new ReplayDriver(recording, scale, cards);
  const h = await makeHarness(llm, { dataDir: benchDataDir(), engine: { agent: replay, eventFlushMs: Math.max(1, Math.round(100 * scale)) } });
  for (let i = 1; i <= cards; i++) h.engine.cards.add({ id: cardId(i), title: `Bench card ${i}`, body: 'Add a jump button.' });
  return { h, replay };
}

export const cardId = (i: number): string => `card-b${String(i).padStart(2, '0')}`;

function hubOf(h: Harness, scale: number, auth: ConstructorParameters<typeof ChatHub>[0]['auth']): ChatHub {
  return new ChatHub({
    store: h.engine.store,
    manager: h.engine.manager,
    auth,
    logger: silentLogger(),
    flushDelayMs: Math.round(5_000 * scale),
    threadLinkWaitMs: Math.round(10_000 * scale),
    delivery: { backoffBaseMs: Math.round(1_000 * scale), backoffMaxMs: Math.round(30_000 * scale) },
  });
}

/** The fake Discord with Discord's limits (docs/platforms.md §1.1), every window × scale. */
export function fakeDiscord(scale: number): Promise<FakeDiscord> {
  return startFakeDiscord({
    rateLimits: {
      channelMessages: { limit: 5, windowMs: 5_000 * scale },
      messageEdits: { limit: 5, windowMs: 5_000 * scale },
      reactions: { limit: 1, windowMs: 250 * scale },
      threadCreate: { limit: 10, windowMs: 10_000 * scale },
      global: { limit: 50, windowMs: 1_000 * scale },
    },
  });
}

/** The fake Slack with Slack's limits (≈1 post/s per channel, Tier 3 edits and reactions), every window × scale. */
export function fakeSlack(scale: number): Promise<FakeSlack> {
  return startFakeSlack({
    rateLimits: {
      postMessage: { burst: 3, refillEveryMs: 1_000 * scale },
      update: { burst: 50, refillEveryMs: 1_200 * scale },
      reactions: { burst: 50, refillEveryMs: 1_200 * scale },
      reads: { burst: 100, refillEveryMs: 600 * scale },
    },
  });
}

export async function discordWorld(llm: MockLlm, recording: Recording, scale: number, cards: number): Promise<World> {
  const fake = await fakeDiscord(scale);
  const { h, replay } = await engineWith(llm, recording, scale, cards);
  const receiver = new DiscordReceiver({
    discord: { token: fake.token, guildId: fake.guildId, notifyChannelId: fake.channels.notify, apiBase: fake.apiBase },
    logger: silentLogger(),
    limits: benchLimits(DISCORD_LIMITS, scale),
    rejectRateLimitOverMs: 5_000 * scale,
  });
  scaleDiscordRest(receiver.client.rest, scale);
  const hub = hubOf(h, scale, { allowedUsers: [], allowedRoles: [fake.roles.operator!], allowAll: false });
  await hub.start([receiver]);
  const setupRequests = fake.requests.length;
  return {
    platform: 'discord',
    h,
    hub,
    replay,
    sendRun: (card) => void fake.sendCommand({ name: 'run', options: { card }, user: 'alice' }),
    view: (run) => {
      const t = h.engine.store.chatThreads.threadOfRun(run.id);
      return t?.thread ? discordThreadView(fake, channelIdOf(t.thread)) : { headerAt: null, posts: [] };
    },
    requestCount: () => fake.requests.length - setupRequests,
    requestKinds: () => countBy(fake.requests.slice(setupRequests), (r) => discordKind(r.method, r.path)),
    rateLimitCount: () => fake.rateLimitHits.length,
    close: async () => {
      await hub.stop();
      await h.engine.close();
      await fake.close();
    },
  };
}

export async function slackWorld(llm: MockLlm, recording: Recording, scale: number, cards: number): Promise<World> {
  const slack = await fakeSlack(scale);
  const { h, replay } = await engineWith(llm, recording, scale, cards);
  const receiver = await SlackReceiver.connect({
    slack: { botToken: slack.botToken, appToken: slack.appToken, signingSecret: null, port: null, apiUrl: slack.apiUrl, notifyChannel: slack.channels.notify },
    logger: silentLogger(),
    limits: benchLimits(SLACK_LIMITS, scale),
    httpHost: '127.0.0.1',
  });
  const hub = hubOf(h, scale, { allowedUsers: [`slack:${slack.users.alice}`], allowedRoles: [], allowAll: false });
  await hub.start([receiver]);
  const setupRequests = slack.requests.length;
  return {
    platform: 'slack',
    h,
    hub,
    replay,
    sendRun: (card) => void slack.slashCommand({ command: '/run', text: card, user: 'alice' }),
    view: (run) => {
      const t = h.engine.store.chatThreads.threadOfRun(run.id);
      return t?.thread ? slackThreadView(slack, messageIdsOf(t.thread).ts) : { headerAt: null, posts: [] };
    },
    requestCount: () => slack.requests.length - setupRequests,
    requestKinds: () => countBy(slack.requests.slice(setupRequests), (r) => slackKind(r.method)),
    rateLimitCount: () => slack.rateLimitHits.length,
    close: async () => {
      await hub.stop();
      await h.engine.close();
      await slack.close();
    },
  };
}

/** A Discord thread as the bench reads it: its starter message (the header) and the bot's messages in it. */
export function discordThreadView(fake: FakeDiscord, threadId: string): ThreadView {
  const mine = fake.messages(threadId).filter((m) => m.authorId === fake.botUser.id);
  return {
    headerAt: fake.message(threadId)?.createdAt ?? null,
    posts: mine.map((m) => ({ id: m.id, at: m.createdAt, text: firstText(m.content, m.edits.length), edits: m.edits.map((e) => ({ at: e.at, text: e.content })) })),
  };
}

/** A Slack thread as the bench reads it: its parent (the header) and the bot's replies. */
export function slackThreadView(slack: FakeSlack, rootTs: string): ThreadView {
  const all = slack.thread('general', rootTs);
  const root = all.find((m) => m.ts === rootTs);
  const replies = all.filter((m) => m.ts !== rootTs && m.botId === slack.botId);
  return {
    headerAt: root?.createdAt ?? null,
    posts: replies.map((m) => ({ id: m.ts, at: m.createdAt, text: firstText(m.text, m.edits.length), edits: m.edits.map((e) => ({ at: e.at, text: e.text })) })),
  };
}

/**
 * discord.js paces by its own real-time numbers too (50 requests per second, 50 ms added to every
 * bucket reset): scaled like everything else, so the client does not throttle a fake whose windows
 * are shrunk. Bench-only: the option object is read on every request.
 */
export function scaleDiscordRest(rest: { options: { globalRequestsPerSecond: number; offset: number | ((...a: never[]) => number) } }, scale: number): void {
  rest.options.globalRequestsPerSecond = Math.round(50 / scale);
  rest.options.offset = Math.round(50 * scale);
}

/**
 * A message's text as first posted. The fakes keep the latest text and each edit's, not the
 * original of an edited one: the only edited thread message is the live status, created at
 * `run_started` before any marked event, so its first text counts as carrying no marker.
 */
function firstText(latest: string, edits: number): string {
  return edits === 0 ? latest : '';
}

export function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}

export function discordKind(method: string, path: string): string {
  if (/^\/(interactions|webhooks)\//.test(path)) return 'interaction';
  if (/\/reactions\//.test(path)) return 'reaction';
  if (/\/threads$/.test(path)) return 'thread';
  if (method === 'POST' && /^\/channels\/\d+\/messages$/.test(path)) return 'post';
  if (method === 'PATCH' && /^\/channels\/\d+\/messages\/\d+$/.test(path)) return 'edit';
  return 'other';
}

export function slackKind(method: string): string {
  switch (method) {
    case 'chat.postMessage':
      return 'post';
    case 'chat.update':
      return 'edit';
    case 'reactions.add':
      return 'reaction';
    case 'response_url':
      return 'interaction';
    default:
      return 'other';
  }
}
