import fs from 'node:fs';
import { Writable } from 'node:stream';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { isAlive } from '../../src/core/process-tree.js';
import { makeBotEnv } from '../support/engine-harness.js';
import { MockLlm } from '../support/mock-llm.js';
import { gate, useGates } from '../support/gate.js';
import { git, makeTempDir, useTempDirs } from '../support/temp.js';

useTempDirs();
useGates();

const BIN = path.resolve('bin/chatops.js');
let llm: MockLlm;
let bot: { repo: string; dataDir: string; env: Record<string, string> };

beforeAll(async () => {
  llm = await MockLlm.start();
});
afterAll(async () => {
  await llm.close();
});
beforeEach(async () => {
  llm.reset();
  bot = await makeBotEnv(llm);
});

function chatops(args: string[], extraEnv: Record<string, string> = {}): ResultPromise<{ reject: false; all: true }> {
  return execa(process.execPath, [BIN, ...args], { cwd: bot.repo, env: { ...bot.env, ...extraEnv }, extendEnv: false, reject: false, all: true });
}

/** The same CLI in this process (no process start-up per call), for commands that need no signals. */
async function chatopsHere(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) => new Writable({ write: (chunk, _enc, cb) => (append(String(chunk)), cb()) });
  const exitCode = await runCli(['node', 'chatops', ...args], {
    stdout: sink((t) => (stdout += t)),
    stderr: sink((t) => (stderr += t)),
    env: bot.env,
    cwd: bot.repo,
  });
  return { exitCode, stdout: stdout.trimEnd(), stderr: stderr.trimEnd() };
}

/** Resolves with everything printed so far once `pattern` appears on stdout. */
function waitForOutput(child: ResultPromise, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (pattern.test(out)) resolve(out);
    });
    child.once('exit', () => reject(new Error(`exited before printing ${pattern}:\n${out}`)));
  });
}

describe('chatops cards', () => {
  it('adds, lists (also as JSON), shows and imports cards; bad input gets a clear error and exit 2', async () => {
    expect((await chatopsHere(['cards', 'add', 'card-1', '--title', 'Jump', '--body', 'Make it jump'])).stdout).toBe('added card-1           Jump');
    const dup = await chatopsHere(['cards', 'add', 'card-1', '--title', 'Again']);
    expect(dup.exitCode).toBe(2);
    expect(dup.stderr).toMatch(/card-1 already exists/);
    const bad = await chatopsHere(['cards', 'add', 'card 1', '--title', 'x']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/not a valid card id/);

    const dir = makeTempDir();
    fs.writeFileSync(path.join(dir, 'backlog.md'), '## card-2: Run\nRun faster.\n\n## card-3: Swim\n');
    expect((await chatopsHere(['cards', 'import', path.join(dir, 'backlog.md')])).stdout).toBe('imported 2 cards (2 new, 0 updated)');
    fs.writeFileSync(path.join(dir, 'cards.json'), JSON.stringify([{ id: 'card-3', title: 'Swim well' }]));
    expect((await chatopsHere(['cards', 'import', path.join(dir, 'cards.json')])).stdout).toBe('imported 1 cards (0 new, 1 updated)');
    const missing = await chatopsHere(['cards', 'import', path.join(dir, 'nope.json')]);
    expect(missing.stderr).toMatch(/cannot read .*nope\.json/);

    const json = JSON.parse((await chatopsHere(['cards', 'list', '--json'])).stdout) as { id: string; title: string }[];
    expect(json.map((c) => [c.id, c.title])).toEqual([
      ['card-1', 'Jump'],
      ['card-2', 'Run'],
      ['card-3', 'Swim well'],
    ]);
    expect((await chatopsHere(['cards', 'show', 'card-2'])).stdout).toContain('card-2: Run\nstatus: todo\n\nRun faster.');
    expect((await chatopsHere(['cards', 'show', 'card-9'])).stderr).toMatch(/unknown card "card-9"/);
  });
});

