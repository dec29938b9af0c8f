import { describe, expect, it } from 'vitest';
import { Redactor, REDACTED } from '../../src/core/redact.js';

const KEY = 'sk-test-0123456789abcdef';

describe('Redactor', () => {
  it('replaces every occurrence of every value, longest first, and leaves other text alone', () => {
    const r = new Redactor([KEY, 'sk-test-0123', 'hunter22hunter']);
    expect(r.redact(`a ${KEY} b sk-test-0123 c hunter22hunter ${KEY}`)).toBe(`a ${REDACTED} b ${REDACTED} c ${REDACTED} ${REDACTED}`);
    expect(r.redact('nothing secret here')).toBe('nothing secret here');
    expect(Redactor.none().redact(KEY)).toBe(KEY);
  });

  it('finds a value in its JSON-escaped form (inside a serialized log line)', () => {
    const quoted = 'pa"ss\\word-12345';
    const r = new Redactor([quoted]);
    const line = JSON.stringify({ msg: `value ${quoted}` });
    expect(line).not.toContain(quoted);
    expect(r.redact(line)).toBe(JSON.stringify({ msg: `value ${REDACTED}` }));
  });

  it('redacts every string inside an event, without changing the original', () => {
    const r = new Redactor([KEY]);
    const event = { type: 'tool_end', summary: `bash: echo ${KEY}`, nested: [{ text: KEY }], n: 3, flag: true, none: null };
    expect(r.redactDeep(event)).toEqual({ type: 'tool_end', summary: `bash: echo ${REDACTED}`, nested: [{ text: REDACTED }], n: 3, flag: true, none: null });
    expect(event.summary).toContain(KEY);
  });
});

describe('StreamRedactor', () => {
  it('redacts a value split across two chunks at every possible point', () => {
    const r = new Redactor([KEY, 'other-secret-value']);
    const text = `before ${KEY} middle other-secret-value after`;
    for (let i = 0; i <= text.length; i += 1) {
      const s = r.stream();
      const out = s.push(text.slice(0, i)) + s.push(text.slice(i)) + s.end();
      expect(out).toBe(`before ${REDACTED} middle ${REDACTED} after`);
    }
  });

  it('redacts a value dribbled one character at a time, and holds back less than the longest value', () => {
    const r = new Redactor([KEY]);
    const s = r.stream();
    let out = '';
    for (const ch of `x${KEY}y${KEY}`) {
      out += s.push(ch);
      expect(out).not.toContain(KEY.slice(0, 6));
    }
    out += s.end();
    expect(out).toBe(`x${REDACTED}y${REDACTED}`);
    const plain = r.stream();
    expect(plain.push('a'.repeat(100)).length).toBe(100 - (KEY.length - 1));
  });

  it('passes a finished line on at once: a short line followed by silence is not held back', () => {
    const r = new Redactor([KEY]);
    const s = r.stream();
    expect(s.push('building\n')).toBe('building\n');
    expect(s.push(`key ${KEY.slice(0, 5)}`)).toBe('');
    expect(s.push(`${KEY.slice(5)} done\r\nnext`)).toBe(`key ${REDACTED} done\r\n`);
    expect(s.end()).toBe('next');
    // A value that spans lines keeps the old rule: a line break may be inside it.
    const pem = new Redactor(['-----BEGIN KEY-----\nabcdefgh\n-----END KEY-----']).stream();
    expect(pem.push('short\n')).toBe('');
  });
});
