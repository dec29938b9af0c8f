/**
 * Process-tree helpers for Linux and macOS. Agents and playtests run in their own process group
 * (spawned `detached`), but their children may start groups of their own (pi runs each bash tool
 * in a new group), so a stop collects the whole tree of descendants first and signals every
 * member and every group, before any of them can be re-parented to PID 1.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { allProcesses, procStat } from './process-identity.js';

/** Parent pid of every live process, read from /proc (Linux) or `ps` (elsewhere). */
function parentMap(): Map<number, number> {
  if (fs.existsSync('/proc/self/stat')) return new Map(allProcesses().map((p) => [p.pid, p.ppid]));
  const map = new Map<number, number>();
  const out = execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' });
  for (const line of out.split('\n')) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number);
    if (pid && ppid !== undefined) map.set(pid, ppid);
  }
  return map;
}

/** The pid and all its live descendants, root first. */
export function processTree(rootPid: number): number[] {
  const parents = parentMap();
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parents) {
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [rootPid];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (out.includes(pid)) continue;
    if (pid === rootPid && !parents.has(pid)) continue;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function trySignal(target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal);
  } catch {
    // Already gone.
  }
}

/**
 * Sends `signal` to every process in the given set and to each one's process group.
 * Pass a set collected with `processTree` before the root was asked to exit.
 */
export function signalTree(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    trySignal(-pid, signal);
    trySignal(pid, signal);
  }
}

/**
 * A zombie: exited, waiting to be reaped. bubblewrap's inner process ends as one re-parented to
 * pid 1, which in some containers reaps only after a while.
 */
export function isZombie(pid: number): boolean {
  return procStat(pid)?.state === 'Z';
}

/** Processes among `pids` that are still alive (zombies included, until they are reaped). */
export function aliveOf(pids: number[]): number[] {
  return pids.filter(isAlive);
}

/**
 * Live processes whose working directory is `dir` or inside it (Linux: /proc/<pid>/cwd; other
 * systems cannot tell and get []). Catches an agent, playtest or shell of any process, not only
 * of this bot.
 */
export function processesWorkingIn(dir: string): number[] {
  if (!fs.existsSync('/proc/self/cwd')) return [];
  const root = dir.endsWith('/') ? dir : `${dir}/`;
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cwd = fs.readlinkSync(`/proc/${name}/cwd`);
      if (cwd === dir || cwd.startsWith(root)) out.push(Number(name));
    } catch {
      // Gone meanwhile, or not ours to inspect.
    }
  }
  return out;
}
