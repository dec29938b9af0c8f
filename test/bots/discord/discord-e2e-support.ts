/**
 * Shared set-up for the Discord end-to-end tests: the fake Discord with Discord's rate-limit
 * ratios on windows shrunk 10×, the real run engine (real pi, scripted model), and the real
 * Discord receiver (discord.js client) in a chat hub (controller, relay, delivery) with its pacing
 * scaled the same.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DiscordReceiver } from '../../../src/bots/discord/discord-receiver.js';
import { DISCORD_LIMITS } from '../../../src/bots/discord/limits.js';
import { ChatHub } from '../../../src/bots/hub/hub.js';
import { scaleLimits } from '../../../src/bots/hub/pacing.js';
import { channelIdOf } from '../../../src/bots/discord/refs.js';
import type { AuthConfig } from '../../../src/config.js';
import type { Run } from '../../../src/core/types.js';
import { silentLogger } from '../../../src/logger.js';
import { makeHarness, type Harness } from '../../support/engine-harness.js';
import { startFakeDiscord, type FakeDiscord, type StoredMessage } from '../../support/fake-discord/index.js';
import type { InteractionHandle } from '../../support/fake-discord/driver.js';
import type { MockLlm, Responder } from '../../support/mock-llm.js';

/**
 * The ceiling for waits that depend on the agent's progress (a pi process start, a model turn):
 * generous because other test files load the same two cores. Never a sleep: waits end on the signal.
 */
export const AGENT_WAIT = { timeoutMs: 100_000 };

/** Every time window of Discord ×0.1: counts per window stay Discord's (5 creates per channel window, …). */
export const SCALE = 0.1;
export const FAKE_RATE_LIMITS = {
  channelMessages: { limit: 5, windowMs: 5_000 * SCALE },
  reactions: { limit: 1, windowMs: 250 * SCALE },
  threadCreate: { limit: 10, windowMs: 10_000 * SCALE },
};

/** A hub serving Discord only, and its receiver. */
export interface DiscordBot {
  hub: ChatHub;
  receiver: DiscordReceiver;
  start(): Promise<void>;
  stop(): Promise<void>;
  idle(): Promise<void>;
}

export interface World {
  fake: FakeDiscord;
  h: Harness;
  bot: DiscordBot;
  auth: AuthConfig;
  /** Builds another hub on the same engine and fake (a restart of the Discord side). */
  newBot(): DiscordBot;
  close(): Promise<void>;
}

export async function startWorld(llm: MockLlm, options: { env?: Record<string, string>; flushDelayMs?: number; startBot?: boolean } = {}): Promise<World> {
  const fake = await startFakeDiscord({ rateLimits: FAKE_RATE_LIMITS });
  const h = await makeHarness(llm, { env: options.env });
  h.engine.cards.add({ id: 'card-1', title: 'Add a jump button', body: 'Space makes the player jump.' });
  const auth: AuthConfig = { allowedUsers: [], allowedRoles: [fake.roles.operator!], allowAll: false };
  const newBot = (): DiscordBot => {
    const receiver = new DiscordReceiver({
      discord: { token: fake.token, guildId: fake.guildId, notifyChannelId: fake.channels.notify, apiBase: fake.apiBase },
      logger: silentLogger(),
      limits: scaleLimits(DISCORD_LIMITS, SCALE),
    });
    const hub = new ChatHub({ store: h.engine.store, manager: h.engine.manager, auth, logger: silentLogger(), flushDelayMs: options.flushDelayMs ?? 300 });
    return { hub, receiver, start: () => hub.start([receiver]), stop: () => hub.stop(), idle: () => hub.idle() };
  };
  const world: World = {
    fake,
    h,
    bot: newBot(),
    auth,
    newBot,
    close: async () => {
      await world.bot.stop();
      await h.engine.close();
      await fake.close();
    },
  };
  if (options.startBot !== false) await world.bot.start();
  return world;
}

export function botMessages(fake: FakeDiscord, channelId: string): StoredMessage[] {
  return fake.messages(channelId).filter((m) => m.authorId === fake.botUser.id);
}

export interface StartedRun {
  cmd: InteractionHandle;
  run: Run;
  threadId: string;
  headerId: string;
  answer: StoredMessage;
}

/** `/run` as alice; resolves once the bot answered with the thread link. */
export async function runCommand(w: World, options: Record<string, string> = { card: 'card-1' }, user = 'alice'): Promise<StartedRun> {
  const before = new Set(w.h.engine.manager.list(1000).map((r) => r.id));
  const cmd = w.fake.sendCommand({ name: 'run', options, user });
  const answer = await cmd.waitForOriginal((m) => m.content.includes('Started run'), AGENT_WAIT);
  const run = w.h.engine.manager.list(1000).find((r) => !before.has(r.id))!;
  const lane = w.h.engine.store.chatThreads.threadOfRun(run.id)!;
  const threadId = channelIdOf(lane.thread!);
  return { cmd, run, threadId, headerId: threadId, answer };
}

/** A bash tool that signals `signal`, then waits until the test creates `file`; then a text answer. */
export function blockUntilFile(llm: MockLlm, file: string, signal: string, finalText = 'finished'): Responder {
  return (req) =>
    req.messages.at(-1)?.role === 'tool'
      ? { text: finalText }
      : { toolCalls: [{ name: 'bash', arguments: { command: `${llm.signalCommand(signal)}; while [ ! -f '${file}' ]; do sleep 0.05; done; echo released` } }] };
}

const blocked = new Set<string>();

/** A file path for `blockUntilFile`; `releaseAll` (after each test) frees whatever a failed test left blocked. */
export function gateFile(dir: string): string {
  const file = path.join(dir, `go-${blocked.size + 1}`);
  blocked.add(file);
  return file;
}

export function release(file: string): void {
  blocked.delete(file);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '');
}

export function releaseAll(): void {
  for (const file of [...blocked]) release(file);
}
