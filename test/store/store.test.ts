import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import { openDatabase } from '../../src/store/database.js';
import { MIGRATIONS } from '../../src/store/migrations.js';

const dirs: string[] = [];
const stores: Store[] = [];
function tempDb(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatops-store-'));
  dirs.push(dir);
  return path.join(dir, 'nested', 'bot.sqlite');
}
function open(file: string): Store {
  const s = openStore(file);
  stores.push(s);
  return s;
}
afterEach(() => {
  for (const s of stores.splice(0)) if (s.db.open) s.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const NOW = '2026-11-25T10:00:00.000Z';

function newRun(store: Store, id: string, over: Partial<Parameters<Store['runs']['insert']>[0]> = {}) {
  store.runs.insert({
    id,
    cardId: 'card-1',
    useWorktree: true,
    ownsWorktree: true,
    branch: `chatops/card-1-${id}`,
    worktreePath: `/tmp/wt-${id}`,
    baseSha: null,
    sessionFile: `/tmp/${id}.jsonl`,
    prompt: 'do it',
    tokenHash: `hash-${id}`,
    startedBy: 'cli',
    parentRunId: null,
    ownerPid: 999_999,
    now: NOW,
    ...over,
  });
}

describe('store', () => {
  it('creates the file with WAL, foreign keys and every migration applied', () => {
    const file = tempDb();
    const store = open(file);
    expect(fs.existsSync(file)).toBe(true);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    const latest = Math.max(...MIGRATIONS.map((m) => m.version));
    expect(store.db.pragma('user_version', { simple: true })).toBe(latest);
  });

  it('reopening an existing database keeps its data and does not re-run migrations', () => {
    const file = tempDb();
    const first = open(file);
    first.cards.insert({ id: 'card-1', title: 'Jump', body: '' }, NOW);
    first.close();
    const second = open(file);
    expect(second.cards.get('card-1')?.title).toBe('Jump');
  });

  it('refuses a database written by a newer version of the bot', () => {
    const file = tempDb();
    open(file).close();
    const db = openDatabase(file);
    db.pragma('user_version = 999');
    db.close();
    expect(() => openStore(file)).toThrow(/newer than this bot knows/);
  });

  it('rejects a run for a card that does not exist (foreign key)', () => {
    const store = open(tempDb());
    expect(() => newRun(store, 'r1')).toThrow(/FOREIGN KEY/);
  });

  it('numbers run events per run and lists them after a sequence number', () => {
    const store = open(tempDb());
    store.cards.insert({ id: 'card-1', title: 'Jump', body: '' }, NOW);
    newRun(store, 'r1');
    newRun(store, 'r2');
    store.events.append('r1', [
      { data: { type: 'assistant_text', text: 'a' }, createdAt: NOW },
      { data: { type: 'turn_end', turn: 1 }, createdAt: NOW },
    ]);
    store.events.append('r2', [{ data: { type: 'assistant_text', text: 'other' }, createdAt: NOW }]);
    store.events.append('r1', [{ data: { type: 'assistant_text', text: 'b' }, createdAt: NOW }]);
    expect(store.events.list('r1').map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(store.events.list('r1', 2).map((e) => e.data)).toEqual([{ type: 'assistant_text', text: 'b' }]);
    expect(store.events.list('r2').map((e) => e.seq)).toEqual([1]);
    expect(store.events.lastSeq('r1')).toBe(3);
  });

  it('deleting a run deletes its events and detaches its refinements', () => {
    const store = open(tempDb());
    store.cards.insert({ id: 'card-1', title: 'Jump', body: '' }, NOW);
    newRun(store, 'r1');
    newRun(store, 'r2', { parentRunId: 'r1', ownsWorktree: false, worktreePath: '/tmp/wt-r1' });
    store.events.append('r1', [{ data: { type: 'turn_end', turn: 1 }, createdAt: NOW }]);
    store.runs.delete('r1');
    expect(store.events.list('r1')).toEqual([]);
    expect(store.runs.get('r2')?.parentRunId).toBeNull();
  });

  it('marks running rows of dead owners as interrupted and leaves live owners alone', () => {
    const store = open(tempDb());
    store.cards.insert({ id: 'card-1', title: 'Jump', body: '' }, NOW);
    newRun(store, 'dead', { ownerPid: 111 });
    newRun(store, 'alive', { ownerPid: 222 });
    const ids = store.runs.interruptOrphans(NOW, 'bot stopped', (pid) => pid === 222);
    expect(ids).toEqual(['dead']);
    expect(store.runs.get('dead')).toMatchObject({ status: 'interrupted', error: 'bot stopped', finishedAt: NOW });
    expect(store.runs.get('alive')?.status).toBe('running');
  });

  it('finds cards by id or title for autocomplete, treating % and _ literally', () => {
    const store = open(tempDb());
    store.cards.insert({ id: 'card-1', title: 'Add a jump button', body: '' }, NOW);
    store.cards.insert({ id: 'card-2', title: '100% faster load', body: '' }, NOW);
    expect(store.cards.search('JUMP').map((c) => c.id)).toEqual(['card-1']);
    expect(store.cards.search('%').map((c) => c.id)).toEqual(['card-2']);
    expect(store.cards.search('card').length).toBe(2);
  });

  it('records an inbound event key once and prunes keys older than the retention point', () => {
    const store = open(tempDb());
    expect(store.inbound.record('slack:Ev1', '2026-11-01T00:00:00.000Z')).toBe(true);
    expect(store.inbound.record('slack:Ev1', '2026-11-01T00:00:01.000Z')).toBe(false);
    expect(store.inbound.record('slack:Ev2', '2026-11-20T00:00:00.000Z')).toBe(true);
    expect(store.inbound.prune('2026-11-18T00:00:00.000Z')).toBe(1);
    expect(store.inbound.record('slack:Ev1', NOW)).toBe(true);
    expect(store.inbound.record('slack:Ev2', NOW)).toBe(false);
  });
});
