/**
 * `chatops doctor` against the fake Discord and fake Slack, the real pi and the scripted model:
 * all ✓ when configured right; the right ✗ and fix for a wrong token, a missing intent or scope,
 * a channel the bot is not in, and a missing model key.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { runChecks, type CheckResult } from '../../src/cli/doctor.js';
import { Sandbox } from '../../src/core/sandbox.js';
import { makeBotEnv } from '../support/engine-harness.js';
import { startFakeDiscord, type FakeDiscord } from '../support/fake-discord/index.js';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack/index.js';
import { MockLlm } from '../support/mock-llm.js';
import { makePiAgentDir } from '../support/pi-agent-dir.js';
import { useTempDirs } from '../support/temp.js';

useTempDirs();

const sandboxWorks = (await Sandbox.probe()) === null;
if (!sandboxWorks) console.warn('doctor tests run with AGENT_SANDBOX=off: bwrap does not run here');

let llm: MockLlm;
let discord: FakeDiscord;
let slack: FakeSlack;
beforeAll(async () => {
  [llm, discord, slack] = await Promise.all([MockLlm.start(), startFakeDiscord(), startFakeSlack()]);
});
afterAll(async () => {
  await Promise.all([llm.close(), discord.close(), slack.close()]);
});

async function configured(extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const { env } = await makeBotEnv(llm);
  return {
    ...env,
    DISCORD_TOKEN: discord.token,
    DISCORD_GUILD_ID: discord.guildId,
    DISCORD_NOTIFY_CHANNEL_ID: discord.channels.notify,
    DISCORD_API_BASE: discord.apiBase,
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_APP_TOKEN: slack.appToken,
    SLACK_API_URL: slack.apiUrl,
    SLACK_NOTIFY_CHANNEL: slack.channels.notify,
    // Where bwrap runs, the agent check starts pi in the sandbox, as a run would.
    AGENT_SANDBOX: sandboxWorks ? 'bwrap' : 'off',
    ...extra,
  };
}

const byName = (results: CheckResult[], name: string) => results.find((r) => r.name === name);

describe('chatops doctor', () => {
  it('all ✓ and exit code 0 when everything is configured right', async () => {
    const env = await configured();
    let out = '';
    const stdout = new Writable({ write: (c, _e, cb) => ((out += String(c)), cb()) });
    const code = await runCli(['node', 'chatops', 'doctor'], { stdout, stderr: stdout, env, cwd: env.REPO_ROOT });
    expect(out).not.toContain('✗');
    for (const name of ['config', 'repository', 'data folder', 'disk space', 'sandbox', 'agent and model', 'Discord token', 'Discord intents', 'Discord server', 'Discord notification channel', 'Slack bot token', 'Slack scopes', 'Slack app token', 'Slack notification channel']) {
      expect(out).toContain(`✓ ${name}:`);
    }
    expect(out).toContain('pi starts and uses mock/mock-model');
    expect(code).toBe(0);
  });

  it('names a wrong Discord token and a wrong Slack token, with the fix', async () => {
    const results = await runChecks(await configured({ DISCORD_TOKEN: 'not-the-token', SLACK_BOT_TOKEN: 'xoxb-wrong' }), undefined);
    expect(byName(results, 'Discord token')).toMatchObject({ ok: false, detail: expect.stringContaining('401'), fix: expect.stringContaining('Reset Token') });
    expect(byName(results, 'Slack bot token')).toMatchObject({ ok: false, detail: expect.stringContaining('invalid_auth'), fix: expect.stringContaining('SLACK_BOT_TOKEN') });
  });

  it('names a missing Message Content intent and a missing Slack scope', async () => {
    const [noIntent, fewScopes] = await Promise.all([startFakeDiscord({ messageContentIntent: false }), startFakeSlack({ botScopes: ['chat:write', 'commands'] })]);
    try {
      const env = await configured({
        DISCORD_TOKEN: noIntent.token, DISCORD_GUILD_ID: noIntent.guildId, DISCORD_NOTIFY_CHANNEL_ID: noIntent.channels.notify, DISCORD_API_BASE: noIntent.apiBase,
        SLACK_BOT_TOKEN: fewScopes.botToken, SLACK_APP_TOKEN: fewScopes.appToken, SLACK_API_URL: fewScopes.apiUrl, SLACK_NOTIFY_CHANNEL: fewScopes.channels.notify,
      });
      const results = await runChecks(env, undefined);
      expect(byName(results, 'Discord intents')).toMatchObject({ ok: false, fix: expect.stringContaining('Message Content Intent') });
      expect(byName(results, 'Slack scopes')).toMatchObject({ ok: false, detail: 'missing: channels:history, groups:history, reactions:read, reactions:write, users:read, files:write' });
    } finally {
      await Promise.all([noIntent.close(), fewScopes.close()]);
    }
  });

  it('names a notification channel the bot is not in, and a server it is not in', async () => {
    const results = await runChecks(await configured({ SLACK_NOTIFY_CHANNEL: slack.channels.random, DISCORD_GUILD_ID: '123456789012345678' }), undefined);
    expect(byName(results, 'Slack notification channel')).toMatchObject({ ok: false, fix: expect.stringContaining('/invite') });
    expect(byName(results, 'Discord server')).toMatchObject({ ok: false, detail: expect.stringContaining('not in server 123456789012345678'), fix: expect.stringContaining('DISCORD_GUILD_ID') });
  });

  it('names a model without a key, and a config that does not validate', async () => {
    const noKey = makePiAgentDir({ baseUrl: llm.baseUrl, withoutApiKey: true });
    const results = await runChecks(await configured({ PI_CODING_AGENT_DIR: noKey.dir }), undefined);
    expect(byName(results, 'agent and model')).toMatchObject({ ok: false, fix: expect.stringContaining('ANTHROPIC_API_KEY') });
    expect(llm.requests).toHaveLength(0); // no paid request
    const bad = await runChecks({ LOG_LEVEL: 'loud' }, '/tmp');
    expect(bad).toEqual([expect.objectContaining({ name: 'config', ok: false, detail: expect.stringContaining('LOG_LEVEL') })]);
  });
});
