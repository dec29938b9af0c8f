import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { allowAllUsersWarning, bundledPiCli, loadConfig, scrubBotSecrets } from '../../src/config.js';

describe('loadConfig', () => {
  it('defaults everything from the repository root', () => {
    const c = loadConfig({}, '/srv/game');
    expect(c.repoRoot).toBe('/srv/game');
    expect(c.dataDir).toBe('/srv/game/.chatops');
    expect(c.worktreesDir).toBe('/srv/game/.chatops/worktrees');
    expect(c.piAgentDir).toBe('/srv/game/.chatops/pi-agent');
    expect(c.playtestCommand).toBe('cargo run');
    expect(c.agentCommand).toBe(process.execPath);
    expect(c.agentArgs).toEqual([bundledPiCli()]);
    expect(c.discord).toBeNull();
    expect(c.slack).toBeNull();
    expect(c.auth).toEqual({ allowedUsers: [], allowedRoles: [], allowAll: false });
  });

  it('splits AGENT_ARGS as a shell would and refuses shell operators', () => {
    const c = loadConfig({ AGENT_ARGS: `--provider anthropic --model "claude x" --thinking 'high'` }, '/r');
    expect(c.agentArgs.slice(1)).toEqual(['--provider', 'anthropic', '--model', 'claude x', '--thinking', 'high']);
    expect(() => loadConfig({ AGENT_ARGS: '--model x | tee log' }, '/r')).toThrow(/AGENT_ARGS may hold only plain arguments/);
  });

  it('uses AGENT_COMMAND with its own arguments before AGENT_ARGS', () => {
    const c = loadConfig({ AGENT_COMMAND: '/opt/pi/bin/pi --verbose', AGENT_ARGS: '--model m' }, '/r');
    expect(c.agentCommand).toBe('/opt/pi/bin/pi');
    expect(c.agentArgs).toEqual(['--verbose', '--model', 'm']);
  });

  it('keeps the bot secrets out of the agent environment and passes provider keys', () => {
    const c = loadConfig({ DISCORD_TOKEN: 'secret', DISCORD_GUILD_ID: '123456', ANTHROPIC_API_KEY: 'sk-1', SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' }, '/r');
    expect(c.agentEnv.ANTHROPIC_API_KEY).toBe('sk-1');
    expect(c.agentEnv.DISCORD_TOKEN).toBeUndefined();
    expect(c.agentEnv.SLACK_BOT_TOKEN).toBeUndefined();
    expect(c.agentEnv.SLACK_APP_TOKEN).toBeUndefined();
  });

  it('gives the agent only PATH, HOME, LANG, TERM, the provider keys and the AGENT_ENV names', () => {
    const env = {
      PATH: '/bin',
      HOME: '/home/bot',
      LANG: 'C.UTF-8',
      TERM: 'xterm',
      SHELL: '/bin/bash',
      AWS_SECRET_ACCESS_KEY: 'aws-secret-value',
      DATABASE_URL: 'postgres://u:p@h/db',
      ANTHROPIC_API_KEY: 'sk-ant-1234567',
      OPENAI_API_KEY: 'sk-openai-12345',
      CARGO_HOME: '/opt/cargo',
      AGENT_ENV: 'CARGO_HOME, DISPLAY',
    };
    expect(loadConfig(env, '/r').agentEnv).toEqual({
      PATH: '/bin',
      HOME: '/home/bot',
      LANG: 'C.UTF-8',
      TERM: 'xterm',
      ANTHROPIC_API_KEY: 'sk-ant-1234567',
      OPENAI_API_KEY: 'sk-openai-12345',
      CARGO_HOME: '/opt/cargo',
    });
    // With --provider only that provider's key goes along.
    const anthropic = loadConfig({ ...env, AGENT_ARGS: '--provider anthropic --model claude-x' }, '/r').agentEnv;
    expect(Object.keys(anthropic).sort()).toEqual(['ANTHROPIC_API_KEY', 'CARGO_HOME', 'HOME', 'LANG', 'PATH', 'TERM']);
    const viaModel = loadConfig({ ...env, AGENT_ARGS: '--model openai/gpt-x' }, '/r').agentEnv;
    expect(viaModel.OPENAI_API_KEY).toBe('sk-openai-12345');
    expect(viaModel.ANTHROPIC_API_KEY).toBeUndefined();
    expect(() => loadConfig({ AGENT_ENV: 'A;B' }, '/r')).toThrow(/AGENT_ENV: must be comma-separated variable names/);
  });

  it('passes the key variable a custom provider of models.json names', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatops-cfg-'));
    fs.writeFileSync(path.join(dir, 'models.json'), JSON.stringify({ providers: { local: { apiKey: 'LOCAL_LLM_KEY', headers: { 'x-team': 'TEAM_HEADER' } } } }));
    const c = loadConfig({ PI_CODING_AGENT_DIR: dir, LOCAL_LLM_KEY: 'local-key-value', TEAM_HEADER: 'team-1', OTHER: 'x', AGENT_ARGS: '--provider local' }, '/r');
    expect(c.agentEnv).toEqual({ LOCAL_LLM_KEY: 'local-key-value', TEAM_HEADER: 'team-1' });
    expect(c.secretValues).toEqual(['local-key-value']);
    fs.rmSync(dir, { recursive: true });
  });

  it('collects the secrets to redact and refuses SECRET_VALUES shorter than 8 characters', () => {
    const c = loadConfig(
      {
        DISCORD_TOKEN: 'discord-token-value',
        DISCORD_GUILD_ID: '123456',
        ANTHROPIC_API_KEY: 'sk-ant-1234567',
        SECRET_VALUES: 'hunter22hunter, another-secret',
        AGENT_ARGS: '--api-key sk-from-args-1 --model m',
      },
      '/r',
    );
    expect(c.secretValues.sort()).toEqual(['another-secret', 'discord-token-value', 'hunter22hunter', 'sk-ant-1234567', 'sk-from-args-1']);
    expect(() => loadConfig({ SECRET_VALUES: 'long-enough-value,abc' }, '/r')).toThrow(/SECRET_VALUES: 1 value\(s\) shorter than 8 characters/);
  });

  it('reads the sandbox mode and its extra paths', () => {
    expect(loadConfig({}, '/r').sandbox).toEqual({ mode: 'auto', rw: [], ro: [] });
    const c = loadConfig({ HOME: '/home/bot', AGENT_SANDBOX: 'bwrap', AGENT_SANDBOX_RW: '~/.cargo', AGENT_SANDBOX_RO: '~/.rustup,/opt/sdk' }, '/r');
    expect(c.sandbox).toEqual({ mode: 'bwrap', rw: ['/home/bot/.cargo'], ro: ['/home/bot/.rustup', '/opt/sdk'] });
    expect(() => loadConfig({ AGENT_SANDBOX: 'docker' }, '/r')).toThrow(/AGENT_SANDBOX/);
    expect(() => loadConfig({ AGENT_SANDBOX_RO: 'relative/dir' }, '/r')).toThrow(/must be an absolute path/);
  });

  it('warns about ALLOW_ALL_USERS naming what it grants', () => {
    expect(allowAllUsersWarning(loadConfig({}, '/r'))).toBeNull();
    expect(allowAllUsersWarning(loadConfig({ ALLOW_ALL_USERS: 'true' }, '/r'))).toMatch(/every user .* may start, steer, stop, refine and playtest runs/);
  });

  it('resolves relative paths against REPO_ROOT', () => {
    const c = loadConfig({ REPO_ROOT: 'game', DATA_DIR: 'var', WORKTREES_DIR: '../wt' }, '/home/me');
    expect(c.repoRoot).toBe('/home/me/game');
    expect(c.dataDir).toBe('/home/me/game/var');
    expect(c.worktreesDir).toBe(path.resolve('/home/me/wt'));
  });

  it.each([
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ DISCORD_TOKEN: 't' }, /DISCORD_GUILD_ID is not/],
    [{ DISCORD_TOKEN: 't', DISCORD_GUILD_ID: 'abc' }, /DISCORD_GUILD_ID: must be a numeric Discord id/],
    [{ DISCORD_API_BASE: 'not a url' }, /DISCORD_API_BASE/],
    [{ SLACK_BOT_TOKEN: 'xoxb-1' }, /SLACK_APP_TOKEN/],
    [{ SLACK_BOT_TOKEN: 'xapp-1', SLACK_APP_TOKEN: 'xapp-2' }, /SLACK_BOT_TOKEN: must be the Bot User OAuth Token/],
    [{ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xoxb-2' }, /SLACK_APP_TOKEN: must be an app-level token/],
    [{ SLACK_NOTIFY_CHANNEL: '#general' }, /SLACK_NOTIFY_CHANNEL: must be a channel id/],
    [{ ALLOWED_ROLES: 'admins' }, /ALLOWED_ROLES: must be comma-separated numeric/],
    [{ PORT: '99999' }, /PORT/],
    [{ ALLOWED_USERS: 'bob' }, /ALLOWED_USERS entry "bob"/],
    [{ ALLOW_ALL_USERS: 'maybe' }, /ALLOW_ALL_USERS/],
  ])('rejects %j with a message naming the variable', (env, message) => {
    expect(() => loadConfig(env, '/r')).toThrow(message);
    expect(() => loadConfig(env, '/r')).toThrow(/\.env\.example/);
  });

  it('reads Slack in HTTP mode and the allow-lists', () => {
    const c = loadConfig(
      { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', PORT: '3000', ALLOWED_USERS: 'discord:1, slack:U2', ALLOWED_ROLES: '99999', ALLOW_ALL_USERS: 'true' },
      '/r',
    );
    expect(c.slack).toMatchObject({ botToken: 'xoxb-1', appToken: null, signingSecret: 's', port: 3000 });
    expect(c.auth).toEqual({ allowedUsers: ['discord:1', 'slack:U2'], allowedRoles: ['99999'], allowAll: true });
  });

  it('scrubs the bot secrets from an environment once loaded', () => {
    const env: NodeJS.ProcessEnv = { DISCORD_TOKEN: 'd', SLACK_BOT_TOKEN: 'b', SLACK_APP_TOKEN: 'a', SLACK_SIGNING_SECRET: 's', ANTHROPIC_API_KEY: 'k', PATH: '/bin' };
    scrubBotSecrets(env);
    expect(env).toEqual({ ANTHROPIC_API_KEY: 'k', PATH: '/bin' });
  });

  it('defaults the run limits and reads durations and sizes with units', () => {
    expect(loadConfig({}, '/r').limits).toEqual({
      runTimeout: { ms: 60 * 60_000, text: '60m' },
      agentIdleTimeout: { ms: 15 * 60_000, text: '15m' },
      playtestTimeout: { ms: 10 * 60_000, text: '10m' },
      runBudgetUsd: null,
      worktreeRetention: { ms: 14 * 86_400_000, text: '14d' },
      minFreeDisk: 2 * 1024 ** 3,
      agentMaxLine: 8 * 1024 ** 2,
      dataRetention: { ms: 90 * 86_400_000, text: '90d' },
    });
    const c = loadConfig({ RUN_TIMEOUT: '90s', AGENT_IDLE_TIMEOUT: '2h', RUN_BUDGET_USD: '$2.50', MIN_FREE_DISK: '512MB', AGENT_MAX_LINE: '1mb' }, '/r');
    expect(c.limits).toMatchObject({
      runTimeout: { ms: 90_000, text: '90s' },
      agentIdleTimeout: { ms: 7_200_000, text: '2h' },
      runBudgetUsd: 2.5,
      minFreeDisk: 512 * 1024 ** 2,
      agentMaxLine: 1024 ** 2,
    });
    expect(loadConfig({ MIN_FREE_DISK: '0' }, '/r').limits.minFreeDisk).toBe(0);
  });

  it.each([
    [{ RUN_TIMEOUT: '60' }, /RUN_TIMEOUT must be a duration with a unit.*add a unit/],
    [{ AGENT_IDLE_TIMEOUT: 'soon' }, /AGENT_IDLE_TIMEOUT must be a duration with a unit such as 90s, 30m, 2h or 14d \(got "soon"\)/],
    [{ PLAYTEST_TIMEOUT: '365d' }, /PLAYTEST_TIMEOUT may be at most 20 days/],
    [{ RUN_BUDGET_USD: 'lots' }, /RUN_BUDGET_USD must be a positive amount of US dollars/],
    [{ RUN_BUDGET_USD: '-1' }, /RUN_BUDGET_USD/],
    [{ MIN_FREE_DISK: 'big' }, /MIN_FREE_DISK must be a size with a unit such as 512MB/],
    [{ AGENT_MAX_LINE: '1000' }, /AGENT_MAX_LINE must be a size with a unit/],
    [{ DATA_RETENTION: '0d' }, /DATA_RETENTION must be a duration/],
  ])('rejects the limit %j with a message naming the variable', (env, message) => {
    expect(() => loadConfig(env, '/r')).toThrow(message);
    expect(() => loadConfig(env, '/r')).toThrow(/\.env\.example/);
  });

  it('names every bad limit at once', () => {
    expect(() => loadConfig({ RUN_TIMEOUT: 'x', WORKTREE_RETENTION: 'y' }, '/r')).toThrow(/RUN_TIMEOUT[\s\S]*WORKTREE_RETENTION/);
  });
});
