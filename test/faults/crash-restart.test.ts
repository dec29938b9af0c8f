/**
 * The bot killed with -9 in the middle of a run whose bash tool is running and whose playtest
 * (with a detached child) is running, then started again: the real bot (`bin/chatops.js start`)
 * as a child process, the real pi against the scripted model server, the fake Discord, all on
 * 127.0.0.1. And a second bot on the same DATA_DIR. Run by `npm run test:faults`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config.js';
import { pidRunning } from '../../src/core/process-identity.js';
import { processesWorkingIn } from '../../src/core/process-tree.js';
import { channelIdOf } from '../../src/bots/discord/refs.js';
import { openStore, type Store } from '../../src/store/index.js';
import { makeBotEnv } from '../support/engine-harness.js';
import { startFakeDiscord, type FakeDiscord, type StoredMessage } from '../support/fake-discord/index.js';
import { MockLlm, messageText } from '../support/mock-llm.js';
import { until as untilWithin } from '../support/poll.js';
import { makeTempDir, useTempDirs } from '../support/temp.js';

const until = <T>(check: () => T | undefined | null | false, description: string, timeoutMs = 90_000) => untilWithin(check, description, timeoutMs);

useTempDirs();

const BIN = path.resolve('bin/chatops.js');
const GAME = path.resolve('test/fixtures/playtest/detached-child.mjs');
/** Ceilings for waits on real processes on a loaded 2-core machine; every wait ends on its signal. */
const WAIT = { timeoutMs: 90_000 };

let llm: MockLlm;
let fake: FakeDiscord;
const children: ResultPromise[] = [];
const gates: string[] = [];

beforeAll(async () => {
  llm = await MockLlm.start();
  fake = await startFakeDiscord();
});
afterAll(async () => {
  for (const g of gates) fs.writeFileSync(g, '');
  for (const c of children) c.kill('SIGKILL');
  await Promise.allSettled(children);
  await fake?.close();
  await llm?.close();
});

function discordEnv(): Record<string, string> {
  return {
    DISCORD_TOKEN: fake.token,
    DISCORD_GUILD_ID: fake.guildId,
    DISCORD_NOTIFY_CHANNEL_ID: fake.channels.notify!,
    DISCORD_API_BASE: fake.apiBase,
    ALLOWED_ROLES: fake.roles.operator!,
  };
}

const commandPuts = () => fake.requests.filter((r) => r.method === 'PUT' && /\/commands$/.test(r.path)).length;
const botMessages = (channelId: string): StoredMessage[] => fake.messages(channelId).filter((m) => m.authorId === fake.botUser.id);

/** Starts `chatops start` and resolves once it logged in and registered its commands. */
async function startBot(env: Record<string, string>, cwd: string): Promise<{ child: ResultPromise }> {
  const readyBefore = fake.state.readyCount;
  const putsBefore = commandPuts();
  const child = execa(process.execPath, [BIN, 'start'], { cwd, env: { ...env, LOG_LEVEL: 'info' }, extendEnv: false, reject: false, forceKillAfterDelay: false });
  children.push(child);
  if (process.env.FAULT_LOG) child.stderr?.on('data', (c: Buffer) => fs.appendFileSync(process.env.FAULT_LOG!, c));
  let exited = false;
  void child.finally(() => (exited = true));
  await fake.waitFor(() => exited || (fake.state.readyCount > readyBefore && commandPuts() > putsBefore) || undefined, {
    ...WAIT,
    description: 'the bot logged in and registered its commands',
  });
  if (exited) throw new Error(`the bot exited at start-up:\n${(await child).stderr}`);
  // Wrapped: an async function would wait for a returned child (it is a promise) to exit.
  return { child };
}

async function cli(env: Record<string, string>, cwd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['node', 'chatops', ...args], {
    stdout: new Writable({ write: (c, _e, cb) => ((stdout += String(c)), cb()) }),
    stderr: new Writable({ write: (c, _e, cb) => ((stderr += String(c)), cb()) }),
    env,
    cwd,
  });
  return { code, stdout, stderr };
}

