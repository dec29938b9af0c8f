/**
 * JSONL framing for the agent's RPC streams. Records are split on LF only (a trailing CR is
 * stripped): `JSON.stringify` leaves U+2028/U+2029 unescaped inside strings, so a splitter that
 * honours Unicode line separators would cut records in half. Bytes are decoded with a
 * `StringDecoder`, so a multi-byte character split across two chunks stays whole.
 */
import { StringDecoder } from 'node:string_decoder';

export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private buffer = '';

  /** Feeds a chunk; returns the complete lines it finished (without LF or trailing CR). */
  push(chunk: Buffer | string): string[] {
    this.buffer += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const nl = this.buffer.indexOf('\n', start);
      if (nl === -1) break;
      lines.push(stripCr(this.buffer.slice(start, nl)));
      start = nl + 1;
    }
    if (start > 0) this.buffer = this.buffer.slice(start);
    return lines;
  }

  /** Flushes at EOF: the final unterminated line, if any. */
  end(): string[] {
    this.buffer += this.decoder.end();
    const rest = this.buffer;
    this.buffer = '';
    return rest.length > 0 ? [stripCr(rest)] : [];
  }

  /** Characters held while waiting for the end of a line. */
  get pending(): number {
    return this.buffer.length;
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
