/**
 * Replaces known secret values (platform tokens, provider keys, SECRET_VALUES) by `[redacted]`.
 * One Redactor is built from the config and injected wherever the bot writes text that others
 * read: run events, outbox rows, log lines, and the agent's and playtest's output before it is
 * cut to a tail (a cut could otherwise leave half a key).
 *
 * Each value is also matched in its JSON-escaped form, so a key inside a serialized log line is
 * found too. Streams use `StreamRedactor`, which holds back a tail that could be the start of a
 * value split across chunks.
 */

export const REDACTED = '[redacted]';

/** A function that redacts text; the identity when no secrets are known. */
export type RedactFn = (text: string) => string;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class Redactor {
  private readonly pattern: RegExp | null;
  /** Length of the longest form of any value (0 when there is none). */
  readonly longest: number;
  /** Whether some value spans lines (a PEM key): then a line break does not end a possible match. */
  readonly multiline: boolean;

  constructor(values: readonly string[]) {
    const forms = new Set<string>();
    for (const v of values) {
      if (!v) continue;
      forms.add(v);
      forms.add(JSON.stringify(v).slice(1, -1));
    }
    const sorted = [...forms].sort((a, b) => b.length - a.length);
    this.longest = sorted[0]?.length ?? 0;
    this.multiline = sorted.some((f) => /[\r\n]/.test(f));
    this.pattern = sorted.length > 0 ? new RegExp(sorted.map(escapeRegExp).join('|'), 'g') : null;
  }

  /** A redactor that knows no secrets. */
  static none(): Redactor {
    return new Redactor([]);
  }

  get enabled(): boolean {
    return this.pattern !== null;
  }

  redact = (text: string): string => (this.pattern === null ? text : text.replace(this.pattern, REDACTED));

  /** Every string inside a JSON-like value, redacted (a new value; the input is not changed). */
  redactDeep<T>(value: T): T {
    if (this.pattern === null) return value;
    return this.deep(value) as T;
  }

  /** Where complete matches lie in `text`. */
  matches(text: string): Array<[number, number]> {
    if (this.pattern === null) return [];
    return [...text.matchAll(this.pattern)].map((m) => [m.index, m.index + m[0].length]);
  }

  stream(): StreamRedactor {
    return new StreamRedactor(this);
  }

  private deep(value: unknown): unknown {
    if (typeof value === 'string') return this.redact(value);
    if (Array.isArray(value)) return value.map((v) => this.deep(v));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.deep(v);
      return out;
    }
    return value;
  }
}

/**
 * Redacts a text that arrives in chunks. `push` returns what is safe to pass on: everything but
 * a tail shorter than the longest secret, which could be the first part of a value the next
 * chunk completes. `end` returns the rest. A line break ends any possible match (unless a value
 * spans lines), so everything up to the last one goes at once: a program that prints a short
 * line and then waits is seen waiting.
 */
export class StreamRedactor {
  private held = '';

  constructor(private readonly redactor: Redactor) {}

  push(chunk: string): string {
    if (!this.redactor.enabled) return chunk;
    const text = this.held + chunk;
    let cut = Math.max(0, text.length - (this.redactor.longest - 1));
    if (!this.redactor.multiline) cut = Math.max(cut, Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r')) + 1);
    // A complete value across the cut is passed on whole (it is redacted below).
    for (const [start, end] of this.redactor.matches(text)) if (start < cut && end > cut) cut = end;
    this.held = text.slice(cut);
    return this.redactor.redact(text.slice(0, cut));
  }

  end(): string {
    const rest = this.redactor.redact(this.held);
    this.held = '';
    return rest;
  }
}
