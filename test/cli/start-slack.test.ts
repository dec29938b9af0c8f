import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBotEnv } from '../support/engine-harness.js';
import { startFakeDiscord, type FakeDiscord } from '../support/fake-discord/index.js';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack/index.js';
import { MockLlm } from '../support/mock-llm.js';
import { git, useTempDirs } from '../support/temp.js';

useTempDirs();

const BIN = path.resolve('bin/chatops.js');
const WAIT = { timeoutMs: 60_000 };
let llm: MockLlm;
let slack: FakeSlack;
beforeAll(async () => {
  llm = await MockLlm.start();
  slack = await startFakeSlack();
});
afterAll(async () => {
  await slack.close();
  await llm.close();
});

function slackEnv(): Record<string, string> {
  return {
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_APP_TOKEN: slack.appToken,
    SLACK_API_URL: slack.apiUrl,
    SLACK_NOTIFY_CHANNEL: slack.channels.notify!,
    ALLOWED_USERS: `slack:${slack.users.alice}`,
  };
}

describe('npm start with Slack configured', () => {
  it('with only the SLACK_* variables set, serves /run in Socket Mode end to end and stops on SIGTERM', async () => {
    const bot = await makeBotEnv(llm, { env: slackEnv() });
    const sockets = slack.state.connections.length;
    const child = execa(process.execPath, [BIN, 'start'], { cwd: bot.repo, env: bot.env, extendEnv: false, reject: false });
    await slack.waitForSocketConnected({ count: sockets + 1, ...WAIT });

    const add = slack.slashCommand({ command: '/card', text: 'add card-1 Add a jump button', user: 'alice', channel: 'general' });
    await add.waitForResponse((r) => /card-1/.test(JSON.stringify(r.body)), WAIT);
    const run = slack.slashCommand({ command: '/run', text: 'card-1', user: 'alice', channel: 'general' });
    expect((await run.ack).latencyMs).toBeLessThan(3000);
    const final = await slack.waitFor(() => slack.botPosts('general').find((m) => m.threadTs && /succeeded/.test(m.text) && /commit/i.test(m.text)), {
      ...WAIT,
      description: 'the final result post in the run thread',
    });
    expect(final.unfurlLinks).toBe(false);
    await slack.waitFor(() => slack.botPosts('notify').find((m) => /succeeded/.test(m.text)), { ...WAIT, description: 'the settled notification' });

    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode).toBe(0);
    expect(result.stderr).not.toContain(slack.botToken);
    expect(result.stderr).not.toContain(slack.appToken);
    const branch = await git(bot.repo, ['branch', '--list', 'chatops/*', '--format=%(refname:short)']);
    expect(await git(bot.repo, ['log', '-1', '--format=%s', branch])).toMatch(/^mock: add/);
  });

  it('with Discord and Slack both configured, one process answers on both', async () => {
    const discord: FakeDiscord = await startFakeDiscord();
    try {
      const bot = await makeBotEnv(llm, {
        env: { ...slackEnv(), DISCORD_TOKEN: discord.token, DISCORD_GUILD_ID: discord.guildId, DISCORD_API_BASE: discord.apiBase, ALLOWED_ROLES: discord.roles.operator! },
      });
      const sockets = slack.state.connections.length;
      const child = execa(process.execPath, [BIN, 'start'], { cwd: bot.repo, env: bot.env, extendEnv: false, reject: false });
      await slack.waitForSocketConnected({ count: sockets + 1, ...WAIT });
      await discord.waitFor(() => discord.commands().some((c) => c.name === 'runs') || undefined, { ...WAIT, description: 'Discord commands registered' });

      const onSlack = slack.slashCommand({ command: '/runs', text: '', user: 'alice', channel: 'general' });
      await onSlack.waitForResponse(() => true, WAIT);
      const onDiscord = discord.sendCommand({ name: 'runs', user: 'alice' });
      await onDiscord.waitForOriginal((m) => m.content.length > 0, WAIT);

      child.kill('SIGTERM');
      expect((await child).exitCode).toBe(0);
    } finally {
      await discord.close();
    }
  });
});
