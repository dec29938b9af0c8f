/**
 * Catch-up across a real restart of the bot process (`chatops start` twice on one DATA_DIR,
 * against the fake Discord): what people said in run threads while no bot was running is read
 * back at the second start. With MAX_CONCURRENT_RUNS=1 the second run waits queued; the first is
 * interrupted by the shutdown; the queued one resumes at the next start, and a steer written to
 * it meanwhile reaches its agent, while a reply to the interrupted one is asked about (🔁).
 */
import fs from 'node:fs';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBotEnv } from '../support/engine-harness.js';
import { startFakeDiscord, type FakeDiscord } from '../support/fake-discord/index.js';
import { MockLlm, transcript } from '../support/mock-llm.js';
import { makeTempDir, useTempDirs } from '../support/temp.js';

useTempDirs();

const BIN = path.resolve('bin/chatops.js');
const LONG = { timeoutMs: 90_000 };
let llm: MockLlm;
let fake: FakeDiscord;
const children: ResultPromise[] = [];

beforeAll(async () => {
  llm = await MockLlm.start();
  fake = await startFakeDiscord();
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await fake.close();
  await llm.close();
});

describe('catch-up after a restart of the bot process', () => {
  it('a steer written to a queued run while the bot was down reaches its agent once it resumes; a reply to the run the shutdown interrupted is asked about, not refined', async () => {
    const gate = path.join(makeTempDir(), 'go');
    llm.respond((req) => {
      if (req.messages.some((m) => m.role === 'tool')) return { text: 'finished' };
      const task = /task (alpha|beta)/.exec(transcript(req).join('\n'))?.[1];
      if (!task) return { text: 'done' };
      return { toolCalls: [{ name: 'bash', arguments: { command: `${llm.signalCommand(task)}; while [ ! -f '${gate}' ]; do sleep 0.05; done; echo released` } }] };
    });
    const bot = await makeBotEnv(llm, {
      env: { DISCORD_TOKEN: fake.token, DISCORD_GUILD_ID: fake.guildId, DISCORD_API_BASE: fake.apiBase, ALLOWED_ROLES: fake.roles.operator!, MAX_CONCURRENT_RUNS: '1' },
    });
    // (Wrapped: an async function would await the process itself, a thenable.)
    const start = async (): Promise<{ child: ResultPromise }> => {
      const ready = fake.state.readyCount;
      const child = execa(process.execPath, [BIN, 'start'], { cwd: bot.repo, env: bot.env, extendEnv: false, reject: false });
      children.push(child);
      await fake.waitFor(() => fake.state.readyCount > ready || undefined, { ...LONG, description: 'the bot logged in' });
      return { child };
    };
    const threadOf = async (options: Record<string, string>): Promise<string> => {
      const cmd = fake.sendCommand({ name: 'run', user: 'alice', options });
      const answer = await cmd.waitForOriginal((m) => /channels\/\d+\/\d+/.test(m.content), LONG);
      return /channels\/\d+\/(\d+)/.exec(answer.content)![1]!;
    };

    let { child } = await start();
    const addCard = fake.sendCommand({ name: 'card', user: 'alice', options: { sub: 'add', id: 'card-1', title: 'Add a jump button' } });
    await addCard.waitForOriginal((m) => /card-1/.test(m.content), LONG);
    const alpha = await threadOf({ card: 'card-1', prompt: 'task alpha' });
    await llm.waitForSignal('alpha');
    const beta = await threadOf({ card: 'card-1', prompt: 'task beta' });
    child.kill('SIGTERM');
    expect((await child).exitCode).toBe(0);

    // Nobody is listening now.
    const steer = fake.userMessage({ channelId: beta, content: 'use the blue button', user: 'alice' });
    fake.userMessage({ channelId: alpha, content: 'carry on please', user: 'alice' });

    ({ child } = await start());
    await llm.waitForSignal('beta');
    await fake.waitFor(() => fake.reactions(beta, steer.id).some((r) => r.emoji.name === '👀') || undefined, { ...LONG, description: '👀 on the missed steer' });
    const question = await fake.waitFor(() => fake.messages(alpha).find((m) => m.content.includes('While the bot was down')), { ...LONG, description: 'the question' });
    expect(question.content).toContain('“carry on please”');
    fs.writeFileSync(gate, '');
    await fake.waitFor(() => llm.requests.some((r) => transcript(r).join('\n').includes('use the blue button')) || undefined, { ...LONG, description: 'the steer in a model request' });
    await fake.waitFor(() => fake.messages(beta).find((m) => /succeeded/.test(m.content)), { ...LONG, description: 'the resumed run finished' });
    expect(fake.messages(alpha).filter((m) => /Refinement/.test(m.content))).toEqual([]);
    child.kill('SIGTERM');
    expect((await child).exitCode).toBe(0);
  });
});
