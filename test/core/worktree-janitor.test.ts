/**
 * Worktrees and disk (issue 9): the prune rule on real git worktrees and a real SQLite file, the
 * `chatops worktrees` commands, the start-up/daily clean-up and the free-disk check.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import type { RunEngine } from '../../src/core/engine.js';
import type { HousekeepingReport } from '../../src/core/housekeeping.js';
import type { RunStatus } from '../../src/core/types.js';
import { makeHarness, useScriptedModel, type Harness } from '../support/engine-harness.js';
import { git, useTempDirs } from '../support/temp.js';

useTempDirs();

const model = useScriptedModel();

async function harness(env: Record<string, string> = {}): Promise<Harness> {
  const h = await makeHarness(model.llm, { env: { PLAYTEST_COMMAND: 'sleep 600', ...env } });
  model.track(h.engine);
  h.engine.cards.add({ id: 'card-1', title: 'Jump', body: '' });
  return h;
}

const DAY = 86_400_000;

/** A run row with a real worktree, settled `daysAgo` days ago (or still `running`). */
async function runWithWorktree(engine: RunEngine, opts: { status: RunStatus; daysAgo: number; dirty?: boolean }): Promise<{ id: string; path: string; branch: string }> {
  const id = randomUUID();
  const wt = await engine.worktrees.create(id, 'card-1');
  const at = new Date(Date.now() - opts.daysAgo * DAY).toISOString();
  const sessionFile = path.join(engine.config.sessionsDir, `${id}.jsonl`);
  fs.writeFileSync(sessionFile, '');
  engine.store.runs.insert({
    id, cardId: 'card-1', useWorktree: true, ownsWorktree: true, branch: wt.branch, worktreePath: wt.path, baseSha: wt.baseSha,
    sessionFile, prompt: 'p', tokenHash: id, startedBy: 'test', parentRunId: null, ownerPid: process.pid, now: at,
  });
  if (opts.status !== 'running') {
    engine.store.runs.finish(id, { status: opts.status, summary: null, commitSha: null, error: null, tokensInput: 0, tokensOutput: 0, tokensTotal: 0, costUsd: 0, now: at });
  }
  if (opts.dirty) fs.writeFileSync(path.join(wt.path, 'wip.txt'), 'half done\n');
  return { id, path: wt.path, branch: wt.branch };
}

async function cli(h: Harness, args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) => new Writable({ write: (chunk, _enc, cb) => (append(String(chunk)), cb()) });
  const exitCode = await runCli(['node', 'chatops', ...args], { stdout: sink((t) => (stdout += t)), stderr: sink((t) => (stderr += t)), env: h.env, cwd: h.repo });
  return { exitCode, stdout, stderr };
}

describe('worktree prune', () => {
  it('keeps dirty, running, playtested and recent worktrees and removes the rest; branches stay', async () => {
    const h = await harness();
    const { engine } = h;
    const old = await runWithWorktree(engine, { status: 'succeeded', daysAgo: 30 });
    const oldFailed = await runWithWorktree(engine, { status: 'failed', daysAgo: 20 });
    const dirty = await runWithWorktree(engine, { status: 'succeeded', daysAgo: 30, dirty: true });
    const running = await runWithWorktree(engine, { status: 'running', daysAgo: 30 });
    const recent = await runWithWorktree(engine, { status: 'succeeded', daysAgo: 2 });
    const playtested = await runWithWorktree(engine, { status: 'stopped', daysAgo: 30 });
    await engine.manager.startPlaytest(playtested.id, 'test');
    // A worktree folder whose runs were deleted: its age is the folder's.
    const orphan = await engine.worktrees.create(randomUUID(), 'card-1');
    const monthAgo = new Date(Date.now() - 30 * DAY);
    fs.utimesSync(orphan.path, monthAgo, monthAgo);

    const listed = await engine.janitor.list();
    expect(listed.find((w) => w.path === orphan.path)).toMatchObject({ runs: [], branch: orphan.branch });

    const dry = await engine.janitor.prune({ olderThanMs: 14 * DAY, dryRun: true });
    expect(dry.removed.map((w) => w.path).sort()).toEqual([old.path, oldFailed.path, orphan.path].sort());
    expect(fs.existsSync(old.path)).toBe(true);

    const report = await engine.janitor.prune({ olderThanMs: 14 * DAY });
    expect(report.removed.map((w) => w.path).sort()).toEqual([old.path, oldFailed.path, orphan.path].sort());
    expect(fs.existsSync(orphan.path)).toBe(false);
    expect(report.failed).toEqual([]);
    const kept = Object.fromEntries(report.kept.map((k) => [k.worktree.path, k.reason]));
    expect(kept[dirty.path]).toMatch(/uncommitted changes/);
    expect(kept[running.path]).toMatch(/is running/);
    expect(kept[recent.path]).toBe('used recently');
    expect(kept[playtested.path]).toMatch(/active run or playtest/);
    for (const w of [old, oldFailed]) {
      expect(fs.existsSync(w.path)).toBe(false);
      expect(engine.store.runs.get(w.id)!.worktreePath).toBeNull();
    }
    for (const w of [dirty, running, recent, playtested]) expect(fs.existsSync(w.path)).toBe(true);
    expect(await git(h.repo, ['branch', '--list', old.branch, '--format=%(refname:short)'])).toBe(old.branch);

    await engine.manager.stopPlaytest(playtested.id, 'test');
    const forced = await engine.janitor.prune({ olderThanMs: 14 * DAY, force: true });
    expect(forced.removed.map((w) => w.path).sort()).toEqual([dirty.path, playtested.path].sort());
    expect(fs.existsSync(running.path)).toBe(true);
  });

  it('a worktree being removed takes no refinement meanwhile', async () => {
    const { engine } = await harness();
    const old = await runWithWorktree(engine, { status: 'succeeded', daysAgo: 30 });
    const release = engine.manager.holdForRemoval(old.path)!;
    expect(release).toBeTypeOf('function');
    await expect(engine.manager.refine({ runId: old.id, startedBy: 'test' })).rejects.toThrow(
      'the worktree clean-up is already working in this worktree; wait for it to settle or stop it first',
    );
    expect(engine.manager.holdForRemoval(old.path)).toBeNull();
    expect(engine.manager.worktreeInUse(old.path, [old.id])).toBe(false);
    release();
    expect(engine.manager.holdForRemoval(old.path)).toBeTypeOf('function');
  });

  it('the bot prunes by WORKTREE_RETENTION at start-up and reports what it did', async () => {
    const first = await harness({ WORKTREE_RETENTION: '7d' });
    const old = await runWithWorktree(first.engine, { status: 'succeeded', daysAgo: 8 });
    const recent = await runWithWorktree(first.engine, { status: 'succeeded', daysAgo: 6 });
    await first.engine.close();

    let reported!: (r: HousekeepingReport) => void;
    const report = new Promise<HousekeepingReport>((resolve) => (reported = resolve));
    const restarted = await makeHarness(model.llm, {
      repo: first.repo,
      dataDir: first.dataDir,
      env: { WORKTREE_RETENTION: '7d' },
      engine: { housekeeping: { onReport: (r) => reported(r) } },
    });
    model.track(restarted.engine);
    const r = await report;
    expect(r.worktrees!.removed.map((w) => w.path)).toEqual([old.path]);
    expect(r.worktrees!.failed).toEqual([]);
    expect(r.worktreeError).toBeNull();
    expect(r.dataError).toBeNull();
    expect(fs.existsSync(old.path)).toBe(false);
    expect(fs.existsSync(recent.path)).toBe(true);
    expect(restarted.engine.housekeeping.last).toBe(r);
  });
});

