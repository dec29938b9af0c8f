/**
 * Disk facts for the bot's bounds: free space where worktrees live (a run is refused below
 * MIN_FREE_DISK) and the size of a folder on disk (`du`, which counts what the files really take
 * and is on every machine that has git).
 */
import fs from 'node:fs';
import path from 'node:path';
import bytes from 'bytes';
import { execa } from 'execa';
import { UserError } from './errors.js';

/** The nearest existing folder at or above `dir` (a worktrees folder may not exist yet). */
function existingAncestor(dir: string): string {
  let current = path.resolve(dir);
  while (!fs.existsSync(current)) {
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  return current;
}

/** Bytes available to this (unprivileged) process on the file system that holds `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const stats = await fs.promises.statfs(existingAncestor(dir));
  return stats.bavail * stats.bsize;
}

/** Refuses with DISK_LOW when the file system of `dir` has less than `minFree` bytes free. */
export async function assertFreeDisk(dir: string, minFree: number): Promise<void> {
  if (minFree <= 0) return;
  const free = await freeBytes(dir);
  if (free >= minFree) return;
  throw new UserError(
    'DISK_LOW',
    `Not enough free disk space to start a run: ${bytes.format(free)} free where worktrees live (${existingAncestor(dir)}), ` +
      `MIN_FREE_DISK is ${bytes.format(minFree)}. Remove old worktrees ("chatops worktrees prune") or free some space, then try again.`,
  );
}

/** Size on disk of a folder in bytes (`du -sk`), or null when it is gone or `du` fails. */
export async function diskUsage(dir: string): Promise<number | null> {
  if (!fs.existsSync(dir)) return null;
  const result = await execa('du', ['-sk', dir], { reject: false, stdin: 'ignore' });
  const kb = Number(/^(\d+)/.exec(String(result.stdout))?.[1]);
  return Number.isFinite(kb) && result.stdout !== '' ? kb * 1024 : null;
}
