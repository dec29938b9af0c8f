import path from 'node:path';
import Database from 'better-sqlite3';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Delivery, outboxNonce } from '../../../src/bots/hub/delivery.js';
import { splitMessage } from '../../../src/bots/hub/split-message.js';
import { silentLogger } from '../../../src/logger.js';
import { openStore, type Store } from '../../../src/store/index.js';
import type { NewOutboxRow } from '../../../src/store/outbox-repo.js';
import { makeTempDir, useTempDirs } from '../../support/temp.js';
import { RecordingPort } from './recording-port.js';

useTempDirs();

const open: { store: Store; delivery: Delivery }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.delivery.stop();
    o.store.close();
  }
});

function setup(port = new RecordingPort(), opts: { file?: string; logger?: Logger } = {}) {
  const file = opts.file ?? path.join(makeTempDir(), 'chat.sqlite');
  const store = openStore(file);
  const delivery = new Delivery({
    store,
    portOf: (p) => (p === port.platform ? port : undefined),
    logger: opts.logger ?? silentLogger(),
    backoffBaseMs: 1,
    backoffMaxMs: 4,
    localRetryMs: 5,
  });
  open.push({ store, delivery });
  return { store, port, delivery, file };
}

const NOW = () => new Date().toISOString();

/** A lane whose thread already exists. */
function lane(store: Store, key: string, thread: string | null = `test:${key}`): void {
  store.chatThreads.insertThread({ threadKey: key, platform: 'test', channel: 'test:chan', thread, now: NOW() });
}

function post(store: Store, key: string, body: string, dedupeKey: string, extra: Partial<NewOutboxRow> = {}): number {
  return store.outbox.enqueue({ threadKey: key, runId: null, op: 'create', channel: 'test:chan', inThread: true, body, dedupeKey, ...extra }, NOW()).id;
}

/** Resolves once `ok()` holds, looking again on every turn of the event loop. */
function until(ok: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const look = () => (ok() ? resolve() : setImmediate(look));
    look();
  });
}