describe('chatops run', () => {
  it('prints the run id first, then events; exits 0 with a commit on the run branch; runs lists it', async () => {
    await chatops(['cards', 'add', 'card-1', '--title', 'Jump']);
    const result = await chatops(['run', 'card-1']);
    expect(result.exitCode).toBe(0);
    const lines = result.stdout.split('\n');
    const runId = /^run ([0-9a-f-]{36})$/.exec(lines[0]!)![1]!;
    expect(result.stdout).toMatch(/started on chatops\/card-1-/);
    expect(result.stdout).toMatch(/▶ bash: /);
    expect(result.stdout).toMatch(/settled: SUCCEEDED · branch chatops\/card-1-\w+ · commit [0-9a-f]{10}/);

    const runs = JSON.parse((await chatops(['runs', '--json'])).stdout) as { id: string; status: string; branch: string; commitSha: string }[];
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ id: runId, status: 'succeeded' });
    expect(await git(bot.repo, ['rev-parse', runs[0]!.branch])).toBe(runs[0]!.commitSha);
    expect(await git(bot.repo, ['status', '--porcelain'])).toBe('');

    const shown = await chatops(['runs', 'show', runId.slice(0, 8)]);
    expect(shown.stdout).toContain(`commit: ${runs[0]!.commitSha}`);
    expect(shown.stdout).toMatch(/settled: SUCCEEDED/);
  });

  it('exits non-zero when the run fails, and says why', async () => {
    await chatops(['cards', 'add', 'card-1', '--title', 'Jump']);
    llm.respond(() => ({ status: 400, message: 'bad request from the mock' }));
    const result = await chatops(['run', 'card-1', '--no-worktree']);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/settled: FAILED/);
    expect(result.stdout).toContain('bad request from the mock');
  });

  it('Ctrl-C stops the run through the stop sequence: status stopped, no tool process left', async () => {
    await chatops(['cards', 'add', 'card-1', '--title', 'Jump']);
    const pidFile = path.join(makeTempDir(), 'sleep.pid');
    llm.respond((req) =>
      req.messages.at(-1)?.role === 'tool'
        ? { text: 'done' }
        : { toolCalls: [{ name: 'bash', arguments: { command: `sleep 60 & echo $! > ${pidFile}; ${llm.signalCommand('tool')}; wait` } }] },
    );
    const child = chatops(['run', 'card-1']);
    const printed = waitForOutput(child, /^run [0-9a-f-]{36}$/m);
    await llm.waitForSignal('tool');
    await printed;
    const sleepPid = Number(fs.readFileSync(pidFile, 'utf8'));
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/stopping run/);
    expect(result.stdout).toMatch(/settled: STOPPED/);
    expect(isAlive(sleepPid)).toBe(false);
  });

  it('a run whose bot process was killed becomes interrupted on the next start, and can be refined', async () => {
    await chatops(['cards', 'add', 'card-1', '--title', 'Jump']);
    // The tool runs until the gate opens (after the test): the kill lands while it runs, whatever the load.
    const tool = gate();
    llm.respond((req) =>
      req.index === 0 ? { toolCalls: [{ name: 'bash', arguments: { command: tool.command(llm, 'tool') } }] } : { text: `answered ${req.messages.at(-1)?.role}` },
    );
    const child = chatops(['run', 'card-1']);
    const printed = waitForOutput(child, /^run [0-9a-f-]{36}$/m);
    await llm.waitForSignal('tool');
    const runId = /^run ([0-9a-f-]{36})$/m.exec(await printed)![1]!;
    child.kill('SIGKILL');
    // The killed bot's tool outlives it (issue 10 §1) and holds its output open: let it end.
    tool.open();
    await child;

    const shown = await chatops(['runs', 'show', runId]);
    expect(shown.stdout).toMatch(/interrupted/);
    const refined = await chatops(['refine', runId, '--prompt', 'please finish']);
    expect(refined.exitCode).toBe(0);
    expect(refined.stdout).toMatch(new RegExp(`refining run ${runId.slice(0, 8)}`));
  });

  it('refuses to refine a run that does not exist, with advice', async () => {
    const result = await chatopsHere(['refine', 'deadbeef']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/no run "deadbeef"/);
  });
});
