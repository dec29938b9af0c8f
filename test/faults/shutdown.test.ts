/**
 * The bot's shutdown and start-up failures with real processes (`bin/chatops.js start`): a second
 * signal ends the agents' process trees at once, and a platform that fails to start does not leave
 * the one started before it running. Run by `npm run test:faults`.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { pidRunning } from '../../src/core/process-identity.js';
import { openStore } from '../../src/store/index.js';
import { makeBotEnv } from '../support/engine-harness.js';
import { startFakeDiscord, type FakeDiscord } from '../support/fake-discord/index.js';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack/index.js';
import { MockLlm } from '../support/mock-llm.js';
import { until } from '../support/poll.js';
import { useTempDirs } from '../support/temp.js';

useTempDirs();

const BIN = path.resolve('bin/chatops.js');
const STUBBORN_AGENT = path.resolve('test/fixtures/agents/hang-after-prompt.mjs');
const WAIT_MS = 60_000;

let llm: MockLlm;
beforeAll(async () => {
  llm = await MockLlm.start();
});
afterAll(async () => {
  await llm?.close();
});

/** The console-mode bot running card-1 with an agent that ignores abort, stdin EOF and SIGTERM (only SIGKILL ends it). */
async function botWithStubbornAgent() {
  const { repo, env } = await makeBotEnv(llm, { env: { LOG_LEVEL: 'info', AGENT_COMMAND: `'${process.execPath}' '${STUBBORN_AGENT}'` } });
  const child = execa(process.execPath, [BIN, 'start'], { cwd: repo, env, extendEnv: false, reject: false, stdin: 'pipe', forceKillAfterDelay: false });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += String(c)));
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += String(c)));
  await until(() => out.includes('chatops console'), 'the console prompt', WAIT_MS);
  child.stdin!.write('/card add card-1 Add a jump button\n');
  await until(() => /Added card-1/.test(out), 'the card was added', WAIT_MS);
  child.stdin!.write('/run card-1\n');
  const store = openStore(loadConfig(env, repo).dbFile);
  const agent = await until(() => store.processes.list().find((r) => r.kind === 'agent'), 'the agent process was recorded', WAIT_MS);
  const logFile = await until(() => /logs: (\S+)\)/.exec(err)?.[1], 'the log file name', WAIT_MS);
  return { child, store, agent, logFile };
}

describe('shutdown', { timeout: 180_000 }, () => {
  it('a second signal during a shutdown kills the agent process trees at once and exits 130', async () => {
    const { child, store, agent, logFile } = await botWithStubbornAgent();
    try {
      expect(pidRunning(agent.pid)).toBe(true);
      child.kill('SIGTERM');
      await until(() => fs.existsSync(logFile) && fs.readFileSync(logFile, 'utf8').includes('"shutting down"'), 'the first shutdown began', WAIT_MS);
      child.kill('SIGTERM');
      const result = await child;
      expect(result.exitCode).toBe(130);
      // SIGTERM, then SIGKILL a moment later, to the whole tree: well before the stop sequence's own SIGKILL.
      await until(() => !pidRunning(agent.pid), 'the agent is gone', 2_000);
      expect(store.runs.list(1)[0]!.status).toBe('running'); // the next start marks it interrupted
    } finally {
      store.close();
    }
  });

  it('SIGTERM with an agent that ignores the stop sequence: the bot cuts it off, kills its tree, marks the run interrupted and exits 0 within the 10 s bound', async () => {
    const { child, store, agent, logFile } = await botWithStubbornAgent();
    try {
      expect(pidRunning(agent.pid)).toBe(true);
      child.kill('SIGTERM');
      const result = await child;
      expect(result.exitCode).toBe(0);
      expect(pidRunning(agent.pid)).toBe(false);
      expect(store.runs.list(1)[0]!.status).toBe('interrupted');
      const log = fs.readFileSync(logFile, 'utf8');
      expect(log).toContain('a shutdown step overran its time; cut off');
      const took = JSON.parse(log.split('\n').find((l) => l.includes('"shut down"'))!) as { ms: number };
      expect(took.ms).toBeLessThanOrEqual(10_000);
      console.info(`shutdown with a stuck agent took ${took.ms} ms`);
    } finally {
      store.close();
    }
  });

  it('a second platform that fails to start stops the first one and the bot exits with the error', async () => {
    const discord: FakeDiscord = await startFakeDiscord();
    const slack: FakeSlack = await startFakeSlack();
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const { repo, env } = await makeBotEnv(llm, {
        env: {
          DISCORD_TOKEN: discord.token,
          DISCORD_GUILD_ID: discord.guildId,
          DISCORD_API_BASE: discord.apiBase,
          ALLOWED_ROLES: discord.roles.operator!,
          SLACK_BOT_TOKEN: slack.botToken,
          SLACK_API_URL: slack.apiUrl,
          // HTTP mode on a port that is taken: Slack fails to start after Discord has.
          SLACK_SIGNING_SECRET: 'a-signing-secret',
          PORT: String(port),
        },
      });
      const result = await execa(process.execPath, [BIN, 'start'], { cwd: repo, env, extendEnv: false, reject: false, timeout: WAIT_MS });
      expect(result.timedOut).toBe(false);
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr).toMatch(/EADDRINUSE/);
      expect(discord.state.readyCount).toBe(1); // Discord had started
      await discord.waitFor(() => !discord.isGatewayConnected() || undefined, { timeoutMs: 10_000, description: 'Discord disconnected' });
    } finally {
      taken.close();
      await slack.close();
      await discord.close();
    }
  });
});
