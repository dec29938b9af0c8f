/**
 * Discord and Slack in one process: one hub, one relay, one delivery over both receivers (the
 * real discord.js client against the fake Discord, the real Bolt app against the fake Slack), the
 * real engine with the real pi. Each platform's rows go to its own port: both threads get their
 * whole run, and nothing is reported as undeliverable.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiscordReceiver } from '../../../src/bots/discord/discord-receiver.js';
import { DISCORD_LIMITS } from '../../../src/bots/discord/limits.js';
import { channelIdOf } from '../../../src/bots/discord/refs.js';
import { ChatHub } from '../../../src/bots/hub/hub.js';
import { scaleLimits } from '../../../src/bots/hub/pacing.js';
import { SLACK_LIMITS } from '../../../src/bots/slack/limits.js';
import { messageIdsOf } from '../../../src/bots/slack/refs.js';
import { SlackReceiver } from '../../../src/bots/slack/slack-receiver.js';
import { silentLogger } from '../../../src/logger.js';
import { makeHarness, type Harness } from '../../support/engine-harness.js';
import { startFakeDiscord, type FakeDiscord } from '../../support/fake-discord/index.js';
import { startFakeSlack, type FakeSlack } from '../../support/fake-slack/index.js';
import { MockLlm } from '../../support/mock-llm.js';
import { useTempDirs } from '../../support/temp.js';
import { FAKE_RATE_LIMITS as DISCORD_RATES, SCALE as DISCORD_SCALE } from '../discord/discord-e2e-support.js';
import { FAKE_RATE_LIMITS as SLACK_RATES, SCALE as SLACK_SCALE } from '../slack/slack-e2e-support.js';

useTempDirs();

const WAIT = { timeoutMs: 100_000 };

let llm: MockLlm;
let discord: FakeDiscord;
let slack: FakeSlack;
let h: Harness;
let hub: ChatHub;

beforeAll(async () => {
  llm = await MockLlm.start();
  discord = await startFakeDiscord({ rateLimits: DISCORD_RATES });
  slack = await startFakeSlack({ rateLimits: SLACK_RATES });
  h = await makeHarness(llm);
  h.engine.cards.add({ id: 'card-1', title: 'Add a jump button', body: 'Space makes the player jump.' });
  const discordReceiver = new DiscordReceiver({
    discord: { token: discord.token, guildId: discord.guildId, notifyChannelId: discord.channels.notify, apiBase: discord.apiBase },
    logger: silentLogger(),
    limits: scaleLimits(DISCORD_LIMITS, DISCORD_SCALE),
  });
  const slackReceiver = await SlackReceiver.connect({
    slack: { botToken: slack.botToken, appToken: slack.appToken, signingSecret: null, port: null, apiUrl: slack.apiUrl, notifyChannel: slack.channels.notify },
    logger: silentLogger(),
    limits: scaleLimits(SLACK_LIMITS, SLACK_SCALE),
  });
  hub = new ChatHub({
    store: h.engine.store,
    manager: h.engine.manager,
    auth: { allowedUsers: [`slack:${slack.users.alice}`], allowedRoles: [discord.roles.operator!], allowAll: false },
    logger: silentLogger(),
    flushDelayMs: 300,
  });
  await hub.start([discordReceiver, slackReceiver]);
});

afterAll(async () => {
  await hub?.stop();
  await h?.engine.close();
  await discord?.close();
  await slack?.close();
  await llm?.close();
});

describe('one hub serving Discord and Slack', () => {
  it('a /run on each platform: each thread gets its whole run on its own platform, and no delivery fails', async () => {
    const before = new Set(h.engine.manager.list(100).map((r) => r.id));
    const onDiscord = discord.sendCommand({ name: 'run', options: { card: 'card-1', prompt: 'from discord' }, user: 'alice' });
    const onSlack = slack.slashCommand({ command: '/run', text: 'card-1 from slack', user: 'alice' });
    await onDiscord.waitForOriginal((m) => m.content.includes('Started run'), WAIT);
    await onSlack.waitForResponse((r) => String(r.body.text).includes('Started run'), WAIT);

    const runs = h.engine.manager.list(100).filter((r) => !before.has(r.id));
    expect(runs).toHaveLength(2);
    for (const run of runs) await h.engine.manager.waitForSettled(run.id);
    await hub.idle();

    const threadOf = (runId: string) => h.engine.store.chatThreads.threadOfRun(runId)!;
    const byPlatform = new Map(runs.map((r) => [threadOf(r.id).platform, r]));
    expect([...byPlatform.keys()].sort()).toEqual(['discord', 'slack']);
    const dRun = byPlatform.get('discord')!;
    const sRun = byPlatform.get('slack')!;
    expect(h.engine.manager.get(dRun.id)!.prompt).toContain('from discord');
    expect(h.engine.manager.get(sRun.id)!.prompt).toContain('from slack');

    // Discord: the thread holds the live status and the final result of the Discord run only.
    const dThread = channelIdOf(threadOf(dRun.id).thread!);
    const dTexts = discord.messages(dThread).filter((m) => m.authorId === discord.botUser.id).map((m) => m.content);
    expect(dTexts.some((t) => t.includes(`Run ${dRun.id.slice(0, 8)} succeeded`))).toBe(true);
    expect(dTexts.join('\n')).not.toContain(sRun.id.slice(0, 8));

    // Slack: the same for the Slack run, in the header's thread.
    const sTs = messageIdsOf(threadOf(sRun.id).thread!).ts;
    const sTexts = slack.thread('general', sTs).filter((m) => m.ts !== sTs && m.botId === slack.botId).map((m) => m.text);
    expect(sTexts.some((t) => t.includes(`Run ${sRun.id.slice(0, 8)} succeeded`))).toBe(true);
    expect(sTexts.join('\n')).not.toContain(dRun.id.slice(0, 8));

    // Each team channel got its own run's two lines.
    const dNotify = discord.messages(discord.channels.notify).map((m) => m.content);
    const sNotify = slack.messages('notify').map((m) => m.text);
    expect(dNotify.filter((t) => t.includes(dRun.id.slice(0, 8)))).toHaveLength(2);
    expect(sNotify.filter((t) => t.includes(sRun.id.slice(0, 8)))).toHaveLength(2);
    expect(dNotify.join('\n')).not.toContain(sRun.id.slice(0, 8));
    expect(sNotify.join('\n')).not.toContain(dRun.id.slice(0, 8));

    // Nothing failed: no dead rows, no "Delivery failed" note anywhere.
    for (const run of runs) {
      const rows = h.engine.store.outbox.listThread(threadOf(run.id).threadKey);
      expect(rows.filter((r) => r.status === 'dead')).toEqual([]);
      expect(rows.some((r) => r.body.includes('Delivery failed'))).toBe(false);
    }
    expect([...dTexts, ...sTexts].some((t) => t.includes('Delivery failed'))).toBe(false);
  });
});
