/**
 * The relay writes a run's outbox rows and advances its render cursor in one transaction. When
 * the database refuses that transaction, the events it held are rendered again from the stored
 * cursor (at the next event, or by itself shortly after when they were the run's last): nothing
 * is lost, nothing is posted twice, the order holds. Real SQLite; the refusal is a trigger.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Delivery } from '../../../src/bots/hub/delivery.js';
import { Relay } from '../../../src/bots/hub/relay.js';
import { silentLogger } from '../../../src/logger.js';
import type { Store } from '../../../src/store/index.js';
import { useTempDirs } from '../../support/temp.js';
import { bindThread, EventFeed, insertRun, openStore, settled, started, tempStoreFile } from './chat-store-fixture.js';
import { RecordingPort, TEST_LIMITS } from './recording-port.js';

useTempDirs();

const open: { store: Store; delivery: Delivery; relay: Relay }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    o.relay.stop();
    await o.delivery.stop();
    o.store.close();
  }
});

function boot() {
  const store = openStore(tempStoreFile());
  const port = new RecordingPort();
  const feed = new EventFeed(store);
  const delivery = new Delivery({ store, portOf: (p) => (p === port.platform ? port : undefined), logger: silentLogger() });
  const relay = new Relay({
    store,
    source: feed,
    limitsOf: () => TEST_LIMITS,
    notifyChannelOf: () => null,
    logger: silentLogger(),
    onEnqueued: (k) => delivery.kick(k),
    retryMs: 20,
  });
  open.push({ store, delivery, relay });
  insertRun(store, 'run-1');
  bindThread(store, 'run-1');
  relay.start();
  delivery.start();
  return { store, port, feed, delivery, relay };
}

/** The next outbox write whose body contains `text` is refused (once), like a full or busy database. */
function refuseNextRowWith(store: Store, text: string): void {
  store.db.exec(`CREATE TEMP TRIGGER refuse_once BEFORE INSERT ON outbox WHEN NEW.body LIKE '%${text}%'
    BEGIN SELECT RAISE(ABORT, 'database or disk is full (test)'); END`);
}

function allowAgain(store: Store): void {
  store.db.exec('DROP TRIGGER IF EXISTS refuse_once');
}

const threadBodies = (port: RecordingPort) => port.posts('test:thread-run-1').map((c) => c.body);

describe('relay after a failed transaction', () => {
  it('renders the refused events again with the next event: each once, in order', async () => {
    const { store, port, feed, delivery } = boot();
    feed.append('run-1', started, { type: 'assistant_text', text: 'turn one' }, { type: 'turn_end', turn: 1 });
    const cursor = store.chatThreads.binding('run-1')!.renderedSeq;
    refuseNextRowWith(store, 'turn two');
    feed.append('run-1', { type: 'assistant_text', text: 'turn two' }, { type: 'turn_end', turn: 2 });
    // Nothing of the refused transaction stayed: the cursor did not move.
    expect(store.chatThreads.binding('run-1')!.renderedSeq).toBe(cursor);
    allowAgain(store);
    feed.append('run-1', { type: 'assistant_text', text: 'turn three' }, { type: 'turn_end', turn: 3 });
    await delivery.drain();
    // Digests queued together may be merged into one post: compare lines.
    const lines = threadBodies(port).join('\n').split('\n');
    expect(lines.filter((l) => l.startsWith('turn '))).toEqual(['turn one', 'turn two', 'turn three']);
    expect(store.chatThreads.binding('run-1')!.renderedSeq).toBe(store.events.lastSeq('run-1'));
  });

  it('renders a run’s refused last events again by itself when no event follows: the final result arrives once', async () => {
    const { store, port, feed, delivery } = boot();
    feed.append('run-1', started, { type: 'assistant_text', text: 'the only turn' }, { type: 'turn_end', turn: 1 });
    refuseNextRowWith(store, 'succeeded');
    feed.append('run-1', settled());
    expect(store.chatThreads.binding('run-1')!.renderedSeq).toBeLessThan(store.events.lastSeq('run-1'));
    allowAgain(store);
    const final = await new Promise<string>((resolve) => {
      port.onCall = (c) => {
        if (c.op === 'post' && c.body.includes('**Run run-1 succeeded**')) resolve(c.body);
      };
    });
    expect(final).toContain('Added the jump button.');
    await delivery.drain();
    expect(threadBodies(port).filter((b) => b.includes('**Run run-1 succeeded**'))).toHaveLength(1);
    expect(threadBodies(port).join('\n').split('\n').filter((l) => l === 'the only turn')).toHaveLength(1);
    expect(store.chatThreads.binding('run-1')!.renderedSeq).toBe(store.events.lastSeq('run-1'));
  });
});
