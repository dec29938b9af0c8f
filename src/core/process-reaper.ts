/**
 * Ends what a crashed bot left running: the recorded agent and playtest processes whose owner is
 * gone, their trees and process groups, and the processes working inside their worktrees that
 * started after them (pi runs each bash tool in a process group of its own, and a tool or a game
 * re-parented to pid 1 is in no tree any more). A recorded pid is trusted only with its start
 * time: a pid now used by another program is never signalled.
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { ProcessRecord } from '../store/process-records-repo.js';
import { allProcesses, isSameProcess, pidRunning, procStat, selfAndAncestors, type ProcStat } from './process-identity.js';
import { processesWorkingIn, processTree, signalTree } from './process-tree.js';

/** A worktree whose processes started at or after `sinceTicks` belong to a dead run. */
export interface SweepDir {
  dir: string;
  /** Clock ticks after boot (as /proc/<pid>/stat field 22). */
  sinceTicks: number;
}

export interface ReapOptions {
  logger: Logger;
  /** Processes never to signal (the trees of live bots and CLI runs); self and ancestors are always spared. */
  spare?: Set<number>;
  /** How long SIGTERM gets before SIGKILL (default 2 s), and SIGKILL before giving up (default 2 s). */
  termMs?: number;
  killMs?: number;
}

/** Linux reports start times in USER_HZ ticks, 100 per second on every architecture Node runs on. */
const TICKS_PER_SECOND = 100;

let bootTimeMs: number | null = null;
/** Wall-clock time as clock ticks after boot (for "processes started after this run did"). */
export function ticksAt(ms: number): number {
  if (bootTimeMs === null) {
    try {
      const btime = /^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'));
      bootTimeMs = btime ? Number(btime[1]) * 1000 : 0;
    } catch {
      bootTimeMs = 0;
    }
  }
  return Math.max(0, Math.floor(((ms - bootTimeMs) / 1000) * TICKS_PER_SECOND));
}

/** The start ticks inside a start time token of this boot (`<boot id>:<ticks>`), else null. */
export function ticksOf(startTime: string, currentBootToken: string | null): number | null {
  const i = startTime.lastIndexOf(':');
  if (i < 0 || currentBootToken === null || startTime.slice(0, i) !== currentBootToken.slice(0, currentBootToken.lastIndexOf(':'))) return null;
  const ticks = Number(startTime.slice(i + 1));
  return Number.isFinite(ticks) ? ticks : null;
}

/** Every process to end, and the groups to signal, for these dead records and worktrees. */
export function collectOrphans(records: ProcessRecord[], sweeps: SweepDir[], spareIn: Set<number>): { pids: Map<number, number>; groups: number[] } {
  const procs = allProcesses();
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const children = new Map<number, number[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const spare = new Set([...spareIn, ...selfAndAncestors()]);
  const ownGroup = procStat(process.pid)?.pgid;
  const pids = new Map<number, number>();
  const groups = new Set<number>();
  const addTree = (root: number) => {
    const queue = [root];
    while (queue.length > 0) {
      const pid = queue.shift()!;
      const p = byPid.get(pid);
      if (pids.has(pid) || spare.has(pid) || !p) continue;
      pids.set(pid, p.startTicks);
      queue.push(...(children.get(pid) ?? []));
    }
  };
  const addGroup = (pgid: number) => {
    if (pgid <= 1 || pgid === ownGroup || spare.has(pgid)) return;
    groups.add(pgid);
    for (const p of procs) if (p.pgid === pgid) addTree(p.pid);
  };
  for (const r of records) {
    if (isSameProcess(r.pid, r.startTime)) {
      addTree(r.pid);
      if (r.pgid === r.pid) addGroup(r.pgid);
    } else if (!byPid.has(r.pid) && r.pgid === r.pid) {
      // The leader is gone; Linux does not hand its pid to a new process while its group has
      // members, so whatever is in that group is still the recorded process's.
      addGroup(r.pgid);
    }
  }
  for (const s of sweeps) {
    for (const pid of processesWorkingIn(s.dir)) {
      const p: ProcStat | undefined = byPid.get(pid);
      if (p && p.startTicks >= s.sinceTicks) addTree(pid);
    }
  }
  return { pids, groups: [...groups] };
}

function signal(target: number, sig: NodeJS.Signals): void {
  try {
    process.kill(target, sig);
  } catch {
    // Already gone.
  }
}

async function waitGone(pids: number[], ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (!pids.some(pidRunning)) return true;
    if (Date.now() >= deadline) return false;
    // Not our children: nothing to wait on but /proc.
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** SIGTERM to every collected process and group, SIGKILL to what is left; resolves with the pids it ended. */
export async function reapOrphans(records: ProcessRecord[], sweeps: SweepDir[], options: ReapOptions): Promise<number[]> {
  const found = collectOrphans(records, sweeps, options.spare ?? new Set());
  const { groups } = found;
  const pids = [...found.pids.keys()];
  if (pids.length === 0 && groups.length === 0) return [];
  options.logger.warn({ pids, groups }, 'ending processes a previous bot process left running');
  const send = (sig: NodeJS.Signals) => {
    // A group only while a process collected in it still runs: its number cannot have been reused.
    const stillIn = (g: number) => [...found.pids].some(([p, ticks]) => {
      const st = procStat(p);
      return st?.startTicks === ticks && st.pgid === g;
    });
    for (const g of groups) if (stillIn(g)) signal(-g, sig);
    // Only while the pid is still the process collected (same start time).
    for (const [p, ticks] of found.pids) if (procStat(p)?.startTicks === ticks) signal(p, sig);
  };
  send('SIGTERM');
  if (!(await waitGone(pids, options.termMs ?? 2000))) {
    options.logger.warn({ pids: pids.filter(pidRunning) }, 'left-over processes ignored SIGTERM; killing them');
    send('SIGKILL');
    if (!(await waitGone(pids, options.killMs ?? 2000))) {
      options.logger.error({ pids: pids.filter(pidRunning) }, 'left-over processes survived SIGKILL (stuck in the kernel?)');
    }
  }
  return pids;
}

/**
 * Synchronous last resort (no event loop left, or a shutdown past its bound): SIGTERM to every
 * process in the trees of `roots` and their groups, a short grace, then SIGKILL to what is left.
 */
export function endTreesSync(roots: number[], graceMs = 300): void {
  const pids = [...new Set(roots.flatMap((root) => processTree(root)))];
  if (pids.length === 0) return;
  signalTree(pids, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (pids.some(pidRunning) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 20);
  if (pids.some(pidRunning)) signalTree(pids, 'SIGKILL');
}
