import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { openStore, type Store } from '../../src/store/index.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { makeTempDir, useTempDirs } from '../support/temp.js';

useTempDirs();
const stores: Store[] = [];
const tempDb = (): string => path.join(makeTempDir('chatops-catch-up-'), 'bot.sqlite');
function open(file = tempDb()): Store {
  const s = openStore(file);
  stores.push(s);
  return s;
}
afterEach(() => {
  for (const s of stores.splice(0)) if (s.db.open) s.close();
});

const NOW = '2026-11-30T10:00:00.000Z';
const DAY_AGO = '2026-11-29T10:00:00.000Z';

/** A run bound to its own delivered thread (`thread:<id>`, header `header:<id>`). */
function threadedRun(store: Store, id: string, status: 'running' | 'succeeded', finishedAt: string | null = null): void {
  store.runs.insert({
    id, cardId: 'card-1', useWorktree: false, ownsWorktree: false, branch: null, worktreePath: null, baseSha: null, sessionFile: null,
    prompt: 'p', tokenHash: `h-${id}`, startedBy: 'cli', parentRunId: null, ownerPid: 1, now: NOW,
  });
  if (status !== 'running') {
    store.runs.finish(id, { status, summary: null, commitSha: null, error: null, tokensInput: 0, tokensOutput: 0, tokensTotal: 0, costUsd: 0, now: finishedAt ?? NOW });
  }
  store.chatThreads.insertThread({ threadKey: id, platform: 'discord', channel: 'discord:1', now: NOW });
  const header = store.outbox.enqueue({ threadKey: id, runId: id, op: 'create', channel: 'discord:1', inThread: false, body: 'h', dedupeKey: `header:${id}` }, NOW).id;
  store.chatThreads.setHeader(id, header);
  store.outbox.markSent(header, `header:${id}`, NOW);
  store.chatThreads.bindRun(id, id, NOW);
  store.db.prepare('UPDATE run_threads SET thread = ? WHERE thread_key = ?').run(`thread:${id}`, id);
}

describe('catch-up store', () => {
  it('counts a reaction only when it changes what is known: an add of one already there is a duplicate; each change gets a new generation', () => {
    const store = open();
    const r = { message: 'discord:1:2', userId: 'discord:9', emoji: '🎮' };
    const first = store.catchUp.setReaction({ ...r, added: true }, NOW);
    expect(first).not.toBeNull();
    expect(store.catchUp.setReaction({ ...r, added: true }, NOW)).toBeNull();
    const removed = store.catchUp.setReaction({ ...r, added: false }, NOW);
    expect(store.catchUp.setReaction({ ...r, added: false }, NOW)).toBeNull();
    const again = store.catchUp.setReaction({ ...r, added: true }, NOW);
    expect(new Set([first, removed, again]).size).toBe(3);
    expect(store.catchUp.presentReactions('discord:1:2').map((p) => p.emoji)).toEqual(['🎮']);
    // A removal of a reaction never seen changes nothing.
    expect(store.catchUp.setReaction({ ...r, emoji: '🛑', added: false }, NOW)).toBeNull();
  });

  it('reads back threads of runs running or settled within the window, with the header and the last message seen', () => {
    const store = open();
    store.cards.insert({ id: 'card-1', title: 'Jump', body: '' }, NOW);
    threadedRun(store, 'live', 'running');
    threadedRun(store, 'recent', 'succeeded', NOW);
    threadedRun(store, 'old', 'succeeded', '2026-11-28T10:00:00.000Z');
    store.catchUp.markSeen('recent', 'discord:5:6', NOW);
    const threads = store.catchUp.threadsToCatchUp(DAY_AGO);
    expect(threads.map((t) => t.threadKey)).toEqual(['live', 'recent']);
    expect(threads[1]).toMatchObject({ thread: 'thread:recent', header: 'header:recent', lastMessage: 'discord:5:6', baseline: false });
  });

  it('migration 7 marks the threads that already exist as a baseline (their first read is taken as seen); later threads are read in full', () => {
    const file = tempDb();
    const before = openDatabase(file, MIGRATIONS.filter((m) => m.version < 7));
    before.prepare("INSERT INTO run_threads (thread_key, platform, channel, thread, created_at) VALUES ('old', 'discord', 'discord:1', 'discord:2', ?)").run(NOW);
    before.close();
    const store = open(file);
    store.cards.insert({ id: 'card-1', title: 'Jump', body: '' }, NOW);
    store.runs.insert({
      id: 'old', cardId: 'card-1', useWorktree: false, ownsWorktree: false, branch: null, worktreePath: null, baseSha: null, sessionFile: null,
      prompt: 'p', tokenHash: 'h', startedBy: 'cli', parentRunId: null, ownerPid: 1, now: NOW,
    });
    store.chatThreads.bindRun('old', 'old', NOW);
    threadedRun(store, 'new', 'running');
    const byKey = new Map(store.catchUp.threadsToCatchUp(DAY_AGO).map((t) => [t.threadKey, t]));
    expect(byKey.get('old')).toMatchObject({ baseline: true, lastMessage: null });
    expect(byKey.get('new')).toMatchObject({ baseline: false, lastMessage: null });
    store.catchUp.endBaseline('old', NOW);
    expect(store.catchUp.threadsToCatchUp(DAY_AGO).find((t) => t.threadKey === 'old')?.baseline).toBe(false);
  });

  it('finds a question by the delivered message that asks it, lists the unanswered ones, and takes its answer once', () => {
    const store = open();
    store.cards.insert({ id: 'card-1', title: 'Jump', body: '' }, NOW);
    threadedRun(store, 'r', 'succeeded');
    const note = store.outbox.enqueue({ threadKey: 'r', runId: 'r', op: 'create', channel: 'discord:1', inThread: true, body: 'confirm?', dedupeKey: 'note:q1' }, NOW).id;
    store.catchUp.addQuestion({ noteKey: 'note:q1', threadKey: 'r', replyMessage: 'discord:2:3', userId: 'discord:9', feedback: 'add a test' }, NOW);
    expect(store.catchUp.questionAt('discord:2:4')).toBeUndefined();
    store.outbox.markSent(note, 'discord:2:4', NOW);
    expect(store.catchUp.questionAt('discord:2:4')).toMatchObject({ feedback: 'add a test', answeredAt: null });
    expect(store.catchUp.openQuestions('r')).toEqual(['discord:2:4']);
    expect(store.catchUp.answer('note:q1', NOW)).toBe(true);
    expect(store.catchUp.openQuestions('r')).toEqual([]);
    expect(store.catchUp.answer('note:q1', NOW)).toBe(false);
    expect(store.catchUp.questionAt('discord:2:4')?.answeredAt).toBe(NOW);
  });
});
