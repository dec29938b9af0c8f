/**
 * Shared set-up for the Slack end-to-end tests: the fake Slack with Slack's rate-limit ratios on
 * windows shrunk 10× (≈1 post/s per channel → 10/s, Tier 3 → 10×), the real run engine (real pi,
 * scripted model), and the real Slack receiver (Bolt App, write client) in a chat hub (controller,
 * relay, delivery) with its pacing scaled the same.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ChatHub } from '../../../src/bots/hub/hub.js';
import { scaleLimits } from '../../../src/bots/hub/pacing.js';
import { SLACK_LIMITS } from '../../../src/bots/slack/limits.js';
import { SlackReceiver } from '../../../src/bots/slack/slack-receiver.js';
import { messageIdsOf } from '../../../src/bots/slack/refs.js';
import type { AuthConfig, SlackConfig } from '../../../src/config.js';
import type { Run } from '../../../src/core/types.js';
import { silentLogger } from '../../../src/logger.js';
import { makeHarness, type Harness } from '../../support/engine-harness.js';
import { startFakeSlack, type FakeSlack, type SlashCommandHandle, type StoredMessage } from '../../support/fake-slack/index.js';
import type { MockLlm, Responder } from '../../support/mock-llm.js';

/** Every time window of Slack ×0.1: burst sizes stay Slack-like. */
export const SCALE = 0.1;
export const FAKE_RATE_LIMITS = {
  postMessage: { burst: 3, refillEveryMs: 1_000 * SCALE },
  update: { burst: 50, refillEveryMs: 1_200 * SCALE },
  reactions: { burst: 50, refillEveryMs: 1_200 * SCALE },
};

/** A hub serving Slack only, and its receiver. */
export interface SlackBot {
  hub: ChatHub;
  receiver: SlackReceiver;
  stop(): Promise<void>;
  idle(): Promise<void>;
}

export interface World {
  slack: FakeSlack;
  h: Harness;
  bot: SlackBot;
  auth: AuthConfig;
  /** Builds and starts another hub and receiver on the same engine and fake (a restart of the Slack side). */
  newBot(): Promise<SlackBot>;
  close(): Promise<void>;
}

export interface WorldOptions {
  env?: Record<string, string>;
  flushDelayMs?: number;
  /** HTTP mode (signed requests to the bot's own server on 127.0.0.1) instead of Socket Mode. */
  http?: boolean;
  /** Who may use the bot (default: alice by id). */
  auth?: (slack: FakeSlack) => AuthConfig;
}

export async function startWorld(llm: MockLlm, options: WorldOptions = {}): Promise<World> {
  const slack = await startFakeSlack({ rateLimits: FAKE_RATE_LIMITS });
  const h = await makeHarness(llm, { env: options.env });
  h.engine.cards.add({ id: 'card-1', title: 'Add a jump button', body: 'Space makes the player jump.' });
  const auth: AuthConfig = options.auth?.(slack) ?? { allowedUsers: [`slack:${slack.users.alice}`], allowedRoles: [], allowAll: false };
  const config: SlackConfig = {
    botToken: slack.botToken,
    appToken: options.http ? null : slack.appToken,
    signingSecret: options.http ? slack.signingSecret : null,
    port: options.http ? 0 : null,
    apiUrl: slack.apiUrl,
    notifyChannel: slack.channels.notify,
  };
  const newBot = async (): Promise<SlackBot> => {
    const receiver = await SlackReceiver.connect({ slack: config, logger: silentLogger(), limits: scaleLimits(SLACK_LIMITS, SCALE), httpHost: '127.0.0.1' });
    const hub = new ChatHub({
      store: h.engine.store,
      manager: h.engine.manager,
      auth,
      logger: silentLogger(),
      flushDelayMs: options.flushDelayMs ?? 300,
      delivery: { backoffBaseMs: 50, backoffMaxMs: 500 },
    });
    await hub.start([receiver]);
    if (options.http) slack.useHttpMode(`http://127.0.0.1:${receiver.httpPort}/slack/events`);
    return { hub, receiver, stop: () => hub.stop(), idle: () => hub.idle() };
  };
  const world: World = {
    slack,
    h,
    bot: await newBot(),
    auth,
    newBot,
    close: async () => {
      await world.bot.stop();
      await h.engine.close();
      await slack.close();
    },
  };
  return world;
}

/** Posts the bot made (with its token) in a channel, top level and thread replies. */
export function botPosts(slack: FakeSlack, channel = 'general'): StoredMessage[] {
  return slack.botPosts(channel);
}

/** The bot's replies in the thread rooted at `ts` (without the parent). */
export function threadPosts(slack: FakeSlack, ts: string, channel = 'general'): StoredMessage[] {
  return slack.thread(channel, ts).filter((m) => m.ts !== ts && m.botId === slack.botId);
}

export interface StartedRun {
  cmd: SlashCommandHandle;
  run: Run;
  /** The header's ts: also the thread's `thread_ts`. */
  rootTs: string;
  answer: string;
}

/** `/run` as alice; resolves once the bot answered privately with the thread link. */
export async function runCommand(w: World, text = 'card-1', user = 'alice'): Promise<StartedRun> {
  const before = new Set(w.h.engine.manager.list(1000).map((r) => r.id));
  const cmd = w.slack.slashCommand({ command: '/run', text, user });
  const answer = await cmd.waitForResponse((r) => String(r.body.text).includes('Started run'), { timeoutMs: 30_000 });
  const run = w.h.engine.manager.list(1000).find((r) => !before.has(r.id))!;
  const lane = w.h.engine.store.chatThreads.threadOfRun(run.id)!;
  return { cmd, run, rootTs: messageIdsOf(lane.thread!).ts, answer: String(answer.body.text) };
}

/** A bash tool that signals `signal`, then waits until the test creates `file`; then a text answer. */
export function blockUntilFile(llm: MockLlm, file: string, signal: string, finalText = 'finished'): Responder {
  return (req) =>
    req.messages.at(-1)?.role === 'tool'
      ? { text: finalText }
      : { toolCalls: [{ name: 'bash', arguments: { command: `${llm.signalCommand(signal)}; while [ ! -f '${file}' ]; do sleep 0.05; done; echo released` } }] };
}

export function release(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '');
}
