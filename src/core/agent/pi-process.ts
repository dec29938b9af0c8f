/**
 * One agent child process speaking JSONL RPC: spawning, command/response correlation by id,
 * event dispatch, a stderr tail for error messages, and tree-wide termination. Knows nothing
 * about runs or outcomes (see pi-session.ts).
 */
import { execa, type ResultPromise } from 'execa';
import type { Logger } from 'pino';
import { aliveOf, isAlive, isZombie, processTree, signalTree } from '../process-tree.js';
import { encodeRecord, LineSplitter, parseJsonLine } from './rpc-lines.js';

export type RpcRecord = Record<string, unknown>;

export interface RpcResponse {
  command: string;
  success: boolean;
  data?: unknown;
  error?: string;
}

export interface ExitInfo {
  code: number | null;
  signal: string | null;
}

/** A command got no response in time. */
export class RpcTimeoutError extends Error {}
/** The process exited (or its stdin closed) before the response arrived. */
export class RpcExitError extends Error {}

export interface SpawnSpec {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Longest stdout line kept (bytes); longer ones are dropped and reported to `onOverflow`. */
  maxLineBytes?: number;
  /** Applied to each stderr line before it is kept for error messages. */
  redact?: (text: string) => string;
}

/**
 * Records nobody reads, recognised by how pi serializes them (`type` first) and dropped unparsed:
 * `message_update` repeats the whole partial message on every delta (its volume grows with the
 * square of the answer's length) and `tool_execution_update` the tool's whole output so far.
 */
export const SKIPPED_RECORDS = ['{"type":"message_update"', '{"type":"tool_execution_update"'] as const;

const STDERR_KEEP_LINES = 40;
/** Longer stderr lines are dropped (they would only be cut for messages anyway). */
const STDERR_MAX_LINE = 64 * 1024;

export function describeExit(exit: ExitInfo): string {
  if (exit.signal) return `killed by signal ${exit.signal}`;
  return `exit code ${exit.code ?? 'unknown'}`;
}

export class RpcProcess {
  readonly pid: number | undefined;
  /** Resolves once the process has exited and its stdout was drained. Never rejects. */
  readonly exited: Promise<ExitInfo>;
  /** Resolves when the OS started the process; rejects with the spawn error (e.g. ENOENT). */
  readonly spawned: Promise<void>;
  exitInfo: ExitInfo | null = null;
  /** Called for every stdout record that is not a response with a pending id. */
  onRecord: (record: RpcRecord) => void = () => {};
  /** Called for every chunk the process writes to stdout (the agent is alive and working). */
  onActivity: () => void = () => {};
  /** Called when a stdout line went over `maxLineBytes` (it was dropped). */
  onOverflow: (bytes: number) => void = () => {};
  /** Called for each record dropped unparsed, with its SKIPPED_RECORDS prefix. */
  onSkipped: (prefix: string) => void = () => {};

