import path from 'node:path';
import { Writable } from 'node:stream';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { makeBotEnv } from '../support/engine-harness.js';
import { startFakeDiscord, type FakeDiscord } from '../support/fake-discord/index.js';
import { MockLlm } from '../support/mock-llm.js';
import { git, useTempDirs } from '../support/temp.js';

useTempDirs();

const BIN = path.resolve('bin/chatops.js');
let llm: MockLlm;
let fake: FakeDiscord;
beforeAll(async () => {
  llm = await MockLlm.start();
  fake = await startFakeDiscord();
});
afterAll(async () => {
  await fake.close();
  await llm.close();
});

function discordEnv(): Record<string, string> {
  return { DISCORD_TOKEN: fake.token, DISCORD_GUILD_ID: fake.guildId, DISCORD_NOTIFY_CHANNEL_ID: fake.channels.notify!, DISCORD_API_BASE: fake.apiBase, ALLOWED_ROLES: fake.roles.operator! };
}

function commandPuts(): number {
  return fake.requests.filter((r) => r.method === 'PUT' && /\/commands$/.test(r.path)).length;
}

describe('the bot with only the DISCORD_* variables set', () => {
  it('chatops register-commands registers the slash commands in the guild', async () => {
    const bot = await makeBotEnv(llm, { env: discordEnv() });
    let stdout = '';
    const code = await runCli(['node', 'chatops', 'register-commands'], {
      stdout: new Writable({ write: (c, _e, cb) => ((stdout += String(c)), cb()) }),
      stderr: new Writable({ write: (_c, _e, cb) => cb() }),
      env: bot.env,
      cwd: bot.repo,
    });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^registered \/run, \/runs, \/card, \/help in guild \d+/);
    expect(fake.commands().map((c) => c.name).sort()).toEqual(['card', 'help', 'run', 'runs']);
  });

  it('npm start serves /run end to end, and SIGTERM shuts it down cleanly', async () => {
    const bot = await makeBotEnv(llm, { env: discordEnv() });
    const child = execa(process.execPath, [BIN, 'start'], { cwd: bot.repo, env: { ...bot.env, LOG_LEVEL: 'info' }, extendEnv: false, reject: false });
    const readyBefore = fake.state.readyCount;
    const putsBefore = commandPuts();
    await fake.waitFor(() => (fake.state.readyCount > readyBefore && commandPuts() > putsBefore) || undefined, {
      timeoutMs: 30_000,
      description: 'the bot logged in and registered its commands',
    });

    const addCard = fake.sendCommand({ name: 'card', user: 'alice', options: { sub: 'add', id: 'card-1', title: 'Add a jump button' } });
    await addCard.waitForOriginal((m) => /card-1/.test(m.content), { timeoutMs: 30_000 });
    const cmd = fake.sendCommand({ name: 'run', user: 'alice', options: { card: 'card-1' } });
    expect((await cmd.ack).type).toBe(5);
    await cmd.waitForOriginal((m) => m.content.includes('Started run'), { timeoutMs: 60_000 });
    const final = await fake.waitFor(
      () => fake.threads().flatMap((t) => fake.messages(t.id)).find((m) => /succeeded/.test(m.content) && /commit/.test(m.content)),
      { timeoutMs: 60_000, description: 'the final result post' },
    );
    expect(final.allowedMentions).toEqual({ parse: [] });
    await fake.waitFor(() => fake.messages(fake.channels.notify!).find((m) => /succeeded/.test(m.content)), { timeoutMs: 30_000, description: 'the settled notification' });

    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode).toBe(0);
    expect(result.stderr).not.toContain(fake.token);
    const branch = await git(bot.repo, ['branch', '--list', 'chatops/*', '--format=%(refname:short)']);
    expect(await git(bot.repo, ['log', '-1', '--format=%s', branch])).toMatch(/^mock: add/);
  });
});
