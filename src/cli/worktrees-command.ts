/**
 * `chatops worktrees` (every worktree the bot made: runs, status, branch, size with `target/`
 * apart, age, uncommitted changes) and `chatops worktrees prune` (the rule of
 * src/core/worktree-janitor.ts; branches are kept).
 */
import path from 'node:path';
import bytes from 'bytes';
import type { Command } from 'commander';
import ms from 'ms';
import { parseDuration } from '../config-limits.js';
import type { RunEngine } from '../core/engine.js';
import { UserError } from '../core/errors.js';
import type { WorktreeInfo, WorktreeSizes } from '../core/worktree-janitor.js';

export interface WorktreeCommandsContext {
  withEngine: <T>(fn: (engine: RunEngine) => Promise<T>) => Promise<T>;
  print: (text: string) => void;
  setExitCode: (code: number) => void;
}

function size(n: number | null): string {
  return n === null ? '?' : (bytes.format(n, { unitSeparator: ' ' }) ?? '?');
}

function changes(wt: WorktreeInfo): string {
  if (!wt.dirty) return 'clean';
  const n = wt.dirty.split('\n').length;
  return `${n}${wt.dirty.includes('… and') ? '+' : ''} uncommitted`;
}

function worktreeBlock(wt: WorktreeInfo, sizes: WorktreeSizes, now: number): string {
  const runs = wt.runs.length ? wt.runs.map((r) => `${r.id.slice(0, 8)} ${r.status}`).join(', ') : 'no runs on record';
  const age = ms(Math.max(0, now - wt.lastUsedAt.getTime()));
  const lines = [
    `${path.basename(wt.path)}  ${wt.branch ?? '(no branch)'}`,
    `  runs: ${runs}`,
    `  size: ${size(sizes.total)} (target/ ${size(sizes.target)}) · last used ${age} ago · ${changes(wt)}${wt.busy ? ` · busy: ${wt.busy}` : ''}`,
    `  path: ${wt.path}`,
  ];
  return lines.join('\n');
}

export function registerWorktreeCommands(program: Command, ctx: WorktreeCommandsContext): void {
  const worktrees = program
    .command('worktrees')
    .description('list the worktrees the bot made: runs, branch, size (target/ apart), age, uncommitted changes')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) =>
      ctx.withEngine(async (e) => {
        const list = await e.janitor.list();
        const withSizes = await Promise.all(list.map(async (wt) => ({ ...wt, sizes: await e.janitor.sizes(wt) })));
        if (opts.json) return ctx.print(JSON.stringify(withSizes, null, 2));
        if (withSizes.length === 0) return ctx.print('no worktrees: every run worktree has been removed');
        const now = Date.now();
        ctx.print(withSizes.map((wt) => worktreeBlock(wt, wt.sizes, now)).join('\n\n'));
        const total = withSizes.reduce((sum, wt) => sum + (wt.sizes.total ?? 0), 0);
        ctx.print(`\n${withSizes.length} worktree${withSizes.length === 1 ? '' : 's'}, ${size(total)} on disk`);
      }),
    );
  worktrees
    .command('prune')
    .description('remove worktrees whose runs all settled longer ago than --older-than; never a busy or (without --force) dirty one; branches are kept')
    .option('--older-than <duration>', 'age such as 7d or 12h (default: WORKTREE_RETENTION)')
    .option('--dry-run', 'only say what would be removed')
    .option('--force', 'remove worktrees with uncommitted changes too')
    .action((opts: { olderThan?: string; dryRun?: boolean; force?: boolean }) =>
      ctx.withEngine(async (e) => {
        let olderThan = e.config.limits.worktreeRetention;
        if (opts.olderThan !== undefined) {
          try {
            olderThan = parseDuration('--older-than', opts.olderThan);
          } catch (err) {
            throw new UserError('BAD_COMMAND', (err as Error).message);
          }
        }
        const report = await e.janitor.prune({ olderThanMs: olderThan.ms, dryRun: opts.dryRun, force: opts.force });
        const verb = opts.dryRun ? 'would remove' : 'removed';
        for (const wt of report.removed) ctx.print(`${verb} ${wt.path}${wt.branch ? ` (branch ${wt.branch} kept)` : ''}`);
        for (const k of report.kept) ctx.print(`kept ${k.worktree.path}: ${k.reason}`);
        for (const f of report.failed) ctx.print(`could not remove ${f.worktree.path}: ${f.error}`);
        ctx.print(`${report.removed.length} ${verb}, ${report.kept.length} kept${report.failed.length ? `, ${report.failed.length} failed` : ''} (older than ${olderThan.text})`);
        if (report.failed.length > 0) ctx.setExitCode(1);
      }),
    );
}
