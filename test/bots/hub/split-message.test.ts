import { describe, expect, it } from 'vitest';
import { splitMessage, splitMessageParts } from '../../../src/bots/hub/split-message.js';

function fences(s: string): number {
  return s.split('```').length - 1;
}

/** A small seeded PRNG so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

function randomText(rand: () => number): string {
  const pieces: string[] = [];
  const n = Math.floor(rand() * 120);
  let inFence = false;
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.08) {
      pieces.push(inFence ? '```\n' : ['```rust\n', '```\n', '```ts\n'][Math.floor(rand() * 3)]!);
      inFence = !inFence;
    } else if (r < 0.2) {
      pieces.push('\n');
    } else if (r < 0.25) {
      pieces.push('x'.repeat(Math.floor(rand() * 3000)) + '\n');
    } else if (r < 0.3) {
      pieces.push('inline ```code``` and 🎮 emoji ');
    } else {
      const words = Math.floor(rand() * 40);
      pieces.push(Array.from({ length: words }, () => 'word'.slice(0, 1 + Math.floor(rand() * 4))).join(' ') + (rand() < 0.7 ? '\n' : ''));
    }
  }
  if (inFence && rand() < 0.8) pieces.push('```\n');
  return pieces.join('');
}

describe('splitMessage', () => {
  it('returns short text unchanged as one part', () => {
    expect(splitMessage('hello\nworld', 1900)).toEqual(['hello\nworld']);
  });

  it('splits on a paragraph boundary when one is available', () => {
    const para = 'a'.repeat(700);
    const parts = splitMessage(`${para}\n\n${para}\n\n${para}`, 1900);
    expect(parts).toHaveLength(2);
    expect(parts[0]).toBe(`${para}\n\n${para}\n\n`);
    expect(parts[1]).toBe(para);
  });

  it('closes a code fence at the end of a part and reopens it with the same language', () => {
    const code = Array.from({ length: 200 }, (_, i) => `let x${i} = ${i};`).join('\n');
    const parts = splitMessage(`Here:\n\`\`\`rust\n${code}\n\`\`\`\ndone`, 1000);
    expect(parts.length).toBeGreaterThan(2);
    for (const p of parts) expect(fences(p) % 2).toBe(0);
    expect(parts[1]!.startsWith('```rust\n')).toBe(true);
    expect(parts[0]!.endsWith('```')).toBe(true);
  });

  it('cuts a line longer than a message without losing characters', () => {
    const long = 'y'.repeat(5000);
    const parts = splitMessageParts(long, 1900);
    expect(parts.map((p) => p.core).join('')).toBe(long);
    for (const p of parts) expect(p.body.length).toBeLessThanOrEqual(1900);
  });

  it('keeps every part within the limit, fences balanced, and nothing lost (random inputs)', () => {
    for (let seed = 1; seed <= 400; seed++) {
      const rand = rng(seed);
      const text = randomText(rand);
      const max = [200, 500, 1900, 3500][seed % 4]!;
      const parts = splitMessageParts(text, max);
      const context = `seed ${seed}, max ${max}`;
      expect(parts.map((p) => p.core).join(''), context).toBe(text);
      for (const p of parts) {
        expect(p.body, context).toBe(p.prefix + p.core + p.suffix);
        expect(p.body.length, context).toBeLessThanOrEqual(max);
        if (parts.length > 1 && fences(text) % 2 === 0) expect(fences(p.body) % 2, context).toBe(0);
        // Never split a surrogate pair.
        expect(/[\uD800-\uDBFF]$/.test(p.core), context).toBe(false);
      }
    }
  });
});
