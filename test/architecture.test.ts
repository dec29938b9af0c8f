import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');

function sources(dir: string): string[] {
  const abs = path.join(ROOT, dir);
  // A folder that moved must not turn a boundary check into one that passes on nothing.
  if (!fs.existsSync(abs)) throw new Error(`architecture test: ${dir} does not exist; update the test`);
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

  it('keeps the platform-neutral hub and the console free of platform SDKs and of the platform adapters', () => {
    const bad = violations(['src/bots/hub', 'src/bots/console'], (spec, file) => {
      if (PLATFORM.test(spec)) return true;
      if (!spec.startsWith('.')) return false;
      const target = path.resolve(path.dirname(path.join(ROOT, file)), spec);
      return ['discord', 'slack'].some((p) => target.startsWith(path.join(ROOT, 'src/bots', p)));
    });
    expect(bad).toEqual([]);
  });

  it('never lets one platform adapter import another', () => {
    const adapters = ['discord', 'slack', 'console'];
    for (const own of adapters) {
      const bad = violations([`src/bots/${own}`], (spec, file) => {
        if (!spec.startsWith('.')) return false;
        const target = path.resolve(path.dirname(path.join(ROOT, file)), spec);
        return adapters.some((other) => other !== own && target.startsWith(path.join(ROOT, 'src/bots', other)));
      });
      expect(bad).toEqual([]);
    }
  });

  it('keeps SQL in src/store: no other module prepares or executes statements', () => {
    const sql = /\.(prepare|pragma)\(|\bdb\.exec\(|from ['"]better-sqlite3['"]/;
    const outside = sources('src').filter((f) => !f.startsWith(path.join('src', 'store')) && sql.test(fs.readFileSync(path.join(ROOT, f), 'utf8')));
    expect(outside).toEqual([]);
  });

  it('reads process.env only in src/config.ts', () => {
    const readers = [...sources('src')].filter(
      (f) => f !== path.join('src', 'config.ts') && /process\.env\b/.test(fs.readFileSync(path.join(ROOT, f), 'utf8').replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '')),
    );
    expect(readers).toEqual([]);
  });
});
