import { execa } from 'execa';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBotEnv } from '../support/engine-harness.js';
import { MockLlm } from '../support/mock-llm.js';
import { git, useTempDirs } from '../support/temp.js';

useTempDirs();

const BIN = path.resolve('bin/chatops.js');
let llm: MockLlm;
beforeAll(async () => {
  llm = await MockLlm.start();
});
afterAll(async () => {
  await llm.close();
});

describe('npm start without platform tokens', () => {
  it('runs the console mode: a card is added, run to a commit, and the bot quits cleanly', async () => {
    const bot = await makeBotEnv(llm);
    const child = execa(process.execPath, [BIN, 'start'], { cwd: bot.repo, env: bot.env, extendEnv: false, reject: false, stdin: 'pipe' });
    let out = '';
    const seen = (re: RegExp) =>
      new Promise<void>((resolve, reject) => {
        if (re.test(out)) return resolve();
        child.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          if (re.test(out)) resolve();
        });
        child.once('exit', () => (re.test(out) ? resolve() : reject(new Error(`exited before ${re}:\n${out}`))));
      });
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    await seen(/chatops console/);
    child.stdin!.write('/card add card-1 Add a jump button\n');
    await seen(/Added card-1/);
    child.stdin!.write('/run card-1\n');
    await seen(/Run \w{8} succeeded/);
    child.stdin!.write(':quit\n');
    const result = await child;
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(/starting the console mode/);
    const branches = await git(bot.repo, ['branch', '--list', 'chatops/*', '--format=%(refname:short)']);
    expect(branches).toMatch(/^chatops\/card-1-\w{8}$/);
    expect(await git(bot.repo, ['log', '-1', '--format=%s', branches])).toMatch(/^mock: add/);
  });

  it('SIGTERM ends the console mode cleanly even while it waits for input', async () => {
    const bot = await makeBotEnv(llm);
    const child = execa(process.execPath, [BIN, 'start'], { cwd: bot.repo, env: bot.env, extendEnv: false, reject: false, stdin: 'pipe' });
    await new Promise<void>((resolve) => {
      let out = '';
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('chatops console')) resolve();
      });
    });
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode).toBe(0);
  });
});
