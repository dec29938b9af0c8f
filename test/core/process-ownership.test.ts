/**
 * Who owns what, across processes sharing one database: run owners and recorded processes count
 * as alive only with their pid AND start time; the DATA_DIR lock; start-up reaping of a dead
 * bot's processes; `runs remove` next to a live bot. Real processes (node children) and real
 * SQLite files; no bot is started.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { execa, type ResultPromise } from 'execa';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config.js';
import { acquireDataLock } from '../../src/core/data-lock.js';
import { allProcesses, isSameProcess, ownStartTime, pidRunning, startTimeOf } from '../../src/core/process-identity.js';
import { reapLeftovers } from '../../src/core/run-recovery.js';
import { WorkDirs } from '../../src/core/work-dirs.js';
import { silentLogger } from '../../src/logger.js';
import { openStore, type Store } from '../../src/store/index.js';
import { makeBotEnv } from '../support/engine-harness.js';
import { MockLlm } from '../support/mock-llm.js';
import { makeTempDir, useTempDirs } from '../support/temp.js';

useTempDirs();

const NOW = '2026-11-30T08:00:00.000Z';
const children: ResultPromise[] = [];
const stores: Store[] = [];
let llm: MockLlm | null = null;

const orphans: number[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const pid of orphans.splice(0)) if (pidRunning(pid)) process.kill(pid, 'SIGKILL');
  for (const s of stores.splice(0)) if (s.db.open) s.close();
});
afterAll(async () => {
  await llm?.close();
});

/** A live node process that stands in for another bot (or one of its agents); `detached`: a group of its own. */
async function liveProcess(options: { detached?: boolean } = {}): Promise<{ pid: number; start: string }> {
  const child = execa(process.execPath, ['-e', 'console.log(0); setInterval(() => {}, 1e6)'], { detached: options.detached ?? false, reject: false, stdin: 'ignore', buffer: false });
  children.push(child);
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  return { pid: child.pid!, start: startTimeOf(child.pid!)! };
}

/**
 * What a crashed bot leaves: a process (in a group of its own, with a child) re-parented away
 * from us, as a playtest is after `kill -9` of its bot. A launcher starts it and exits.
 */
async function orphanProcess(): Promise<{ pid: number; start: string; childPid: number }> {
  const inner = "require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)'], { stdio: 'ignore' }); setInterval(() => {}, 1e6)";
  const launcher = `const c = require('node:child_process').spawn(process.execPath, ['-e', ${JSON.stringify(inner)}], { detached: true, stdio: 'ignore' }); c.unref(); console.log(c.pid)`;
  const { stdout } = await execa(process.execPath, ['-e', launcher]);
  const pid = Number(stdout.trim());
  let childPid = 0;
  await until(() => (childPid = allProcesses().find((p) => p.ppid === pid)?.pid ?? 0) > 0);
  orphans.push(pid, childPid);
  return { pid, start: startTimeOf(pid)!, childPid };
}

function tempStore(): Store {
  const store = openStore(path.join(makeTempDir('chatops-owners-'), 'bot.sqlite'));
  stores.push(store);
  store.cards.insert({ id: 'card-1', title: 't', body: '' }, NOW);
  return store;
}

function insertRun(store: Store, id: string, owner: { pid: number; start: string | null }, status: 'queued' | 'running' = 'running', worktreePath = `/tmp/wt-${id}`): void {
  store.runs.insert({
    id,
    cardId: 'card-1',
    useWorktree: true,
    ownsWorktree: true,
    branch: `chatops/card-1-${id}`,
    worktreePath,
    baseSha: null,
    sessionFile: null,
    prompt: 'p',
    tokenHash: `hash-${id}`,
    startedBy: 'cli',
    parentRunId: null,
    ownerPid: owner.pid,
    ownerStart: owner.start,
    status,
    now: NOW,
  });
}

describe('process identity', () => {
  it('a run whose owner pid runs with another start time (a reused pid) counts as dead: recovery interrupts it and its worktree is free; the live owner keeps its run and its worktree', async () => {
    const other = await liveProcess();
    const store = tempStore();
    insertRun(store, 'live', { pid: other.pid, start: other.start });
    insertRun(store, 'reused', { pid: other.pid, start: `${other.start}0` });
    insertRun(store, 'legacy', { pid: other.pid, start: null });
    expect(isSameProcess(other.pid, other.start)).toBe(true);
    expect(isSameProcess(other.pid, `${other.start}0`)).toBe(false);
    expect(isSameProcess(process.pid, ownStartTime())).toBe(true);

    const dirs = new WorkDirs(store.runs, '/repo');
    expect(dirs.holder('/tmp/wt-live')).toBe('live');
    expect(dirs.holder('/tmp/wt-reused')).toBeNull();

    const interrupted = store.runs.interruptOrphans(NOW, 'the bot stopped', isSameProcess);
    expect(interrupted.sort()).toEqual(['legacy', 'reused']);
    expect(store.runs.get('live')!.status).toBe('running');
  });

  it('start-up ends the recorded process tree and group of a dead owner, and never a live process that only shares a recorded pid', async () => {
    const store = tempStore();
    const dead = await liveProcess();
    children.pop()!.kill('SIGKILL');
    await until(() => !pidRunning(dead.pid));
    const orphan = await orphanProcess();
    const bystander = await liveProcess({ detached: true });
    const record = (pid: number, start: string) =>
      store.processes.insert({ runId: 'gone', kind: 'playtest', pid, pgid: pid, startTime: start, cwd: '/repo', ownerPid: dead.pid, ownerStart: dead.start, createdAt: NOW });
    record(orphan.pid, orphan.start);
    record(bystander.pid, `${bystander.start}0`); // the pid was reused by an unrelated process

    const ended = await reapLeftovers({ store, repoRoot: '/repo', logger: silentLogger() });
    expect(ended.sort()).toEqual([orphan.pid, orphan.childPid].sort());
    await until(() => !pidRunning(orphan.pid) && !pidRunning(orphan.childPid));
    expect(pidRunning(bystander.pid)).toBe(true);
    expect(store.processes.list()).toEqual([]);
  });
});

