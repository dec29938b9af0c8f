/**
 * A playtest's output: every line goes to its full log (DATA_DIR/playtests/<run>/<n>.log, 0600,
 * already redacted), the last lines are kept as the tail posted when it fails, and batches of
 * new lines are handed on at most every `flushMs` (only the tail of a flood).
 */
import fs from 'node:fs';
import type { ProcessResult } from './playtest-process.js';
import { PRIVATE_FILE_MODE } from './private-files.js';

/** Lines kept for an output event and for the end's tail. */
export const TAIL_LINES = 20;
/** Upper bound of an event's text. */
export const MAX_TEXT = 1500;
/** Longest line kept in the tail and batches (the log keeps it whole). */
const MAX_LINE = 400;

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;

/** Keeps the end of `text` within `max` characters. */
export function tailText(text: string, max = MAX_TEXT): string {
  return text.length <= max ? text : `…${text.slice(text.length - max + 1)}`;
}

export class PlaytestOutput {
  private tail: string[] = [];
  private pending: string[] = [];
  private skipped = 0;
  private timer: NodeJS.Timeout | null = null;
  private fd: number | null;
  /** The last line seen (for the live status while building). */
  last: string | null = null;

  constructor(
    readonly logFile: string,
    private readonly flushMs: number,
    private readonly onBatch: (text: string) => void,
    /** Applied to every line the log gets (the command line and the end name secrets too). */
    private readonly redact: (text: string) => string = (t) => t,
  ) {
    this.fd = fs.openSync(logFile, 'a', PRIVATE_FILE_MODE);
  }

  /** Starts a new section (the build's tail is not the game's). */
  section(title: string): void {
    this.tail = [];
    this.write(`===== ${title} =====`);
  }

  /** Writes to the log only. */
  write(line: string): void {
    if (this.fd === null) return;
    try {
      fs.writeSync(this.fd, `${this.redact(line)}\n`);
    } catch {
      // A full disk must not end the playtest; the thread still gets the tail.
    }
  }

  add(raw: string, opts: { batch: boolean } = { batch: true }): void {
    // Closed: the playtest has ended (a straggler that held its output open prints no more).
    if (this.fd === null) return;
    this.write(raw);
    let line = raw.replace(ANSI, '').trimEnd();
    if (line === '') return;
    if (line.length > MAX_LINE) line = `${line.slice(0, MAX_LINE - 1)}…`;
    this.last = line;
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    if (!opts.batch) return;
    this.pending.push(line);
    if (this.pending.length > TAIL_LINES) {
      this.pending.shift();
      this.skipped += 1;
    }
    if (!this.timer) this.timer = setTimeout(() => this.flush(), this.flushMs);
  }

  /** Hands on the lines gathered since the last batch. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length === 0) return;
    const head = this.skipped > 0 ? `… (${this.skipped} lines skipped)\n` : '';
    const text = head + tailText(this.pending.join('\n'), MAX_TEXT - head.length);
    this.pending = [];
    this.skipped = 0;
    this.onBatch(text);
  }

  /** The tail as a code block within `max` characters, or '' when there was no output. */
  tailBlock(max: number): string {
    if (this.tail.length === 0 || max < 20) return '';
    const body = tailText(this.tail.join('\n'), max - 9).replace(/```/g, "'''");
    return `\n\`\`\`\n${body}\n\`\`\``;
  }

  /** Drops unsent batches and closes the log. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending = [];
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

/** The first line of a playtest's end event, and whether it `exited` or `failed`. */
export function endHead(
  command: string,
  stoppedBy: { by: string | null } | null,
  failure: string | null,
  result: ProcessResult | null,
): { phase: 'exited' | 'failed'; head: string } {
  const cmd = `\`${command}\``;
  const exitCode = result?.exitCode ?? null;
  if (stoppedBy) return { phase: 'exited', head: `Playtest ${cmd} stopped by ${stoppedBy.by ?? 'the bot'}.` };
  if (failure) return { phase: 'failed', head: failure };
  if (!result || (result.exitCode === undefined && !result.signal)) return { phase: 'failed', head: `Could not start playtest ${cmd}: ${result?.shortMessage ?? 'unknown error'}` };
  if (exitCode === 127) {
    return { phase: 'failed', head: `Could not start playtest ${cmd}: command not found (exit 127). Is it installed and on the bot's PATH? Set PLAYTEST_COMMAND to change it.` };
  }
  if (exitCode === 126) return { phase: 'failed', head: `Could not start playtest ${cmd}: the command is not executable (exit 126).` };
  return { phase: 'exited', head: exitCode === null ? `Playtest ${cmd} was killed by ${result.signal}.` : `Playtest ${cmd} exited with code ${exitCode}.` };
}
