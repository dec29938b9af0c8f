/**
 * JSONL framing for the agent's RPC streams. Records are split on LF only (a trailing CR is
 * stripped): `JSON.stringify` leaves U+2028/U+2029 unescaped inside strings, so a splitter that
 * honours Unicode line separators would cut records in half. The splitter works on bytes and
 * decodes whole lines only, so a multi-byte character split across two chunks stays whole (an LF
 * byte never occurs inside a UTF-8 sequence).
 *
 * Memory stays bounded per line: a line longer than `maxLineBytes` is dropped as it arrives (and
 * reported through `onOverflow`), and a line whose start matches one of `skipPrefixes` (records
 * nobody reads, e.g. pi's quadratic `message_update`) is discarded without being kept or parsed
 * (reported through `onSkip`).
 */

export interface LineSplitterOptions {
  /** Longest line kept, in bytes (default: unbounded). */
  maxLineBytes?: number;
  /** Called once per line that went over `maxLineBytes`, with the bytes seen so far. */
  onOverflow?: (bytes: number) => void;
  /** Lines starting with one of these are dropped unread. */
  skipPrefixes?: readonly string[];
  /** Called once per skipped line with the prefix it matched. */
  onSkip?: (prefix: string) => void;
}

export class LineSplitter {
  private parts: Buffer[] = [];
  private bytes = 0;
  /** Dropping the rest of the current line: it overflowed or matched a skip prefix. */
  private discarding = false;
  /** The skip prefixes were compared for the current line (or there are none). */
  private decided: boolean;
  private readonly max: number;
  private readonly prefixes: { text: string; bytes: Buffer }[];
  private readonly prefixLen: number;

  constructor(private readonly options: LineSplitterOptions = {}) {
    this.max = options.maxLineBytes ?? Number.POSITIVE_INFINITY;
    this.prefixes = (options.skipPrefixes ?? []).map((text) => ({ text, bytes: Buffer.from(text, 'utf8') }));
    this.prefixLen = Math.max(0, ...this.prefixes.map((p) => p.bytes.length));
    this.decided = this.prefixes.length === 0;
  }

  /** Feeds a chunk; returns the complete lines it finished (without LF or trailing CR). */
  push(chunk: Buffer | string): string[] {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      this.take(buf.subarray(start, nl === -1 ? buf.length : nl));
      if (nl === -1) break;
      const line = this.endLine();
      if (line !== null) lines.push(line);
      start = nl + 1;
    }
    return lines;
  }

  /** Flushes at EOF: the final unterminated line, if any. */
  end(): string[] {
    const line = this.bytes > 0 || this.discarding ? this.endLine() : null;
    return line !== null && line.length > 0 ? [line] : [];
  }

  /** Bytes held while waiting for the end of a line (never more than `maxLineBytes`). */
  get pending(): number {
    return this.bytes;
  }

  private take(segment: Buffer): void {
    if (this.discarding || segment.length === 0) return;
    if (!this.decided && this.bytes + segment.length >= this.prefixLen && this.skips([...this.parts, segment])) return;
    if (this.bytes + segment.length > this.max) {
      const seen = this.bytes + segment.length;
      this.reset(true);
      this.options.onOverflow?.(seen);
      return;
    }
    this.parts.push(segment);
    this.bytes += segment.length;
  }

  /** Decides once per line, when its first bytes are here, whether it starts with a skip prefix (and drops it). */
  private skips(parts: Buffer[]): boolean {
    this.decided = true;
    const head = Buffer.concat(parts, this.prefixLen);
    const hit = this.prefixes.find((p) => head.subarray(0, p.bytes.length).equals(p.bytes));
    if (!hit) return false;
    this.reset(true);
    this.options.onSkip?.(hit.text);
    return true;
  }

  private endLine(): string | null {
    if (this.discarding) {
      this.reset(false);
      return null;
    }
    const line = this.parts.length === 1 ? this.parts[0]!.toString('utf8') : Buffer.concat(this.parts).toString('utf8');
    this.reset(false);
    return stripCr(line);
  }

  private reset(discard: boolean): void {
    this.parts = [];
    this.bytes = 0;
    this.discarding = discard;
    this.decided = this.prefixes.length === 0;
  }
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

export type ParsedLine =
  | { kind: 'record'; record: Record<string, unknown> }
  | { kind: 'empty' }
  | { kind: 'garbage'; error: string };

/**
 * Tolerant parse of one line: surrounding whitespace and a BOM are ignored, blank lines are
 * `empty`, and anything that is not a JSON object (invalid JSON, arrays, scalars) is `garbage`.
 */
export function parseJsonLine(line: string): ParsedLine {
  const text = line.replace(/^\uFEFF/, '').trim();
  if (text === '') return { kind: 'empty' };
  if (text[0] !== '{') return { kind: 'garbage', error: 'not a JSON object' };
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return { kind: 'garbage', error: 'not a JSON object' };
    }
    return { kind: 'record', record: value as Record<string, unknown> };
  } catch (err) {
    return { kind: 'garbage', error: err instanceof Error ? err.message : String(err) };
  }
}

/** `JSON.stringify(value)` plus LF: one outgoing record. */
export function encodeRecord(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}
