/**
 * Delivery through the real DiscordPort (discord.js REST, the bot's write client) into the fake
 * Discord, with a real SQLite outbox, when the platform misbehaves briefly: an answer lost after
 * the message was created, 5xx answers, a request that hangs, a permanent refusal, and a status
 * message that became too old to edit (30046). Nothing is posted twice, nothing is lost, and only
 * the permanent refusal says "Delivery failed". The long outages are in test/faults/outages.test.ts.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DiscordPort } from '../../../src/bots/discord/discord-port.js';
import { channelRef, messageIdsOf } from '../../../src/bots/discord/refs.js';
import { createWriteRest } from '../../../src/bots/discord/write-rest.js';
import { DISCORD_LIMITS } from '../../../src/bots/discord/limits.js';
import { Delivery } from '../../../src/bots/hub/delivery.js';
import { scaleLimits } from '../../../src/bots/hub/pacing.js';
import { editStream } from '../../../src/bots/hub/streams.js';
import { silentLogger } from '../../../src/logger.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { ManualClock, startFakeDiscord, type FakeDiscord } from '../../support/fake-discord/index.js';
import { makeTempDir, useTempDirs } from '../../support/temp.js';

useTempDirs();

interface World {
  fake: FakeDiscord;
  store: Store;
  delivery: Delivery;
  /** A new delivery over the same store, as after a restart (the old one stopped). */
  restart(): Promise<void>;
  threadId: string;
}

const worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) {
    await w.delivery.stop();
    w.store.close();
    await w.fake.close();
  }
});

const NOW = () => new Date().toISOString();

/** A fake Discord with a run thread already open, and delivery over a fresh outbox. */
async function world(opts: { clock?: ManualClock; editMaxAgeMs?: number; nonceWindowMs?: number } = {}): Promise<World> {
  const fake = await startFakeDiscord({ rateLimits: { enabled: false }, clock: opts.clock, editMaxAgeMs: opts.editMaxAgeMs, nonceWindowMs: opts.nonceWindowMs });
  const rest = createWriteRest({ token: fake.token, apiBase: fake.apiBase }, { timeoutMs: 1_000 });
  // Discord's windows shrunk a hundredfold: the pacing is not what these tests are about.
  const port = new DiscordPort({ rest, guildId: fake.guildId, logger: silentLogger(), limits: scaleLimits(DISCORD_LIMITS, 0.01) });
  const header = await port.post(channelRef(fake.channels.general), null, 'header', { nonce: 'hdr' });
  const thread = await port.createThread(channelRef(fake.channels.general), header, 'run thread');
  const store = openStore(path.join(makeTempDir(), 'chat.sqlite'));
  store.chatThreads.insertThread({ threadKey: 'run-1', platform: 'discord', channel: channelRef(fake.channels.general), thread, now: NOW() });
  const delivery = new Delivery({ store, portOf: (p) => (p === 'discord' ? port : undefined), logger: silentLogger(), backoffBaseMs: 5, backoffMaxMs: 20 });
  delivery.start();
  const w: World = {
    fake,
    store,
    delivery,
    threadId: messageIdsOf(header).messageId,
    restart: async () => {
      await w.delivery.stop();
      w.delivery = new Delivery({ store, portOf: (p) => (p === 'discord' ? port : undefined), logger: silentLogger(), backoffBaseMs: 5, backoffMaxMs: 20 });
      w.delivery.start();
    },
  };
  worlds.push(w);
  return w;
}

function post(w: World, body: string, key = body): number {
  const id = w.store.outbox.enqueue({ threadKey: 'run-1', runId: null, op: 'create', channel: channelRef(w.fake.channels.general), inThread: true, body, dedupeKey: key }, NOW()).id;
  w.delivery.kick('run-1');
  return id;
}

const botTexts = (w: World) => w.fake.messages(w.threadId).filter((m) => m.authorId === w.fake.botUser.id).map((m) => m.content);

