/**
 * One process of a playtest (the build, then the game): spawned in its own process group, its
 * output read as redacted lines, and stopped with its whole tree (cargo starts the game as its
 * child; games start helpers) so that nothing outlives it.
 */
import { StringDecoder } from 'node:string_decoder';
import { execa } from 'execa';
import type { Logger } from 'pino';
import { errorText } from './errors.js';
import { pidRunning } from './process-identity.js';
import { processTree, signalTree } from './process-tree.js';
import type { Redactor } from './redact.js';

export interface ProcessResult {
  exitCode?: number;
  signal?: string;
  failed?: boolean;
  shortMessage?: string;
}

export interface PlaytestProcess {
  pid: number;
  /** Settles (never rejects) when the process has exited and its output has ended. */
  result: Promise<ProcessResult>;
  /** Closes our ends of its output pipes (the process is ended, but something may still hold them). */
  closeOutput(): void;
}

export interface SpawnOptions {
  cwd: string;
  env: Record<string, string>;
  /** Run through /bin/sh (a PLAYTEST_COMMAND line). */
  shell: boolean;
  redactor: Redactor;
  /** Every complete line, redacted, without its newline. */
  onLine(line: string, stream: 'stdout' | 'stderr'): void;
}

/** Longest line passed on; longer lines (and output without newlines) are cut into pieces. */
const MAX_LINE = 4000;
const POLL_MS = 25;

export function spawnPlaytestProcess(command: string, args: string[], opts: SpawnOptions): PlaytestProcess {
  const subprocess = execa(command, args, {
    shell: opts.shell,
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: false,
    detached: true,
    cleanup: false,
    stdin: 'ignore',
    buffer: false,
    reject: false,
    windowsHide: true,
  });
  const ended: Promise<void>[] = [];
  for (const [stream, name] of [
    [subprocess.stdout, 'stdout'],
    [subprocess.stderr, 'stderr'],
  ] as const) {
    if (!stream) continue;
    const decoder = new StringDecoder('utf8');
    const secrets = opts.redactor.stream();
    let carry = '';
    const take = (chunk: string): void => {
      const parts = (carry + chunk).split(/\r\n|\n|\r/);
      carry = parts.pop() ?? '';
      if (carry.length > MAX_LINE) {
        parts.push(carry);
        carry = '';
      }
      for (const line of parts) opts.onLine(line, name);
    };
    stream.on('data', (chunk: Buffer) => take(secrets.push(decoder.write(chunk))));
    ended.push(
      new Promise((resolve) => {
        const end = (): void => {
          take(secrets.push(decoder.end()) + secrets.end());
          if (carry) opts.onLine(carry, name);
          carry = '';
          resolve();
        };
        stream.once('end', end);
        stream.once('close', resolve);
      }),
    );
  }
  const result = subprocess.then(
    (r) => r as ProcessResult,
    (err: unknown): ProcessResult => ({ failed: true, shortMessage: errorText(err) }),
  );
  return {
    pid: subprocess.pid ?? 0,
    result: result.then(async (r) => {
      await Promise.all(ended);
      return r;
    }),
    closeOutput: () => {
      subprocess.stdout?.destroy();
      subprocess.stderr?.destroy();
    },
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * SIGTERM to the process's whole tree and groups, SIGKILL to whatever is left after `graceMs`;
 * resolves once it has exited. If something that left the tree still holds its output open
 * after that, our end is closed so the stop still ends.
 */
export async function stopPlaytestProcess(proc: PlaytestProcess, graceMs: number, log: Logger): Promise<void> {
  // Collect the tree before anyone exits and is re-parented away from it.
  const pids = proc.pid > 0 ? processTree(proc.pid) : [];
  let exited = false;
  void proc.result.then(() => {
    exited = true;
  });
  const signal = (sig: NodeJS.Signals): void => {
    const now = proc.pid > 0 ? processTree(proc.pid) : [];
    const all = [...new Set([...pids, ...now, ...pids.flatMap((p) => (pidRunning(p) ? processTree(p) : []))])];
    if (proc.pid > 0) signalTree([proc.pid], sig); // the group, even when its leader is gone
    signalTree(all, sig);
    for (const pid of all) if (!pids.includes(pid)) pids.push(pid);
  };
  const gone = async (ms: number): Promise<boolean> => {
    const deadline = Date.now() + ms;
    for (;;) {
      if (exited && !pids.some(pidRunning)) return true;
      if (Date.now() >= deadline) return false;
      await delay(POLL_MS);
    }
  };
  signal('SIGTERM');
  if (await gone(graceMs)) return;
  log.warn({ pid: proc.pid, alive: pids.filter(pidRunning) }, 'playtest ignored SIGTERM; killing');
  signal('SIGKILL');
  if (await gone(graceMs)) return;
  log.warn({ pid: proc.pid, alive: pids.filter(pidRunning) }, 'playtest output still open after SIGKILL; closing our end');
  proc.closeOutput();
  await proc.result;
}

/** Last resort on process exit: SIGKILL the whole tree at once. */
export function killPlaytestProcessSync(proc: PlaytestProcess): void {
  if (proc.pid > 0) signalTree(processTree(proc.pid), 'SIGKILL');
}
