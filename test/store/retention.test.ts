/**
 * DATA_RETENTION on a real SQLite file: events and delivered outbox rows of runs settled before
 * the cut-off go, in batches; the run rows and what later work still needs stay.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunEventData } from '../../src/core/types.js';
import { openStore, type Store } from '../../src/store/index.js';

let store: Store | null = null;
let dir = '';
afterEach(() => {
  store?.close();
  store = null;
  fs.rmSync(dir, { recursive: true, force: true });
});

const OLD = '2026-01-01T00:00:00.000Z';
const RECENT = '2026-11-20T00:00:00.000Z';
const CUTOFF = '2026-06-01T00:00:00.000Z';

function setup(): Store {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatops-retention-'));
  store = openStore(path.join(dir, 'bot.sqlite'));
  store.cards.insert({ id: 'card-1', title: 'Jump', body: '' }, OLD);
  return store;
}

function run(s: Store, id: string, finishedAt: string | null): void {
  s.runs.insert({
    id, cardId: 'card-1', useWorktree: false, ownsWorktree: false, branch: `b-${id}`, worktreePath: null, baseSha: null, sessionFile: null,
    prompt: 'p', tokenHash: `h-${id}`, startedBy: 'cli', parentRunId: null, ownerPid: 1, now: OLD,
  });
  if (finishedAt) {
    s.runs.finish(id, { status: 'succeeded', summary: 'did it', commitSha: 'abc123', error: null, tokensInput: 1, tokensOutput: 2, tokensTotal: 3, costUsd: 0.5, now: finishedAt });
  }
  const events: { data: RunEventData; createdAt: string }[] = Array.from({ length: 9 }, (_, i) => ({ data: { type: 'turn_end', turn: i + 1 }, createdAt: OLD }));
  events.push({ data: { type: 'warning', message: 'last' }, createdAt: OLD });
  s.events.append(id, events);
}

/** A thread for the run with its header, status (plus edits of it), digest posts and the final result, all sent. */
function thread(s: Store, id: string): { header: number; status: number; final: number } {
  const key = `discord:${id}`;
  s.chatThreads.insertThread({ threadKey: key, platform: 'discord', channel: 'c1', thread: `t-${id}`, now: OLD });
  s.chatThreads.bindRun(id, key, OLD);
  const row = (op: 'create' | 'edit' | 'thread' | 'react', dedupeKey: string | null, targetId: number | null = null) =>
    s.outbox.enqueue({ threadKey: key, runId: id, op, channel: 'c1', inThread: true, targetId, body: 'x', dedupeKey }, OLD).id;
  const header = row('create', `header:${id}`);
  s.chatThreads.setHeader(key, header);
  row('thread', `thread:${id}`, header);
  row('react', `react:${header}:🛑`, header);
  const status = row('create', `status:${id}`);
  s.chatThreads.setStatusMessage(id, status);
  for (let i = 0; i < 5; i++) row('edit', null, status);
  for (let i = 0; i < 5; i++) row('create', `post:${id}:${i}#1`);
  const final = row('create', `final:${id}#1`);
  for (const r of s.outbox.listThread(key)) s.outbox.markSent(r.id, `m-${r.id}`, OLD);
  row('create', `post:${id}:pending#1`); // not delivered yet: never pruned
  return { header, status, final };
}

function drain(step: () => number): number {
  let total = 0;
  for (let n = step(); n > 0; n = step()) total += n;
  return total;
}

describe('data retention', () => {
  it('prunes events and delivered messages of runs settled before the cut-off, in batches, and keeps what is still needed', () => {
    const s = setup();
    run(s, 'old', OLD);
    run(s, 'recent', RECENT);
    run(s, 'running', null);
    const oldThread = thread(s, 'old');
    thread(s, 'recent');

    expect(s.retention.pruneEvents(CUTOFF, 4)).toBe(4);
    expect(drain(() => s.retention.pruneEvents(CUTOFF, 4))).toBe(5);
    // The old run keeps its row and its last event (its seq keeps later numbering and cursors right).
    expect(s.events.list('old').map((e) => e.seq)).toEqual([10]);
    expect(s.events.lastSeq('old')).toBe(10);
    expect(s.runs.get('old')).toMatchObject({ status: 'succeeded', summary: 'did it', branch: 'b-old', commitSha: 'abc123', costUsd: 0.5 });
    expect(s.events.list('recent')).toHaveLength(10);
    expect(s.events.list('running')).toHaveLength(10);

    const deleted = drain(() => s.retention.pruneOutbox(CUTOFF, 3));
    expect(deleted).toBe(11); // the reaction, 5 status edits, 5 digest posts
    // Left: the header, the thread, the status message, the final result, and the undelivered post.
    const left = s.outbox.listThread('discord:old');
    expect(left).toHaveLength(5);
    expect(left.map((r) => r.id)).toEqual(expect.arrayContaining([oldThread.header, oldThread.status, oldThread.final]));
    expect(left.filter((r) => r.op === 'thread')).toHaveLength(1);
    expect(left.filter((r) => r.status === 'pending')).toHaveLength(1);
    expect(s.outbox.findByPlatformMsg(`m-${oldThread.final}`)).toEqual({ threadKey: 'discord:old', runId: 'old' });
    expect(s.outbox.listThread('discord:recent')).toHaveLength(16);
    s.retention.vacuum();
  });
});
