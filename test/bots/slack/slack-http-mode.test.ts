/**
 * The Slack bot in HTTP mode (signing secret + port): Bolt's own server on 127.0.0.1 checks the
 * signature and timestamp of every request. A correctly signed `/run` works end to end; forged
 * and stale requests are refused with 401 and start nothing; an event Slack retries after an
 * `http_timeout` (same event_id, X-Slack-Retry-Num) starts one refinement, not two.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockLlm } from '../../support/mock-llm.js';
import { useTempDirs } from '../../support/temp.js';
import { botPosts, runCommand, startWorld, type World } from './slack-e2e-support.js';

useTempDirs();

let llm: MockLlm;
let w: World;

beforeAll(async () => {
  llm = await MockLlm.start();
  w = await startWorld(llm, { http: true });
});

afterAll(async () => {
  await w?.close();
  await llm?.close();
});

describe('Slack bot in HTTP mode', () => {
  it('serves a correctly signed /run: acknowledged with 200 at once, run started in a thread', async () => {
    expect(w.bot.receiver.mode).toBe('http');
    expect(w.slack.calls('apps.connections.open')).toEqual([]);
    const { cmd, run, rootTs } = await runCommand(w);
    const ack = await cmd.ack;
    expect(ack.status).toBe(200);
    // Slack's real budget: an answer after 3 s is a failed command, however loaded the machine.
    expect(ack.latencyMs).toBeLessThan(3_000);
    expect(cmd.delivery.transport).toBe('http');
    await w.h.engine.manager.waitForSettled(run.id);
    await w.bot.idle();
    expect(w.h.engine.manager.get(run.id)!.status).toBe('succeeded');
    expect(w.slack.thread('general', rootTs).length).toBeGreaterThan(3);
  });

  it('refuses forged and stale signatures with 401 and starts nothing', async () => {
    const runs = w.h.engine.manager.list(1000).length;
    const posts = botPosts(w.slack).length;
    const forgedCmd = w.slack.slashCommand({ command: '/run', text: 'card-1 forged', signature: 'forged' });
    const staleCmd = w.slack.slashCommand({ command: '/run', text: 'card-1 stale', signature: 'stale' });
    const root = botPosts(w.slack).find((m) => !m.threadTs)!;
    const event = { type: 'message', channel: w.slack.channels.general, user: w.slack.users.alice, text: 'refine from nowhere', ts: '1700000000.000100', thread_ts: root.ts, channel_type: 'channel' };
    const forged = w.slack.sendEvent(event, { signature: 'forged' });
    const stale = w.slack.sendEvent(event, { signature: 'stale' });
    const statuses = await Promise.all([forgedCmd.delivery, staleCmd.delivery, forged, stale].map(async (d) => (await w.slack.waitForAck(d)).status));
    expect(statuses).toEqual([401, 401, 401, 401]);
    await w.bot.idle();
    expect(forgedCmd.responses()).toEqual([]);
    expect(w.h.engine.manager.list(1000)).toHaveLength(runs);
    expect(botPosts(w.slack)).toHaveLength(posts);
  });

  it('an event Slack retries after an http_timeout starts one refinement, not two', async () => {
    const parent = w.h.engine.manager.list(1)[0]!;
    const root = botPosts(w.slack).find((m) => !m.threadTs)!;
    const reply = w.slack.userMessage({ channel: 'general', thread_ts: root.ts, text: 'make it faster', user: 'alice' });
    const first = w.slack.eventDeliveries((e) => e.ts === reply.ts)[0]!;
    await w.slack.waitForAck(first);
    const retry = w.slack.redeliver(first);
    expect(retry).toMatchObject({ retryAttempt: 1, retryReason: 'http_timeout', eventId: first.eventId });
    expect((await w.slack.waitForAck(retry)).status).toBe(200);
    const child = await w.slack.waitFor(() => w.h.engine.manager.list().find((r) => r.parentRunId === parent.id), { timeoutMs: 30_000 });
    await w.h.engine.manager.waitForSettled(child.id);
    await w.bot.idle();
    expect(w.h.engine.manager.list().filter((r) => r.parentRunId === parent.id)).toHaveLength(1);
  });
});