describe('chatops worktrees', () => {
  it('lists runs, status, branch, size with target/ apart, age and changes; prune --dry-run says what would go', async () => {
    const h = await harness();
    const old = await runWithWorktree(h.engine, { status: 'succeeded', daysAgo: 30 });
    fs.mkdirSync(path.join(old.path, 'target'));
    fs.writeFileSync(path.join(old.path, 'target', '.gitignore'), '*\n'); // as cargo writes it: build output is not a change
    fs.writeFileSync(path.join(old.path, 'target', 'game.bin'), Buffer.alloc(200 * 1024));
    const dirty = await runWithWorktree(h.engine, { status: 'failed', daysAgo: 1, dirty: true });
    await h.engine.close();

    const list = await cli(h, ['worktrees']);
    expect(list.exitCode).toBe(0);
    expect(list.stdout).toContain(old.branch);
    expect(list.stdout).toContain(`${old.id.slice(0, 8)} succeeded`);
    expect(list.stdout).toMatch(/target\/ 2\d\d(\.\d+)? KB/);
    expect(list.stdout).toMatch(/last used 30d ago/);
    expect(list.stdout).toContain(`${dirty.id.slice(0, 8)} failed`);
    expect(list.stdout).toMatch(/\d uncommitted/);
    expect(list.stdout).toContain('2 worktrees');

    const dry = await cli(h, ['worktrees', 'prune', '--older-than', '7d', '--dry-run']);
    expect(dry.stdout).toContain(`would remove ${old.path} (branch ${old.branch} kept)`);
    expect(dry.stdout).toContain(`kept ${dirty.path}: used recently`);
    expect(fs.existsSync(old.path)).toBe(true);

    const bad = await cli(h, ['worktrees', 'prune', '--older-than', 'soon']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--older-than must be a duration with a unit such as 90s, 30m, 2h or 14d/);

    const pruned = await cli(h, ['worktrees', 'prune', '--older-than', '7d']);
    expect(pruned.exitCode).toBe(0);
    expect(pruned.stdout).toContain(`removed ${old.path}`);
    expect(fs.existsSync(old.path)).toBe(false);
  });
});

describe('free disk space', () => {
  it('refuses a run below MIN_FREE_DISK with a clear error, before anything is created', async () => {
    const h = await harness({ MIN_FREE_DISK: '1000PB' });
    const err = await h.engine.manager.start({ cardId: 'card-1', startedBy: 'test' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DISK_LOW' });
    expect((err as Error).message).toMatch(/Not enough free disk space to start a run: .* free where worktrees live .*MIN_FREE_DISK is 1000PB.*chatops worktrees prune/);
    expect(h.engine.manager.list()).toEqual([]);
    expect(await git(h.repo, ['branch', '--list', 'chatops/*'])).toBe('');
  });
});