describe('Discord delivery when the platform misbehaves', () => {
  it('a create whose answer is lost (performed, then the connection dropped) is retried with its nonce and exists once', async () => {
    const w = await world();
    w.fake.scheduleOutage({ kind: 'lost', match: /^POST \/channels\/\d+\/messages$/, times: 1 });
    const id = post(w, 'the answer to this one is lost');
    post(w, 'and this one follows');
    await w.delivery.drain();
    expect(w.fake.outageHits.lost).toBe(1);
    expect(botTexts(w)).toEqual(['the answer to this one is lost', 'and this one follows']);
    const row = w.store.outbox.get(id)!;
    expect(row).toMatchObject({ status: 'sent', attempts: 2 });
    expect(messageIdsOf(row.platformMsg!).messageId).toBe(w.fake.messages(w.threadId)[0]!.id);
  });

  it('a create whose answer was lost and whose retry comes after Discord\'s nonce window is found among the latest messages, not posted twice', async () => {
    // A window of 0: every retry arrives "too late" for enforce_nonce, as after a long outage.
    const w = await world({ nonceWindowMs: 0 });
    w.fake.scheduleOutage({ kind: 'lost', match: /^POST \/channels\/\d+\/messages$/, times: 1 });
    const id = post(w, 'lost, then retried late');
    post(w, 'and the next one');
    await w.delivery.drain();
    expect(botTexts(w)).toEqual(['lost, then retried late', 'and the next one']);
    expect(w.fake.requests.filter((r) => r.method === 'GET' && /\/messages$/.test(r.path))).toHaveLength(1);
    expect(messageIdsOf(w.store.outbox.get(id)!.platformMsg!).messageId).toBe(w.fake.messages(w.threadId)[0]!.id);
  });

  it('5xx answers and a hung request are retried until they go through, in order, once, with no failure note', async () => {
    const w = await world();
    w.fake.scheduleOutage({ kind: 'error', status: 502, match: /^POST \/channels\/\d+\/messages$/, times: 5 });
    w.fake.scheduleOutage({ kind: 'hang', match: /^POST \/channels\/\d+\/messages$/, times: 1 });
    for (let i = 1; i <= 4; i++) post(w, `line ${i}`);
    await w.delivery.drain();
    expect(w.fake.outageHits).toMatchObject({ error: 5, hang: 1 });
    expect(botTexts(w)).toEqual(['line 1', 'line 2', 'line 3', 'line 4']);
    expect(w.store.outbox.listThread('run-1').every((r) => r.status === 'sent')).toBe(true);
  });

  it('a permanent refusal marks the row failed once, says what to fix in one note, and later rows still go', async () => {
    const w = await world();
    w.fake.injectFault({ method: 'POST', path: /^\/channels\/\d+\/messages$/, status: 403, code: 50013, message: 'Missing Permissions' });
    const refused = post(w, 'refused');
    post(w, 'next');
    await w.delivery.drain();
    expect(w.store.outbox.get(refused)).toMatchObject({ status: 'dead', attempts: 1, error: expect.stringContaining('Send Messages in Threads') });
    const texts = botTexts(w);
    expect(texts[0]).toBe('next');
    expect(texts.filter((t) => t.includes('Delivery failed'))).toHaveLength(1);
  });

  it('a status message too old to edit (30046) is posted anew and edited from then on, with no failure note', async () => {
    const clock = new ManualClock();
    const w = await world({ clock, editMaxAgeMs: 60_000 });
    const status = post(w, 'status: working', 'status');
    await w.delivery.drain();
    const edit = (body: string) => {
      w.store.outbox.enqueue({ threadKey: 'run-1', runId: null, op: 'edit', channel: channelRef(w.fake.channels.general), inThread: true, targetId: status, body, dedupeKey: null, stream: editStream(status) }, NOW());
      w.delivery.kick(editStream(status));
      return w.delivery.drain();
    };
    await edit('status: still working');
    clock.advance(61_000);
    await edit('status: an hour later');
    await edit('status: done');
    const mine = w.fake.messages(w.threadId).filter((m) => m.authorId === w.fake.botUser.id);
    expect(mine.map((m) => m.content)).toEqual(['status: still working', 'status: done']);
    expect(mine[1]!.edits.map((e) => e.content)).toEqual(['status: done']);
    expect(w.fake.requests.filter((r) => r.errorCode === 30046)).toHaveLength(1);
    expect(messageIdsOf(w.store.outbox.get(status)!.platformMsg!).messageId).toBe(mine[1]!.id);
    expect(mine.some((m) => m.content.includes('Delivery failed'))).toBe(false);
  });
  it('a create left in flight by a crash (the platform has it, "sent" was never written) is not posted twice at the next start', async () => {
    const w = await world();
    const id = post(w, 'posted just before the crash');
    await w.delivery.drain();
    w.store.db.prepare("UPDATE outbox SET status = 'inflight', platform_msg = NULL WHERE id = ?").run(id);
    await w.restart();
    await w.delivery.drain();
    expect(botTexts(w)).toEqual(['posted just before the crash']);
    const row = w.store.outbox.get(id)!;
    expect(row).toMatchObject({ status: 'sent', attempts: 2 });
    expect(messageIdsOf(row.platformMsg!).messageId).toBe(w.fake.messages(w.threadId)[0]!.id);
  });
});
