/**
 * Which process a recorded pid is: a pid alone is not an identity (pids are reused, in containers
 * within minutes), so every pid the bot records goes with its start time, and a recorded process
 * counts as alive only while a live process has that pid AND that start time.
 *
 * Linux: the start time is field 22 of /proc/<pid>/stat (clock ticks since boot, `starttime` in
 * proc(5)), prefixed with the boot id (/proc/sys/kernel/random/boot_id) so a process of an earlier
 * boot never matches. Elsewhere (macOS) `ps -o lstart=` (to the second).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const HAS_PROC = fs.existsSync('/proc/self/stat');

/** What /proc/<pid>/stat says about a process. */
export interface ProcStat {
  pid: number;
  /** R, S, D, Z (zombie), X (dead), … */
  state: string;
  ppid: number;
  pgid: number;
  /** Clock ticks after boot (field 22). */
  startTicks: number;
}

/** Parses /proc/<pid>/stat; null when the process is gone (or there is no /proc). */
export function procStat(pid: number): ProcStat | null {
  if (!HAS_PROC) return null;
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name is in parentheses and may contain spaces and ')': read after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field n is rest[n - 3].
  return { pid, state: rest[0] ?? '?', ppid: Number(rest[1]), pgid: Number(rest[2]), startTicks: Number(rest[19]) };
}

let bootIdCache: string | null = null;
function bootId(): string {
  if (bootIdCache === null) {
    try {
      bootIdCache = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      bootIdCache = 'boot';
    }
  }
  return bootIdCache;
}

/** The process's start time as an opaque token; null when no such process runs. */
export function startTimeOf(pid: number): string | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  if (HAS_PROC) {
    const stat = procStat(pid);
    return stat ? `${bootId()}:${stat.startTicks}` : null;
  }
  try {
    const out = execFileSync('ps', ['-p', String(pid), '-o', 'lstart='], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return out ? `ps:${out}` : null;
  } catch {
    return null;
  }
}

let ownStart: string | null = null;
/** This process's start time token. */
export function ownStartTime(): string {
  ownStart ??= startTimeOf(process.pid) ?? `pid${process.pid}`;
  return ownStart;
}

/** A zombie or dead entry: exited, only waiting to be reaped. */
function exited(pid: number): boolean {
  const state = procStat(pid)?.state;
  return state === 'Z' || state === 'X';
}

/**
 * True while the process that was recorded as (`pid`, `start`) still runs: the pid is alive, not
 * a zombie, and has that start time. A null `start` (a row written before start times were
 * recorded) is never trusted: it counts as gone.
 */
export function isSameProcess(pid: number | null, start: string | null): boolean {
  if (pid === null || start === null) return false;
  if (pid === process.pid) return start === ownStartTime();
  const now = startTimeOf(pid);
  return now !== null && now === start && !exited(pid);
}

/**
 * An owner recorded by an earlier process is alive: another live process with that pid and start
 * time. At start-up a row with our own pid is an earlier process's (a container reuses pids).
 */
export function isEarlierOwnerAlive(pid: number, start: string | null): boolean {
  return pid !== process.pid && isSameProcess(pid, start);
}

/** Alive in the sense of kill(pid, 0), zombies excluded. */
export function pidRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !exited(pid);
}

/** Every live process (Linux), or [] where /proc cannot be read. */
export function allProcesses(): ProcStat[] {
  if (!HAS_PROC) return [];
  const out: ProcStat[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (stat) out.push(stat);
  }
  return out;
}

/** This process and its ancestors (never signalled by a sweep). */
export function selfAndAncestors(): Set<number> {
  const out = new Set<number>([process.pid]);
  let pid = process.ppid;
  while (pid > 1 && !out.has(pid)) {
    out.add(pid);
    pid = procStat(pid)?.ppid ?? 0;
  }
  return out;
}