describe('delivery', () => {
  it('sends a lane in order and records the platform message ids', async () => {
    const { store, port, delivery } = setup();
    lane(store, 'A');
    const ids = [1, 2, 3, 4, 5].map((i) => post(store, 'A', `m${i}`, `k${i}`));
    delivery.start();
    await delivery.drain();
    expect(port.posts('test:A').map((c) => c.body)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    for (const [i, id] of ids.entries()) {
      const row = store.outbox.get(id)!;
      expect(row.status).toBe('sent');
      expect(row.platformMsg).toBe(port.posts()[i]!.ref);
      expect(port.posts()[i]!.nonce).toBe(outboxNonce('A', id));
      expect(outboxNonce('A', id).length).toBeLessThanOrEqual(25);
    }
  });

  it('after a 429 on one part of a split message sends the rest, in order, once; other threads are not stalled', async () => {
    const { store, port, delivery } = setup();
    lane(store, 'A');
    lane(store, 'B');
    const text = Array.from({ length: 60 }, (_, i) => `line ${i} ${'x'.repeat(80)}`).join('\n');
    const parts = splitMessage(text, 1900);
    expect(parts.length).toBeGreaterThanOrEqual(3);
    const partIds = parts.map((p, i) => post(store, 'A', p, `split#${i}`));
    for (let i = 0; i < 3; i++) post(store, 'B', `b${i}`, `b${i}`);
    // A Retry-After that cannot pass during the test: B can only finish if it does not wait for A.
    port.failNext((c) => c.body === parts[1], { kind: 'rate_limited', retryAfterMs: 600_000 });
    let bDone!: () => void;
    const bFinished = new Promise<void>((resolve) => (bDone = resolve));
    port.onCall = (c) => {
      if (c.body === 'b2') bDone();
    };
    delivery.start();
    await bFinished;
    expect(port.posts('test:B').map((c) => c.body)).toEqual(['b0', 'b1', 'b2']);
    expect(port.posts('test:A').map((c) => c.body)).toEqual([parts[0]]);
    // The Retry-After is over (as if): A goes on with the part that was refused, then the rest.
    await until(() => store.outbox.get(partIds[1]!)!.status === 'pending' && port.failed.length === 1);
    store.outbox.reschedule(partIds[1]!, 0, 'retry-after over', false, NOW());
    delivery.kick('A');
    await delivery.drain();
    expect(port.posts('test:A').map((c) => c.body)).toEqual(parts);
    expect(port.posts('test:A').map((c) => c.body).join('')).toBe(parts.join(''));
    expect(port.posts('test:B').map((c) => c.body)).toEqual(['b0', 'b1', 'b2']);
    expect(port.failed).toHaveLength(1);
  });

  it('retries transient errors with backoff and succeeds', async () => {
    const { store, port, delivery } = setup();
    lane(store, 'A');
    const id = post(store, 'A', 'hello', 'k');
    port.failNext((c) => c.body === 'hello', { kind: 'transient' }, 2);
    delivery.start();
    await delivery.drain();
    expect(port.posts().map((c) => c.body)).toEqual(['hello']);
    expect(store.outbox.get(id)).toMatchObject({ status: 'sent', attempts: 3 });
  });

  it('keeps retrying a transient error (an outage) past any attempt count; the thread then arrives whole, in order, with no failure note', async () => {
    const { store, port, delivery } = setup();
    lane(store, 'A');
    const id = post(store, 'A', 'during the outage', 'k');
    post(store, 'A', 'after', 'k2');
    port.failNext((c) => c.body === 'during the outage', { kind: 'transient' }, 25);
    delivery.start();
    await delivery.drain();
    expect(store.outbox.get(id)).toMatchObject({ status: 'sent', attempts: 26 });
    expect(port.posts().map((c) => c.body)).toEqual(['during the outage', 'after']);
  });

  it('records a post the platform took even when the database is busy at that moment: not failed, not posted twice', async () => {
    const seen: string[] = [];
    let onLog: (line: string) => void = () => undefined;
    const logger = pino({ level: 'info' }, { write: (line: string) => (seen.push(line), onLog(line)) });
    const { store, port, delivery, file } = setup(undefined, { logger });
    store.db.pragma('busy_timeout = 10');
    lane(store, 'A');
    const id = post(store, 'A', 'once', 'k');
    post(store, 'A', 'after', 'k2');
    const other = new Database(file);
    // Another writer holds the database while the platform answers the post.
    port.onCall = (c) => {
      if (c.body === 'once') other.exec('BEGIN IMMEDIATE');
    };
    onLog = (line) => {
      if (line.includes('could not record a delivery') && other.inTransaction) other.exec('COMMIT');
    };
    delivery.start();
    await delivery.drain();
    other.close();
    expect(seen.some((l) => l.includes('local error'))).toBe(true);
    expect(port.posts().map((c) => c.body)).toEqual(['once', 'after']);
    expect(store.outbox.get(id)).toMatchObject({ status: 'sent', attempts: 1, platformMsg: port.posts()[0]!.ref });
  });

  it('posts a status anew when the platform finds it too old to edit, and edits the new message from then on', async () => {
    const { store, port, delivery } = setup();
    lane(store, 'A');
    const status = post(store, 'A', 'status v0', 'status');
    const edit = (body: string) =>
      store.outbox.enqueue({ threadKey: 'A', runId: null, op: 'edit', channel: 'test:chan', inThread: true, targetId: status, body, dedupeKey: null, stream: `edit:${status}` }, NOW()).id;
    delivery.start();
    await delivery.drain();
    port.failNext((c) => c.op === 'edit', { kind: 'stale_edit' });
    delivery.kick(`edit:${edit('status v1')}`);
    delivery.kick(`edit:${status}`);
    await delivery.drain();
    edit('status v2');
    delivery.kick(`edit:${status}`);
    await delivery.drain();
    const [first, reposted] = port.posts();
    expect(port.calls.map((c) => `${c.op}:${c.body}`)).toEqual(['post:status v0', 'post:status v1', 'edit:status v2']);
    expect(port.calls[2]!.message).toBe(reposted!.ref);
    expect(store.outbox.get(status)!.platformMsg).toBe(reposted!.ref);
    expect(first!.ref).not.toBe(reposted!.ref);
    expect(port.posts().some((c) => c.body.includes('Delivery failed'))).toBe(false);
  });

  it('marks a permanent failure dead at once', async () => {
    const { store, port, delivery } = setup();
    lane(store, 'A');
    const id = post(store, 'A', 'bad', 'k');
    port.failNext(() => true, { kind: 'permanent', reason: 'Missing Access' });
    delivery.start();
    await delivery.drain();
    expect(store.outbox.get(id)).toMatchObject({ status: 'dead', attempts: 1, error: 'Missing Access' });
    expect(port.posts().map((c) => c.body)).toEqual([expect.stringContaining('Missing Access')]);
  });

  it('sends only the newest of several pending edits of one message', async () => {
    const { store, port, delivery } = setup();
    lane(store, 'A');
    const status = post(store, 'A', 'status v0', 'status');
    for (let i = 1; i <= 5; i++) {
      store.outbox.enqueue({ threadKey: 'A', runId: null, op: 'edit', channel: 'test:chan', inThread: true, targetId: status, body: `status v${i}`, dedupeKey: null }, NOW());
    }
    delivery.start();
    await delivery.drain();
    expect(port.calls.map((c) => `${c.op}:${c.body}`)).toEqual(['post:status v0', 'edit:status v5']);
    expect(port.calls[1]!.message).toBe(port.calls[0]!.ref);
    expect(store.outbox.listThread('A').filter((r) => r.status === 'superseded')).toHaveLength(4);
  });

  it('holds an edit until its target create was sent, even across a rate limit', async () => {
    const { store, port, delivery } = setup();
    lane(store, 'A');
    const status = post(store, 'A', 'status v0', 'status');
    store.outbox.enqueue({ threadKey: 'A', runId: null, op: 'edit', channel: 'test:chan', inThread: true, targetId: status, body: 'status v1', dedupeKey: null }, NOW());
    port.failNext((c) => c.op === 'post', { kind: 'rate_limited', retryAfterMs: 30 });
    delivery.start();
    await delivery.drain();
    expect(port.calls.map((c) => `${c.op}:${c.body}`)).toEqual(['post:status v0', 'edit:status v1']);
  });

  it('opens a thread from the header, then posts into it; a failed thread fails its posts and says so in the channel', async () => {
    const { store, port, delivery } = setup();
    lane(store, 'A', null);
    const header = store.outbox.enqueue({ threadKey: 'A', runId: null, op: 'create', channel: 'test:chan', inThread: false, body: 'header', dedupeKey: 'h' }, NOW()).id;
    store.outbox.enqueue({ threadKey: 'A', runId: null, op: 'thread', channel: 'test:chan', inThread: false, targetId: header, body: 'card-1 run', dedupeKey: 't' }, NOW());
    post(store, 'A', 'inside', 'p');
    delivery.start();
    await delivery.drain();
    const thread = port.calls.find((c) => c.op === 'createThread')!;
    expect(thread.message).toBe(port.calls[0]!.ref);
    expect(store.chatThreads.getThread('A')!.thread).toBe(thread.ref);
    expect(port.posts(thread.ref).map((c) => c.body)).toEqual(['inside']);

    lane(store, 'B', null);
    const h2 = store.outbox.enqueue({ threadKey: 'B', runId: null, op: 'create', channel: 'test:chan', inThread: false, body: 'header B', dedupeKey: 'hB' }, NOW()).id;
    store.outbox.enqueue({ threadKey: 'B', runId: null, op: 'thread', channel: 'test:chan', inThread: false, targetId: h2, body: 'B', dedupeKey: 'tB' }, NOW());
    const inside = post(store, 'B', 'inside B', 'pB');
    port.failNext((c) => c.op === 'createThread', { kind: 'permanent', reason: 'Maximum number of active threads reached' });
    delivery.kick('B');
    await delivery.drain();
    expect(store.outbox.get(inside)!.status).toBe('dead');
    const note = port.posts().at(-1)!;
    expect(note.thread).toBeNull();
    expect(note.body).toContain('thread for this run could not be opened');
  });

  it('resends a create left in flight by a crash with the same nonce, so it is not posted twice', async () => {
    const first = setup();
    lane(first.store, 'A');
    const id = post(first.store, 'A', 'once', 'k');
    // Send it, then pretend the process died before recording "sent".
    first.delivery.start();
    await first.delivery.drain();
    first.store.db.prepare("UPDATE outbox SET status = 'inflight' WHERE id = ?").run(id);
    await first.delivery.stop();
    first.store.close();
    open.length = 0;

    const second = setup(first.port, { file: first.file });
    second.delivery.start();
    await second.delivery.drain();
    expect(first.port.posts().map((c) => c.body)).toEqual(['once']);
    expect(second.store.outbox.get(id)!.status).toBe('sent');
  });

  it('appends the thread link to notification rows', async () => {
    const { store, port, delivery } = setup();
    lane(store, 'A');
    store.outbox.enqueue({ threadKey: 'A', runId: null, op: 'create', channel: 'test:team', inThread: false, linkThread: true, body: '▶️ started', dedupeKey: 'n' }, NOW());
    delivery.start();
    await delivery.drain();
    expect(port.posts()[0]).toMatchObject({ channel: 'test:team', thread: null, body: '▶️ started · https://chat.test/test:chan/test:A' });
  });
});
