/**
 * Splits long text into messages that fit a platform's limit: on paragraph boundaries when it
 * can, on line boundaries otherwise, inside a line (at a space) only for lines longer than a
 * message. ``` code fences stay balanced: a part that ends inside a fence closes it and the next
 * part reopens it with the same language. No character of the input is lost: the `core` of the
 * parts, concatenated, is the input.
 */

export interface MessagePart {
  /** What to send: `prefix + core + suffix`. */
  body: string;
  /** The slice of the input this part carries. */
  core: string;
  /** A reopened fence (```lang + newline), or ''. */
  prefix: string;
  /** A closing fence (```, after a newline when the core does not end with one), or ''. */
  suffix: string;
}

const FENCE = '```';
const CLOSE = '\n```';
const MAX_LANG = 30;

function countFences(line: string): number {
  let n = 0;
  for (let i = line.indexOf(FENCE); i !== -1; i = line.indexOf(FENCE, i + 3)) n++;
  return n;
}

/** The fence a line leaves open: null when closed, else the language ('' for none). */
function fenceAfter(open: string | null, line: string): string | null {
  if (countFences(line) % 2 === 0) return open;
  if (open !== null) return null;
  const trimmed = line.trimStart();
  if (trimmed.startsWith(FENCE)) {
    const lang = trimmed.slice(3).replace(/`/g, '').trim();
    return /^[\w+#.-]*$/.test(lang) ? lang.slice(0, MAX_LANG) : '';
  }
  return '';
}

const reopen = (lang: string | null): string => (lang === null ? '' : `${FENCE}${lang}\n`);

/** Lines with their newline; a line longer than `max` is cut at a space (or hard) into pieces. */
function units(text: string, max: number): string[] {
  const out: string[] = [];
  const lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  for (const line of lines) {
    let rest = line;
    while (rest.length > max) {
      let cut = rest.lastIndexOf(' ', max);
      if (cut < max / 2) cut = max;
      // Never cut inside a run of backticks or a surrogate pair.
      while (cut > 1 && (rest[cut - 1] === '`' || rest[cut] === '`')) cut--;
      if (cut <= 1) cut = max;
      const code = rest.charCodeAt(cut - 1);
      if (code >= 0xd800 && code <= 0xdbff) cut--;
      out.push(rest.slice(0, cut));
      rest = rest.slice(cut);
    }
    if (rest) out.push(rest);
  }
  return out;
}

export function splitMessageParts(text: string, maxChars: number): MessagePart[] {
  if (maxChars < 40) throw new RangeError(`maxChars must be at least 40, got ${maxChars}`);
  if (text.length <= maxChars) return [{ body: text, core: text, prefix: '', suffix: '' }];
  const pieces = units(text, maxChars - 2 * (MAX_LANG + 8));
  const parts: MessagePart[] = [];
  let i = 0;
  let open: string | null = null;
  while (i < pieces.length) {
    const prefix = reopen(open);
    // Take as many units as fit, remembering the fence state after each.
    let core = '';
    let state: string | null = open;
    const taken: { end: number; state: string | null; len: number; blank: boolean }[] = [];
    let j = i;
    while (j < pieces.length) {
      const unit = pieces[j]!;
      const next = fenceAfter(state, unit);
      const suffixLen = next === null ? 0 : CLOSE.length;
      if (taken.length > 0 && prefix.length + core.length + unit.length + suffixLen > maxChars) break;
      core += unit;
      state = next;
      j++;
      taken.push({ end: j, state, len: core.length, blank: unit.trim() === '' });
    }
    // Prefer ending on a paragraph boundary when one lies in the second half of the part.
    if (j < pieces.length) {
      for (let k = taken.length - 2; k >= 0; k--) {
        const t = taken[k]!;
        if (t.len < (maxChars - prefix.length) / 2) break;
        if (t.blank) {
          core = core.slice(0, t.len);
          state = t.state;
          j = t.end;
          break;
        }
      }
    }
    const suffix = state === null ? '' : core.endsWith('\n') ? FENCE : CLOSE;
    parts.push({ body: prefix + core + suffix, core, prefix, suffix });
    open = state;
    i = j;
  }
  return parts;
}

/** The bodies of `splitMessageParts`. */
export function splitMessage(text: string, maxChars: number): string[] {
  return splitMessageParts(text, maxChars).map((p) => p.body);
}