describe('the DATA_DIR lock', () => {
  it('refuses a second holder while the first runs, naming its pid and since, and is taken over once the holder is gone or its pid runs with another start time', async () => {
    const store = tempStore();
    const other = await liveProcess();
    const holder = { pid: other.pid, startTime: other.start, host: 'vm', since: NOW };
    expect(store.dataLock.acquire(holder, () => true)).toMatchObject({ acquired: true });
    expect(() => acquireDataLock(store.dataLock, '/data')).toThrow(`DATA_DIR /data is in use by pid ${other.pid} since ${NOW}`);

    // The same pid with another start time is not the holder.
    store.dataLock.release(holder);
    store.dataLock.acquire({ ...holder, startTime: `${other.start}0` }, () => true);
    const taken = acquireDataLock(store.dataLock, '/data');
    expect(taken.tookOverFrom).toMatchObject({ pid: other.pid });
    expect(store.dataLock.holder()).toMatchObject({ pid: process.pid, startTime: ownStartTime() });
    // Taking it again in the same process keeps it; release gives it up.
    expect(acquireDataLock(store.dataLock, '/data').tookOverFrom).toBeNull();
    taken.release();
    expect(store.dataLock.holder()).toBeNull();

    // A holder whose pid is gone.
    children.pop()!.kill('SIGKILL');
    await until(() => !pidRunning(other.pid));
    store.dataLock.acquire(holder, () => true);
    expect(acquireDataLock(store.dataLock, '/data').tookOverFrom).toMatchObject({ pid: other.pid });
  });
});

describe('chatops runs remove next to a live bot', () => {
  it('refuses a run running or queued in another live process, and a run whose playtest runs there; removes it once that process is gone', async () => {
    llm ??= await MockLlm.start();
    const { repo, env } = await makeBotEnv(llm);
    const store = openStore(loadConfig(env, repo).dbFile);
    stores.push(store);
    store.cards.insert({ id: 'card-1', title: 't', body: '' }, NOW);
    const bot = await liveProcess();
    const game = await liveProcess();
    const wt = makeTempDir('chatops-wt-');
    insertRun(store, 'running-elsewhere', { pid: bot.pid, start: bot.start }, 'running', wt);
    insertRun(store, 'queued-elsewhere', { pid: bot.pid, start: bot.start }, 'queued', wt);
    insertRun(store, 'playing-elsewhere', { pid: bot.pid, start: bot.start }, 'running', wt);
    store.runs.finish('playing-elsewhere', { status: 'succeeded', summary: null, commitSha: null, error: null, tokensInput: 0, tokensOutput: 0, tokensTotal: 0, costUsd: 0, now: NOW });
    store.processes.insert({ runId: 'playing-elsewhere', kind: 'playtest', pid: game.pid, pgid: game.pid, startTime: game.start, cwd: wt, ownerPid: bot.pid, ownerStart: bot.start, createdAt: NOW });

    for (const [id, said] of [
      ['running-elsewhere', `is running by the bot process ${bot.pid}; stop it first`],
      ['queued-elsewhere', `is queued by the bot process ${bot.pid}; stop it first`],
      ['playing-elsewhere', `has a playtest running in the bot process ${bot.pid}; stop it first`],
    ] as const) {
      const out = await cli(env, repo, ['runs', 'remove', id]);
      expect(out.code).toBe(2);
      expect(out.stderr).toContain(said);
      expect(store.runs.get(id)).toBeDefined();
    }
    expect(fs.existsSync(wt)).toBe(true);

    // The bot is gone: its running run is recovered as interrupted by the CLI's own start-up, then removed.
    children.splice(0, 2).forEach((c) => c.kill('SIGKILL'));
    await until(() => !pidRunning(bot.pid) && !pidRunning(game.pid));
    expect((await cli(env, repo, ['runs', 'remove', 'playing-elsewhere'])).code).toBe(0);
    expect(store.runs.get('running-elsewhere')!.status).toBe('interrupted');
    expect((await cli(env, repo, ['runs', 'remove', 'running-elsewhere'])).code).toBe(0);
    expect(store.runs.get('running-elsewhere')).toBeUndefined();
  });
});

async function cli(env: Record<string, string>, cwd: string, args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const code = await runCli(['node', 'chatops', ...args], {
    stdout: new Writable({ write: (_c, _e, cb) => cb() }),
    stderr: new Writable({ write: (c, _e, cb) => ((stderr += String(c)), cb()) }),
    env,
    cwd,
  });
  return { code, stderr };
}

/** Waits for a process to be gone (no event to await for a process that is not our child's exit), with a deadline. */
async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
