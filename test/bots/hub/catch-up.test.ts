/**
 * The catch-up orchestration (src/bots/hub/catch-up.ts) against a real SQLite store and a
 * receiver that hands back prepared backlogs: what is handed on, in what order, and what is
 * remembered. End to end on each platform: test/bots/contract/catch-up-contract.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { catchUp } from '../../../src/bots/hub/catch-up.js';
import type { CatchUpThread, ChatEvent, ChatUser, ReactionEvent, ThreadBacklog } from '../../../src/bots/hub/chat-types.js';
import type { Receiver } from '../../../src/bots/hub/hub.js';
import { systemClock } from '../../../src/bots/hub/clock.js';
import { Pacer } from '../../../src/bots/hub/pacing.js';
import { silentLogger } from '../../../src/logger.js';
import type { Store } from '../../../src/store/index.js';
import { useTempDirs } from '../../support/temp.js';
import { bindThread, insertRun, openStore, tempStoreFile } from './chat-store-fixture.js';
import { RecordingPort } from './recording-port.js';

useTempDirs();

const ada: ChatUser = { id: 'test:ada', displayName: 'Ada', roleIds: [], isBot: false };
const stores: Store[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

/** A store with one running run in a delivered thread (`test:thread-r1`, header `test:header-r1`). */
function storeWithThread(): Store {
  const store = openStore(tempStoreFile());
  stores.push(store);
  insertRun(store, 'r1');
  bindThread(store, 'r1');
  const now = new Date().toISOString();
  const header = store.outbox.enqueue({ threadKey: 'r1', runId: 'r1', op: 'create', channel: 'test:chan', inThread: false, body: 'h', dedupeKey: 'header:r1' }, now).id;
  store.chatThreads.setHeader('r1', header);
  store.outbox.markSent(header, 'test:header-r1', now);
  return store;
}

const reaction = (emoji: string, user = ada): ReactionEvent => ({
  kind: 'reaction', platform: 'test', dedupeKey: `${emoji}:${user.id}`, user, channel: 'test:chan', raw: null, message: 'test:header-r1', thread: null, emoji, added: true,
});
const reply = (id: string, text: string): ChatEvent => ({
  kind: 'reply', platform: 'test', dedupeKey: id, user: ada, channel: 'test:chan', raw: null, thread: 'test:thread-r1', message: `test:${id}`, text,
});

/** Runs catch-up with a receiver that answers `read` for the threads it is asked about. */
async function run(store: Store, read: (threads: CatchUpThread[]) => ThreadBacklog[]) {
  const asked: CatchUpThread[][] = [];
  const receiver: Receiver = {
    platform: 'test', port: new RecordingPort(), notifyChannel: null, done: new Promise(() => {}),
    start: async () => {}, stop: async () => {},
    catchUp: async (threads, pace) => (asked.push(threads), pace(async () => read(threads))),
  };
  const handled: ChatEvent[] = [];
  const pacer = new Pacer();
  const report = await catchUp({
    store, receivers: [receiver], pacer, logger: silentLogger(), clock: systemClock, stopping: () => false,
    handle: async (e) => void handled.push(e),
  });
  await pacer.stop();
  return { asked, handled, report };
}

describe('catch-up orchestration', () => {
  it('asks for the thread after the last message seen, hands on the header reactions first and then the messages oldest first (replies marked missed), and remembers the newest message read', async () => {
    const store = storeWithThread();
    store.catchUp.markSeen('r1', 'test:m0', new Date().toISOString());
    const { asked, handled, report } = await run(store, () => [
      { threadKey: 'r1', messages: [reply('m1', 'first'), reply('m2', 'second')], newest: 'test:m3', reactions: [reaction('🛑')] },
    ]);
    expect(asked).toEqual([[{ threadKey: 'r1', channel: 'test:chan', thread: 'test:thread-r1', header: 'test:header-r1', after: 'test:m0', questions: [] }]]);
    expect(handled.map((e) => (e.kind === 'reply' ? `${e.text}:${e.missed}` : e.kind))).toEqual(['reaction', 'first:true', 'second:true']);
    expect(report).toEqual({ threads: 1, failed: 0, events: 3 });
    expect(store.catchUp.threadsToCatchUp('1970-01-01T00:00:00.000Z')[0]!.lastMessage).toBe('test:m3');
  });

  it('takes a thread older than catch-up as seen: its reactions become known, nothing is handed on', async () => {
    const store = storeWithThread();
    store.db.prepare("INSERT INTO thread_reads (thread_key, baseline, updated_at) VALUES ('r1', 1, '2026-01-01T00:00:00.000Z')").run();
    const { handled } = await run(store, () => [{ threadKey: 'r1', messages: [reply('m1', 'old')], newest: 'test:m1', reactions: [reaction('🔁')] }]);
    expect(handled).toEqual([]);
    expect(store.catchUp.presentReactions('test:header-r1').map((r) => r.emoji)).toEqual(['🔁']);
    expect(store.catchUp.threadsToCatchUp('1970-01-01T00:00:00.000Z')[0]).toMatchObject({ baseline: false, lastMessage: 'test:m1' });
  });

  it('forgets, without acting, a reaction removed while the bot was down', async () => {
    const store = storeWithThread();
    store.catchUp.setReaction({ message: 'test:header-r1', userId: ada.id, emoji: '🎮', added: true }, '2026-01-01T00:00:00.000Z');
    const { handled } = await run(store, () => [{ threadKey: 'r1', messages: [], newest: null, reactions: [] }]);
    expect(handled).toEqual([]);
    expect(store.catchUp.presentReactions('test:header-r1')).toEqual([]);
  });

  it('keeps what a thread that could not be read had seen, so the next start reads it again', async () => {
    const store = storeWithThread();
    store.catchUp.markSeen('r1', 'test:m0', new Date().toISOString());
    const { handled, report } = await run(store, () => []);
    expect(handled).toEqual([]);
    expect(report).toEqual({ threads: 0, failed: 1, events: 0 });
    expect(store.catchUp.threadsToCatchUp('1970-01-01T00:00:00.000Z')[0]!.lastMessage).toBe('test:m0');
  });
});