  private readonly child: ResultPromise;
  private readonly splitter: LineSplitter;
  private readonly stderrSplitter = new LineSplitter({ maxLineBytes: STDERR_MAX_LINE });
  private readonly stderrLines: string[] = [];
  private readonly pending = new Map<string, { resolve: (r: RpcResponse) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private nextId = 1;
  private garbageLines = 0;
  private stdinOpen = true;
  private readonly redact: (text: string) => string;

  constructor(
    spec: SpawnSpec,
    private readonly logger: Logger,
  ) {
    this.splitter = new LineSplitter({
      maxLineBytes: spec.maxLineBytes,
      onOverflow: (bytes) => this.onOverflow(bytes),
      skipPrefixes: SKIPPED_RECORDS,
      onSkip: (prefix) => this.onSkipped(prefix),
    });
    this.redact = spec.redact ?? ((text) => text);
    this.child = execa(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      extendEnv: false,
      // Own process group: a terminal Ctrl-C aimed at the bot does not reach the agent.
      detached: true,
      cleanup: false,
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      forceKillAfterDelay: false,
    });
    this.pid = this.child.pid;
    this.spawned = new Promise<void>((resolve, reject) => {
      this.child.once('spawn', () => resolve());
      this.child.once('error', (err) => reject(err));
    });
    this.spawned.catch(() => {});
    this.child.catch(() => {});
    this.child.stdin?.on('error', (err) => {
      this.logger.debug({ err }, 'agent stdin error');
      this.stdinOpen = false;
    });
    this.child.stdout?.on('data', (chunk: Buffer) => {
      this.onActivity();
      this.lines(this.splitter.push(chunk));
    });
    this.child.stderr?.on('data', (chunk: Buffer) => this.stderr(this.stderrSplitter.push(chunk)));
    const stdoutEnded = new Promise<void>((resolve) => {
      if (!this.child.stdout) return resolve();
      this.child.stdout.once('end', () => {
        this.lines(this.splitter.end());
        resolve();
      });
      this.child.stdout.once('close', () => resolve());
    });
    this.exited = new Promise<ExitInfo>((resolve) => {
      const finish = (info: ExitInfo) => {
        this.stderr(this.stderrSplitter.end());
        this.exitInfo = info;
        this.stdinOpen = false;
        for (const [id, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(new RpcExitError(`the agent exited (${describeExit(info)})`));
          this.pending.delete(id);
        }
        resolve(info);
      };
      this.child.once('error', () => {
        if (this.pid === undefined) finish({ code: null, signal: null });
      });
      this.child.once('exit', (code, signal) => {
        // Let stdout drain, but do not wait forever for a pipe a grandchild may hold open.
        const grace = setTimeout(() => finish({ code, signal }), 500);
        void stdoutEnded.then(() => {
          clearTimeout(grace);
          finish({ code, signal });
        });
      });
    });
  }

  get alive(): boolean {
    return this.exitInfo === null;
  }

  /** The last stderr lines, for error messages. */
  stderrTail(lines = 10, chars = 2000): string {
    const text = this.stderrLines.slice(-lines).join('\n').trim();
    return text.length > chars ? `…${text.slice(text.length - chars + 1)}` : text;
  }

  /** Writes a command without waiting for anything. Returns false when stdin is gone. */
  send(command: RpcRecord): boolean {
    if (!this.stdinOpen || !this.child.stdin || this.child.stdin.destroyed) return false;
    this.child.stdin.write(encodeRecord(command));
    return true;
  }

  /** Sends a command with a fresh id and waits for the response with that id. */
  request(command: RpcRecord, timeoutMs: number): Promise<RpcResponse> {
    const id = `c${this.nextId++}`;
    return new Promise<RpcResponse>((resolve, reject) => {
      if (!this.alive || !this.send({ ...command, id })) {
        reject(new RpcExitError('the agent is not running'));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RpcTimeoutError(`the agent did not answer ${String(command.type)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
    });
  }

  closeStdin(): void {
    this.stdinOpen = false;
    this.child.stdin?.end();
  }

  /** The process and its live descendants (collect before asking anything to exit). */
  tree(): number[] {
    return this.pid === undefined || !isAlive(this.pid) ? [] : processTree(this.pid);
  }

  /**
   * Ends the process and every process in `snapshot`: waits `exitMs` for the process to exit by
   * itself, then SIGTERM to the tree (members and their groups), waits `killMs`, SIGKILL to
   * whatever is left. Tool processes that outlived the agent are in `snapshot` and get the same.
   */
  async terminate(snapshot: number[], exitMs: number, killMs: number): Promise<void> {
    const all = [...new Set([...snapshot, ...this.tree()])];
    if (this.alive) await this.waitExit(exitMs);
    const left = () => aliveOf(all).filter((p) => p !== process.pid);
    if (left().length === 0 && !this.alive) return;
    // Only zombies left (the sandbox's inner bwrap, say): nothing to signal, wait for the reaping.
    if (!this.alive && left().every(isZombie)) return this.waitGone(all, killMs);
    this.logger.debug({ pids: left() }, 'agent: SIGTERM to the process tree');
    signalTree([...left(), ...(this.alive && this.pid !== undefined ? [this.pid] : [])], 'SIGTERM');
    await this.waitGone(all, killMs);
    const rest = left();
    if (rest.length > 0 || this.alive) {
      this.logger.warn({ pids: rest }, 'agent: SIGKILL to what is left of the process tree');
      signalTree([...rest, ...(this.alive && this.pid !== undefined ? [this.pid] : [])], 'SIGKILL');
      await this.waitExit(killMs);
    }
  }

  /** Resolves true if the process exited within `ms`. */
  async waitExit(ms: number): Promise<boolean> {
    if (!this.alive) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    const result = await Promise.race([this.exited.then(() => true as const), timeout]);
    clearTimeout(timer);
    return result;
  }

  private async waitGone(pids: number[], ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    // Signals are asynchronous; poll /proc briefly (the processes are not ours to wait on).
    while (Date.now() < deadline && (aliveOf(pids).length > 0 || this.alive)) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private lines(lines: string[]): void {
    for (const line of lines) {
      const parsed = parseJsonLine(line);
      if (parsed.kind === 'empty') continue;
      if (parsed.kind === 'garbage') {
        this.garbageLines += 1;
        const level = this.garbageLines <= 20 ? 'warn' : 'debug';
        this.logger[level]({ line: line.slice(0, 300), error: parsed.error }, 'agent wrote a non-JSON line to stdout; ignored');
        continue;
      }
      const record = parsed.record;
      if (record.type === 'response' && typeof record.id === 'string' && this.pending.has(record.id)) {
        const p = this.pending.get(record.id)!;
        this.pending.delete(record.id);
        clearTimeout(p.timer);
        p.resolve({
          command: String(record.command),
          success: record.success === true,
          data: record.data,
          error: typeof record.error === 'string' ? record.error : undefined,
        });
        continue;
      }
      try {
        this.onRecord(record);
      } catch (err) {
        this.logger.error({ err }, 'agent record handler failed');
      }
    }
  }

  private stderr(lines: string[]): void {
    for (const raw of lines) {
      const line = this.redact(raw);
      this.logger.debug({ line }, 'agent stderr');
      this.stderrLines.push(line);
      if (this.stderrLines.length > STDERR_KEEP_LINES) this.stderrLines.shift();
    }
  }
}
