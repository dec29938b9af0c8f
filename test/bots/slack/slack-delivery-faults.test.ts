/**
 * Delivery through the real SlackPort (the bot's write WebClient: no SDK retries, 429s thrown)
 * into the fake Slack, with a real SQLite outbox, when the platform misbehaves briefly: an answer
 * lost after the message was posted (found again by its metadata), 5xx answers, a call that hangs,
 * and a channel the bot is not in (a permanent refusal that says what to fix). The long outages
 * are in test/faults/outages.test.ts.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Delivery } from '../../../src/bots/hub/delivery.js';
import { scaleLimits } from '../../../src/bots/hub/pacing.js';
import { SLACK_LIMITS } from '../../../src/bots/slack/limits.js';
import { channelRef, messageRef, threadRef } from '../../../src/bots/slack/refs.js';
import { createWriteClient } from '../../../src/bots/slack/slack-receiver.js';
import { SlackPort } from '../../../src/bots/slack/slack-port.js';
import { silentLogger } from '../../../src/logger.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { startFakeSlack, type FakeSlack } from '../../support/fake-slack/index.js';
import { makeTempDir, useTempDirs } from '../../support/temp.js';

useTempDirs();

interface World {
  slack: FakeSlack;
  store: Store;
  delivery: Delivery;
  /** A new delivery over the same store, as after a restart (the old one stopped). */
  restart(): Promise<void>;
  rootTs: string;
}

const worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) {
    await w.delivery.stop();
    w.store.close();
    await w.slack.close();
  }
});

const NOW = () => new Date().toISOString();

async function world(channel: 'general' | 'random' = 'general'): Promise<World> {
  const slack = await startFakeSlack({ rateLimits: { enabled: false } });
  const client = createWriteClient({ botToken: slack.botToken, appToken: null, signingSecret: null, port: null, apiUrl: slack.apiUrl, notifyChannel: null }, 1_000);
  const port = new SlackPort({ client, teamUrl: 'https://fake.slack.com/', limits: scaleLimits(SLACK_LIMITS, 0.01), logger: silentLogger() });
  const channelId = slack.channels[channel];
  const root = channel === 'general' ? await port.post(channelRef(channelId), null, 'header', { nonce: 'hdr' }) : messageRef(channelId, '1700000000.000100');
  const rootTs = root.split(':').at(-1)!;
  const store = openStore(path.join(makeTempDir(), 'chat.sqlite'));
  store.chatThreads.insertThread({ threadKey: 'run-1', platform: 'slack', channel: channelRef(channelId), thread: threadRef(channelId, rootTs), now: NOW() });
  const delivery = new Delivery({ store, portOf: (p) => (p === 'slack' ? port : undefined), logger: silentLogger(), backoffBaseMs: 5, backoffMaxMs: 20 });
  delivery.start();
  const w: World = {
    slack,
    store,
    delivery,
    rootTs,
    restart: async () => {
      await w.delivery.stop();
      w.delivery = new Delivery({ store, portOf: (p) => (p === 'slack' ? port : undefined), logger: silentLogger(), backoffBaseMs: 5, backoffMaxMs: 20 });
      w.delivery.start();
    },
  };
  worlds.push(w);
  return w;
}

function post(w: World, body: string, key = body): number {
  const row = w.store.chatThreads.getThread('run-1')!;
  const id = w.store.outbox.enqueue({ threadKey: 'run-1', runId: null, op: 'create', channel: row.channel, inThread: true, body, dedupeKey: key }, NOW()).id;
  w.delivery.kick('run-1');
  return id;
}

const threadTexts = (w: World) => w.slack.botPosts('general').filter((m) => m.threadTs === w.rootTs).map((m) => m.text);

describe('Slack delivery when the platform misbehaves', () => {
  it('a post whose answer is lost is found by its metadata on the retry and exists once', async () => {
    const w = await world();
    w.slack.scheduleOutage({ kind: 'lost', match: /^chat\.postMessage$/, times: 1 });
    const id = post(w, 'the answer to this one is lost');
    post(w, 'and this one follows');
    await w.delivery.drain();
    expect(w.slack.outageHits.lost).toBe(1);
    expect(threadTexts(w)).toEqual(['the answer to this one is lost', 'and this one follows']);
    expect(w.slack.calls('conversations.replies').length).toBeGreaterThanOrEqual(1);
    expect(w.store.outbox.get(id)).toMatchObject({ status: 'sent', attempts: 2 });
  });

  it('5xx answers and a hung call are retried until they go through, in order, once, with no failure note', async () => {
    const w = await world();
    w.slack.scheduleOutage({ kind: 'error', status: 503, match: /^chat\.postMessage$/, times: 4 });
    w.slack.scheduleOutage({ kind: 'hang', match: /^chat\.postMessage$/, times: 1 });
    for (let i = 1; i <= 3; i++) post(w, `line ${i}`);
    await w.delivery.drain();
    expect(w.slack.outageHits).toMatchObject({ error: 4, hang: 1 });
    expect(threadTexts(w)).toEqual(['line 1', 'line 2', 'line 3']);
    expect(w.store.outbox.listThread('run-1').every((r) => r.status === 'sent')).toBe(true);
  });

  it('a channel the bot is not in is a permanent refusal that says to invite the bot, once', async () => {
    const w = await world('random');
    const id = post(w, 'nobody will see this');
    await w.delivery.drain();
    expect(w.store.outbox.get(id)).toMatchObject({ status: 'dead', attempts: 1, error: expect.stringContaining('/invite @') });
    const refused = w.slack.calls('chat.postMessage').filter((c) => c.error === 'not_in_channel');
    // The row and its one note, both refused; nothing retried.
    expect(refused).toHaveLength(2);
  });
  it('a post left in flight by a crash (Slack has it, "sent" was never written) is found by its metadata at the next start, not posted twice', async () => {
    const w = await world();
    const id = post(w, 'posted just before the crash');
    await w.delivery.drain();
    w.store.db.prepare("UPDATE outbox SET status = 'inflight', platform_msg = NULL WHERE id = ?").run(id);
    const lookups = w.slack.calls('conversations.replies').length;
    await w.restart();
    await w.delivery.drain();
    expect(threadTexts(w)).toEqual(['posted just before the crash']);
    expect(w.slack.calls('conversations.replies').length).toBe(lookups + 1);
    const row = w.store.outbox.get(id)!;
    expect(row).toMatchObject({ status: 'sent', attempts: 2 });
    expect(row.platformMsg).toBe(messageRef(w.slack.channels.general, w.slack.botPosts('general').find((m) => m.threadTs === w.rootTs)!.ts));
  });
});