describe('kill -9 of the bot in the middle of a run, and a restart', { timeout: 300_000 }, () => {
  it('ends every process of the run, says "interrupted" in the thread and the team channel once, posts nothing twice, starts the queued run, and a reply continues it as a refinement', async () => {
    const work = makeTempDir('chatops-crash-');
    const gate = path.join(work, 'never');
    gates.push(gate);
    const toolPidFile = path.join(work, 'tool.pid');
    const gamePidFile = path.join(work, 'game.pids');
    llm.respond((req) => {
      const last = req.messages.at(-1);
      const text = messageText(last);
      if (last?.role === 'tool') return { text: 'tool done' };
      if (text.includes('carry on')) return { text: 'Continued after the crash.' };
      if (text.includes('card-2')) return { text: 'Queued run done.' };
      // card-1: a bash tool that is running when the bot is killed (it never ends by itself).
      return { toolCalls: [{ name: 'bash', arguments: { command: `echo $$ > '${toolPidFile}'; ${llm.signalCommand('tool-running')}; while [ ! -f '${gate}' ]; do sleep 0.05; done` } }] };
    });
    const { repo, env: base } = await makeBotEnv(llm, {
      env: { ...discordEnv(), MAX_CONCURRENT_RUNS: '1', PLAYTEST_COMMAND: `'${process.execPath}' '${GAME}' '${gamePidFile}'` },
    });
    const env = base;
    const store: Store = openStore(loadConfig(env, repo).dbFile);
    try {
      const { child: first } = await startBot(env, repo);
      // CLI commands that write work next to the running bot.
      for (const id of ['card-1', 'card-2']) expect((await cli(env, repo, ['cards', 'add', id, '--title', `Task ${id}`])).code).toBe(0);

      const cmd = fake.sendCommand({ name: 'run', user: 'alice', options: { card: 'card-1' } });
      await cmd.waitForOriginal((m) => m.content.includes('Started run'), WAIT);
      await llm.waitForSignal('tool-running');
      const run = store.runs.list(10).find((r) => r.cardId === 'card-1')!;
      const threadId = channelIdOf(store.chatThreads.threadOfRun(run.id)!.thread!);
      const queuedCmd = fake.sendCommand({ name: 'run', user: 'alice', options: { card: 'card-2' } });
      await queuedCmd.waitForOriginal((m) => /Queued run|Started run/.test(m.content), WAIT);
      const queued = store.runs.list(10).find((r) => r.cardId === 'card-2')!;
      expect(queued.status).toBe('queued');

      // 🎮 on the header: the playtest fixture writes its pid and its detached child's.
      fake.addReaction({ messageId: threadId, emoji: '🎮', user: 'alice' });
      const gamePids = await until(() => fs.existsSync(gamePidFile) && fs.readFileSync(gamePidFile, 'utf8').split(' ').map(Number), 'the playtest wrote its pids');
      const agent = store.processes.listForRun(run.id).find((r) => r.kind === 'agent')!;
      expect(agent).toBeDefined();
      expect(store.processes.listForRun(run.id).some((r) => r.kind === 'playtest')).toBe(true);
      const toolPid = Number(fs.readFileSync(toolPidFile, 'utf8'));
      const runPids = [...new Set([agent.pid, toolPid, ...gamePids, ...processesWorkingIn(run.worktreePath!)])];
      for (const p of [agent.pid, toolPid, ...gamePids]) expect(pidRunning(p)).toBe(true);
      await until(() => botMessages(threadId).some((m) => m.content.includes('playtest started')), 'the playtest line in the thread');

      first.kill('SIGKILL');
      await first;
      // What a crash leaves: the game's detached child and the tool outlive the bot.
      expect(pidRunning(gamePids[1]!)).toBe(true);
      expect(pidRunning(toolPid)).toBe(true);
      const sentBefore = store.outbox.countUnfinished();

      const restartedAt = Date.now();
      const { child: second } = await startBot(env, repo);
      await until(() => runPids.every((p) => !pidRunning(p)) || undefined, `every process of the run is gone: ${runPids.filter(pidRunning).join(' ')}`, 20_000);
      const reapMs = Date.now() - restartedAt;
      expect(processesWorkingIn(run.worktreePath!)).toEqual([]);
      expect(store.runs.get(run.id)!.status).toBe('interrupted');
      expect(store.processes.listForRun(run.id)).toEqual([]);

      const short = run.id.slice(0, 8);
      await fake.waitFor(() => botMessages(threadId).find((m) => m.content.includes(`**Run ${short} interrupted**`)), { ...WAIT, description: 'the interrupted result in the thread' });
      await fake.waitFor(() => botMessages(fake.channels.notify!).find((m) => m.content.includes(`run ${short} interrupted`)), { ...WAIT, description: 'the interrupted line in the team channel' });

      // The queued run starts after the restart.
      await until(() => store.runs.get(queued.id)!.status === 'succeeded', 'the queued run ran after the restart');

      // A reply in the thread continues the interrupted run as a refinement.
      fake.userMessage({ channelId: threadId, content: 'carry on', user: 'alice' });
      const refinement = await until(() => store.runs.list(10).find((r) => r.parentRunId === run.id && r.status === 'succeeded'), 'the refinement succeeded');
      expect(refinement.worktreePath).toBe(run.worktreePath);
      await fake.waitFor(() => botMessages(threadId).find((m) => m.content.includes(`**Run ${refinement.id.slice(0, 8)} succeeded**`)), { ...WAIT, description: 'the refinement result in the thread' });

      // Everything persisted reached the chat, each message once.
      await until(() => store.outbox.countUnfinished() === 0, 'the outbox is empty');
      const channels = [fake.channels.general!, threadId, fake.channels.notify!, ...fake.threads().map((t) => t.id)];
      const posted = [...new Set(channels)].flatMap((id) => botMessages(id)).filter((m) => m.source === 'rest');
      const nonces = posted.map((m) => m.nonce);
      expect(new Set(nonces).size).toBe(nonces.length);
      expect(botMessages(threadId).filter((m) => m.content.includes(`**Run ${short} interrupted**`))).toHaveLength(1);
      expect(botMessages(fake.channels.notify!).filter((m) => m.content.includes(`run ${short} interrupted`))).toHaveLength(1);
      expect(botMessages(threadId).filter((m) => m.content.includes('playtest started'))).toHaveLength(1);
      console.info(`crash-restart: ${runPids.length} processes of the run ended ${reapMs} ms after the restart began; ${sentBefore} outbox rows were unsent at the crash`);

      second.kill('SIGTERM');
      expect((await second).exitCode).toBe(0);
    } finally {
      store.close();
    }
  });
});

describe('a second bot on the same DATA_DIR', { timeout: 180_000 }, () => {
  it('exits at once naming the pid that holds it; after kill -9 of the holder a new bot takes over', async () => {
    const { repo, env } = await makeBotEnv(llm, { env: discordEnv() });
    const { child: holder } = await startBot(env, repo);
    const second = await execa(process.execPath, [BIN, 'start'], { cwd: repo, env, extendEnv: false, reject: false, timeout: 60_000 });
    expect(second.exitCode).not.toBe(0);
    expect(second.stderr).toContain(`is in use by pid ${holder.pid} since `);
    expect(second.stderr).toMatch(/Stop that bot first/);

    holder.kill('SIGKILL');
    await holder;
    const { child: next } = await startBot(env, repo);
    next.kill('SIGTERM');
    const result = await next;
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(/took over the DATA_DIR lock/);
  });
});
