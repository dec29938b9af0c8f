import { describe, expect, it } from 'vitest';
import { encodeRecord, LineSplitter, parseJsonLine } from '../../src/core/agent/rpc-lines.js';

describe('LineSplitter', () => {
  it('splits on LF only and strips one trailing CR', () => {
    const s = new LineSplitter();
    expect(s.push('a\r\nb\nc\r\r\n')).toEqual(['a', 'b', 'c\r']);
    expect(s.end()).toEqual([]);
  });

  it('never splits on U+2028 / U+2029 inside a record', () => {
    const record = { type: 'message_end', text: 'one\u2028two\u2029three' };
    const s = new LineSplitter();
    const lines = s.push(Buffer.from(encodeRecord(record) + encodeRecord({ type: 'x' })));
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0]!)).toEqual(record);
  });

  it('keeps a multi-byte character whole across chunk boundaries', () => {
    const bytes = Buffer.from('{"t":"€ and 😀"}\n', 'utf8');
    const euro = bytes.indexOf(0xe2);
    const emoji = bytes.indexOf(0xf0);
    const s = new LineSplitter();
    const out = [
      ...s.push(bytes.subarray(0, euro + 1)),
      ...s.push(bytes.subarray(euro + 1, emoji + 2)),
      ...s.push(bytes.subarray(emoji + 2, emoji + 3)),
      ...s.push(bytes.subarray(emoji + 3)),
    ];
    expect(out).toEqual(['{"t":"€ and 😀"}']);
  });

  it('joins a line split over many chunks and flushes an unterminated last line at EOF', () => {
    const s = new LineSplitter();
    expect(s.push('{"a"')).toEqual([]);
    expect(s.push(':1}\n{"b":')).toEqual(['{"a":1}']);
    expect(s.pending).toBeGreaterThan(0);
    expect(s.push('2}')).toEqual([]);
    expect(s.end()).toEqual(['{"b":2}']);
    expect(s.end()).toEqual([]);
  });

  it('flushes a final line that ends with CR', () => {
    const s = new LineSplitter();
    s.push('x');
    expect(s.end()).toEqual(['x']);
    const t = new LineSplitter();
    t.push('y\r');
    expect(t.end()).toEqual(['y']);
  });
});

describe('LineSplitter bounds', () => {
  it('drops a line over maxLineBytes as it arrives, reports it once, and goes on with the next line', () => {
    const overflows: number[] = [];
    const s = new LineSplitter({ maxLineBytes: 1024, onOverflow: (n) => overflows.push(n) });
    const piece = Buffer.alloc(300, 'x');
    let maxPending = 0;
    for (let i = 0; i < 100; i++) {
      expect(s.push(piece)).toEqual([]);
      maxPending = Math.max(maxPending, s.pending);
    }
    expect(maxPending).toBeLessThanOrEqual(1024);
    expect(s.pending).toBe(0);
    expect(overflows).toEqual([1200]);
    expect(s.push('xxx\n{"type":"agent_end"}\n')).toEqual(['{"type":"agent_end"}']);
    expect(overflows).toHaveLength(1);
  });

  it('keeps a line of exactly maxLineBytes', () => {
    const s = new LineSplitter({ maxLineBytes: 8, onOverflow: () => expect.fail('no overflow') });
    expect(s.push('12345678\n')).toEqual(['12345678']);
  });

  it('discards lines that start with a skip prefix without keeping them, even past the line limit', () => {
    const skipped: string[] = [];
    const s = new LineSplitter({
      maxLineBytes: 64,
      onOverflow: () => expect.fail('a skipped line never overflows'),
      skipPrefixes: ['{"type":"message_update"'],
      onSkip: (p) => skipped.push(p),
    });
    expect(s.push('{"type":"mess')).toEqual([]);
    expect(s.push(`age_update","message":{"content":"${'y'.repeat(500)}`)).toEqual([]);
    expect(s.pending).toBe(0);
    expect(s.push(`${'y'.repeat(500)}"}}\n{"type":"message_end"}\n`)).toEqual(['{"type":"message_end"}']);
    expect(skipped).toEqual(['{"type":"message_update"']);
  });
});

describe('parseJsonLine', () => {
  it('parses objects, tolerating whitespace and a BOM', () => {
    expect(parseJsonLine('  {"type":"agent_start"}  ')).toEqual({ kind: 'record', record: { type: 'agent_start' } });
    expect(parseJsonLine('\uFEFF{"a":1}')).toEqual({ kind: 'record', record: { a: 1 } });
  });

  it('classifies blank lines and garbage without throwing', () => {
    expect(parseJsonLine('')).toEqual({ kind: 'empty' });
    expect(parseJsonLine('   ')).toEqual({ kind: 'empty' });
    expect(parseJsonLine('Loading…').kind).toBe('garbage');
    expect(parseJsonLine('[1,2]').kind).toBe('garbage');
    expect(parseJsonLine('{"type": "trunc').kind).toBe('garbage');
    expect(parseJsonLine('42').kind).toBe('garbage');
  });
});
