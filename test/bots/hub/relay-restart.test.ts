import { describe, expect, it } from 'vitest';
import { Delivery } from '../../../src/bots/hub/delivery.js';
import { Relay } from '../../../src/bots/hub/relay.js';
import { silentLogger } from '../../../src/logger.js';
import type { Store } from '../../../src/store/index.js';
import { useTempDirs } from '../../support/temp.js';
import { bindThread, EventFeed, insertRun, openStore, settled, started, tempStoreFile } from './chat-store-fixture.js';
import { RecordingPort, TEST_LIMITS } from './recording-port.js';

useTempDirs();

function boot(file: string, port: RecordingPort) {
  const store = openStore(file);
  const feed = new EventFeed(store);
  const delivery = new Delivery({ store, portOf: (p) => (p === port.platform ? port : undefined), logger: silentLogger() });
  const relay = new Relay({
    store,
    source: feed,
    limitsOf: () => TEST_LIMITS,
    notifyChannelOf: () => 'test:team',
    logger: silentLogger(),
    onEnqueued: (k) => delivery.kick(k),
  });
  return { store, feed, delivery, relay };
}

/** Simulates a crash: no flush on the way out, the database just closes. */
async function crash(b: { store: Store; delivery: Delivery }): Promise<void> {
  await b.delivery.stop();
  b.store.close();
}

describe('relay across a restart', () => {
  it('resumes from the cursor: buffered text is rendered after the restart, nothing is posted twice or out of order', async () => {
    const file = tempStoreFile();
    const port = new RecordingPort();
    const a = boot(file, port);
    insertRun(a.store, 'run-1');
    bindThread(a.store, 'run-1');
    a.relay.start();
    a.delivery.start();
    a.feed.append('run-1', started, { type: 'assistant_text', text: 'turn one' }, { type: 'turn_end', turn: 1 });
    // Buffered (no turn end yet) when the process dies.
    a.feed.append('run-1', { type: 'assistant_text', text: 'turn two, unflushed' });
    await a.delivery.drain();
    expect(port.posts('test:thread-run-1').map((c) => c.body)).toContain('turn one');
    expect(a.store.chatThreads.binding('run-1')!.renderedSeq).toBe(3);
    await crash(a);

    // While the bot was down the run went on (the engine recorded the events).
    const b = boot(file, port);
    b.store.events.append('run-1', [
      { data: { type: 'turn_end', turn: 2 }, createdAt: new Date().toISOString() },
      { data: settled(), createdAt: new Date().toISOString() },
    ]);
    b.relay.start();
    b.delivery.start();
    await b.delivery.drain();

    const bodies = port.posts('test:thread-run-1').map((c) => c.body);
    expect(bodies.filter((x) => x === 'turn one')).toHaveLength(1);
    expect(bodies.filter((x) => x === 'turn two, unflushed')).toHaveLength(1);
    expect(bodies.indexOf('turn one')).toBeLessThan(bodies.indexOf('turn two, unflushed'));
    expect(bodies.filter((x) => x.includes('**Run run-1 succeeded**'))).toHaveLength(1);
    expect(bodies.at(-1)).toContain('succeeded');
    // One status message, created once; its last edit shows the end.
    const statusCreates = bodies.filter((x) => x.includes('run run-1 on card-1'));
    expect(statusCreates).toHaveLength(1);
    expect(port.calls.filter((c) => c.op === 'edit').at(-1)!.body).toMatch(/^✅/);
    // Team channel: one start line, one settle line, each with the thread link.
    const team = port.posts().filter((c) => c.channel === 'test:team');
    expect(team.map((c) => c.body)).toEqual([
      expect.stringMatching(/^▶️ card-1: run run-1 started by .* · https:\/\/chat\.test\/test:chan\/test:thread-run-1$/),
      expect.stringMatching(/^✅ card-1: run run-1 succeeded in 2m 5s .* · https:\/\/chat\.test/),
    ]);
    expect(b.store.chatThreads.binding('run-1')!.renderedSeq).toBe(b.store.events.lastSeq('run-1'));
    b.relay.stop();
    await crash(b);

    // A third start has nothing left to do.
    const c = boot(file, port);
    const before = port.calls.length;
    c.relay.start();
    c.delivery.start();
    await c.delivery.drain();
    expect(port.calls.length).toBe(before);
    await crash(c);
  });

  it('shows a refinement in its parent thread with its own status message', async () => {
    const file = tempStoreFile();
    const port = new RecordingPort();
    const a = boot(file, port);
    insertRun(a.store, 'run-1');
    bindThread(a.store, 'run-1');
    a.relay.start();
    a.delivery.start();
    a.feed.append('run-1', started, settled());
    insertRun(a.store, 'run-2', { parentRunId: 'run-1' });
    a.store.chatThreads.bindRun('run-2', 'run-1', new Date().toISOString());
    a.relay.attach('run-2');
    a.feed.append('run-2', { ...started, refinementOf: 'run-1' } as typeof started, { type: 'assistant_text', text: 'refined' }, settled());
    await a.delivery.drain();
    const bodies = port.posts('test:thread-run-1').map((c) => c.body);
    expect(bodies.filter((b) => b.includes('(refines run-1)'))).toHaveLength(1);
    expect(bodies).toContain('refined');
    expect(bodies.filter((b) => b.includes('succeeded**'))).toHaveLength(2);
    a.relay.stop();
    await crash(a);
  });
});
