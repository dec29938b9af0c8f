import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');

function sources(dir: string): string[] {
  const abs = path.join(ROOT, dir);
  if (!fs.existsSync(abs)) return [];
  return fs.readdirSync(abs, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.(ts|mts|js|mjs)$/.test(f))
    .map((f) => path.join(dir, f));
}

/** Every module specifier a file imports or re-exports (static and dynamic). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const specs: string[] = [];
  const re = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;
  for (const m of text.matchAll(re)) specs.push((m[1] ?? m[2] ?? m[3])!);
  return specs;
}

const PLATFORM = /^(discord\.js|@discordjs\/|@slack\/)/;

function violations(dirs: string[], forbidden: (spec: string, file: string) => boolean): string[] {
  const out: string[] = [];
  for (const file of dirs.flatMap(sources)) {
    for (const spec of importsOf(file)) if (forbidden(spec, file)) out.push(`${file} imports ${spec}`);
  }
  return out;
}

describe('architecture boundaries', () => {
  it('finds the files it checks (the scan is not vacuous)', () => {
    expect(sources('src/core').length).toBeGreaterThan(3);
    expect(sources('src/store').length).toBeGreaterThan(3);
    expect(importsOf('src/store/index.ts')).toContain('./database.js');
  });

  it('keeps src/core and src/store free of platform SDKs and of the bots', () => {
    const bad = violations(['src/core', 'src/store'], (spec, file) => {
      if (PLATFORM.test(spec)) return true;
      if (!spec.startsWith('.')) return false;
      const target = path.resolve(path.dirname(path.join(ROOT, file)), spec);
      return target.startsWith(path.join(ROOT, 'src/bots'));
    });
    expect(bad).toEqual([]);
  });

  it('keeps the platform-neutral chat layer and the console free of platform SDKs', () => {
    expect(violations(['src/bots/chat', 'src/bots/console'], (spec) => PLATFORM.test(spec))).toEqual([]);
  });

  it('reads process.env only in src/config.ts', () => {
    const readers = [...sources('src')].filter(
      (f) => f !== path.join('src', 'config.ts') && /process\.env\b/.test(fs.readFileSync(path.join(ROOT, f), 'utf8').replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '')),
    );
    expect(readers).toEqual([]);
  });
});
