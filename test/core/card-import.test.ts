import { describe, expect, it } from 'vitest';
import { assertCardId } from '../../src/core/card-ids.js';
import { parseCardsFile } from '../../src/core/card-import.js';

describe('card ids', () => {
  it.each(['card-1', 'CARD_2', 'a', 'x'.repeat(64)])('accepts %s', (id) => {
    expect(assertCardId(id)).toBe(id);
  });
  it.each(['', '-lead', 'card 1', 'card/1', '../etc', 'x'.repeat(65), 'ümlaut', 'a.b', 'card-1\n'])('rejects %j with advice', (id) => {
    expect(() => assertCardId(id)).toThrow(/letters, digits, "-" and "_"/);
  });
});

describe('card import', () => {
  it('reads a JSON array of cards', () => {
    const cards = parseCardsFile('cards.json', JSON.stringify([{ id: 'card-1', title: 'Jump', body: 'Make it jump' }, { id: 'card-2', title: 'Run' }]));
    expect(cards).toEqual([
      { id: 'card-1', title: 'Jump', body: 'Make it jump' },
      { id: 'card-2', title: 'Run', body: '' },
    ]);
  });

  it('reads Markdown with one "## id: title" heading per card and keeps fenced headings in the body', () => {
    const md = ['# Backlog', '', '## card-1: Jump', 'Make the player jump.', '', '```md', '## not-a-card: inside a fence', '```', '## card-2: Run', 'Faster.'].join('\n');
    const cards = parseCardsFile('backlog.md', md);
    expect(cards.map((c) => c.id)).toEqual(['card-1', 'card-2']);
    expect(cards[0]!.body).toContain('## not-a-card: inside a fence');
    expect(cards[1]).toEqual({ id: 'card-2', title: 'Run', body: 'Faster.' });
  });

  it.each([
    ['bad.json', '[{"id":"card 1","title":"x"}]', /item 1: "card 1" is not a valid card id/],
    ['bad.json', '[{"id":"card-1"}]', /needs a non-empty "title"/],
    ['bad.json', '{"id":"card-1"}', /expected a JSON array/],
    ['bad.json', '[{"id":"card-1",', /not valid JSON/],
    ['dup.json', '[{"id":"c","title":"a"},{"id":"c","title":"b"}]', /appears twice/],
    ['bad.md', '## no colon here\nbody', /bad.md:1: a card heading must look like/],
    ['empty.md', 'just text', /no cards found/],
  ])('reports %s problems with their place: %s', (file, text, message) => {
    expect(() => parseCardsFile(file, text)).toThrow(message);
  });
});
