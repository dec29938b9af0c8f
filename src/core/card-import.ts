/**
 * Parses a file of cards: a JSON array of `{id, title, body?}`, or Markdown with one
 * `## <id>: <title>` heading per card and its body below. Every problem is reported with its
 * place in the file; nothing is imported unless the whole file is valid.
 */
import { assertCardId } from './card-ids.js';
import { UserError } from './errors.js';

export interface CardInput {
  id: string;
  title: string;
  body: string;
}

export function parseCardsFile(fileName: string, text: string): CardInput[] {
  const trimmed = text.trimStart();
  const cards = trimmed.startsWith('[') || fileName.endsWith('.json') ? parseJson(fileName, text) : parseMarkdown(fileName, text);
  const seen = new Set<string>();
  for (const c of cards) {
    if (seen.has(c.id)) throw new UserError('CARD_IMPORT_INVALID', `${fileName}: card id "${c.id}" appears twice`);
    seen.add(c.id);
  }
  if (cards.length === 0) {
    throw new UserError('CARD_IMPORT_INVALID', `${fileName}: no cards found; expected a JSON array or "## card-1: Title" headings`);
  }
  return cards;
}

function validate(where: string, id: unknown, title: unknown, body: unknown): CardInput {
  if (typeof id !== 'string') throw new UserError('CARD_IMPORT_INVALID', `${where}: "id" must be a string`);
  try {
    assertCardId(id);
  } catch (err) {
    throw new UserError('CARD_IMPORT_INVALID', `${where}: ${(err as Error).message}`);
  }
  if (typeof title !== 'string' || title.trim() === '') {
    throw new UserError('CARD_IMPORT_INVALID', `${where}: card ${id} needs a non-empty "title"`);
  }
  if (body !== undefined && body !== null && typeof body !== 'string') {
    throw new UserError('CARD_IMPORT_INVALID', `${where}: card ${id} has a "body" that is not a string`);
  }
  return { id, title: title.trim(), body: typeof body === 'string' ? body.trim() : '' };
}

function parseJson(fileName: string, text: string): CardInput[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UserError('CARD_IMPORT_INVALID', `${fileName}: not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(data)) throw new UserError('CARD_IMPORT_INVALID', `${fileName}: expected a JSON array of {id, title, body}`);
  return data.map((item, i) => {
    if (typeof item !== 'object' || item === null) {
      throw new UserError('CARD_IMPORT_INVALID', `${fileName}: item ${i + 1} is not an object`);
    }
    const o = item as Record<string, unknown>;
    return validate(`${fileName}: item ${i + 1}`, o.id, o.title, o.body);
  });
}

function parseMarkdown(fileName: string, text: string): CardInput[] {
  const lines = text.split(/\r?\n/);
  const cards: CardInput[] = [];
  let current: { id: string; title: string; line: number; body: string[] } | null = null;
  const finish = () => {
    if (current) cards.push(validate(`${fileName}:${current.line}`, current.id, current.title, current.body.join('\n')));
  };
  let inFence = false;
  lines.forEach((line, i) => {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    const heading = inFence ? null : /^##\s+(.+?)\s*$/.exec(line);
    if (heading) {
      finish();
      const m = /^(\S+?):\s*(.*)$/.exec(heading[1]!);
      if (!m) {
        throw new UserError('CARD_IMPORT_INVALID', `${fileName}:${i + 1}: a card heading must look like "## card-1: Title"`);
      }
      current = { id: m[1]!, title: m[2]!, line: i + 1, body: [] };
    } else if (current) {
      current.body.push(line);
    }
  });
  finish();
  return cards;
}
