import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Relay } from '../../../src/bots/hub/relay.js';
import { RunRenderer } from '../../../src/bots/hub/run-renderer.js';
import type { RunEvent, RunEventData } from '../../../src/core/types.js';
import { silentLogger } from '../../../src/logger.js';
import type { Store } from '../../../src/store/index.js';
import { useTempDirs } from '../../support/temp.js';
import { bindThread, EventFeed, insertRun, openStore, settled, started, tempStoreFile } from './chat-store-fixture.js';
import { TEST_LIMITS } from './recording-port.js';

useTempDirs();

let seq = 0;
function ev(data: RunEventData, at = new Date()): RunEvent {
  return { runId: 'run-1', seq: ++seq, type: data.type, data, createdAt: at.toISOString() };
}

describe('RunRenderer', () => {
  beforeEach(() => {
    seq = 0;
  });

  it('creates the status message and the start notification at run start, and no post', () => {
    const r = new RunRenderer('run-1', 'test:ada', {}, () => 'Ada');
    const ops = r.apply(ev(started), 0);
    expect(ops.map((o) => o.kind)).toEqual(['status-create', 'notify']);
    expect(ops[1]!.body).toContain('started by Ada');
  });

  it('never posts for progress-only events (tool starts, usage, retries)', () => {
    const r = new RunRenderer('run-1', 'test:ada');
    r.apply(ev(started), 0);
    const ops = [
      ...r.apply(ev({ type: 'tool_start', toolCallId: 't', tool: 'bash', summary: 'cargo build' }), 0),
      ...r.apply(ev({ type: 'usage', input: 10, output: 5, total: 15, costUsd: 0.01 }), 0),
      ...r.apply(ev({ type: 'retry', attempt: 1, maxAttempts: 3, delayMs: 1000, error: 'overloaded' }), 0),
    ];
    expect(ops).toEqual([]);
    expect(r.statusBody(0)).toContain('bash: cargo build');
    expect(r.statusBody(0)).toContain('retrying (1/3)');
    expect(r.safeSeq()).toBe(4);
  });

  it('flushes the digest when it reaches the size threshold', () => {
    const r = new RunRenderer('run-1', 'test:ada', { flushChars: 1500 });
    r.apply(ev(started), 0);
    expect(r.apply(ev({ type: 'assistant_text', text: 'a'.repeat(1000) }), 0)).toEqual([]);
    expect(r.safeSeq()).toBe(1);
    const ops = r.apply(ev({ type: 'assistant_text', text: 'b'.repeat(600) }), 0);
    expect(ops).toEqual([{ kind: 'post', key: 'post:run-1:2-3', body: `${'a'.repeat(1000)}\n${'b'.repeat(600)}` }]);
    expect(r.safeSeq()).toBe(3);
  });

  it('flushes at a turn end and collapses many tool lines', () => {
    const r = new RunRenderer('run-1', 'test:ada', { digestToolLines: 2 });
    r.apply(ev(started), 0);
    for (let i = 0; i < 5; i++) r.apply(ev({ type: 'tool_end', toolCallId: `t${i}`, tool: 'read', summary: `file${i}.rs`, isError: false, outputTail: '' }), 0);
    const ops = r.apply(ev({ type: 'turn_end', turn: 1 }), 0);
    expect(ops).toHaveLength(1);
    expect(ops[0]!.body).toBe('🔧 read: file0.rs ✓\n🔧 read: file1.rs ✓\n🔧 … and 3 more tool calls');
  });

  it('neutralizes mass mentions in agent text', () => {
    const r = new RunRenderer('run-1', 'test:ada');
    r.apply(ev(started), 0);
    r.apply(ev({ type: 'assistant_text', text: 'ping @everyone and <@123> and <!channel>' }), 0);
    const body = r.flush()[0]!.body;
    expect(body).not.toMatch(/@everyone|<@1|<!channel/);
    expect(body).toContain('everyone');
  });

  it('ends with the buffered digest, then the final result as a new post, then the settle notification', () => {
    const r = new RunRenderer('run-1', 'test:ada');
    r.apply(ev(started), 0);
    r.apply(ev({ type: 'assistant_text', text: 'All done.' }), 0);
    const ops = r.apply(ev(settled()), 0);
    expect(ops.map((o) => o.kind)).toEqual(['post', 'post', 'notify']);
    expect(ops[0]!.body).toBe('All done.');
    const final = ops[1]!.body;
    expect(ops[1]).toMatchObject({ key: 'final:run-1' });
    for (const s of ['✅', 'succeeded', 'card-1', '2m 5s', '$0.04', '12.3k tokens', '`chatops/card-1-abc`', '`abcdef1234`', '`src/player.rs`', 'Files changed (2)', 'Added the jump button.']) {
      expect(final).toContain(s);
    }
    expect(r.statusBody(0)).toMatch(/^✅ \*\*succeeded\*\* · 2m 5s/);
    expect(ops[2]!.body).toContain('succeeded in 2m 5s');
  });
});

describe('RunRenderer and playtests', () => {
  const phase = (p: 'started' | 'building' | 'running' | 'exited', over: Partial<Extract<RunEventData, { type: 'playtest' }>> = {}): RunEventData => ({
    type: 'playtest', phase: p, text: '', exitCode: null, by: null, ...over,
  });

  it("shows the playtest's phase in the settled run's status (building with its elapsed time, running) and posts its start, its game and its end with the output tail and the log", () => {
    const r = new RunRenderer('run-1', 'test:ada', {}, (a) => (a === 'test:ada' ? 'Ada' : String(a)));
    r.apply(ev(started), 0);
    r.apply(ev(settled()), 0);
    const start = r.apply(ev(phase('started', { text: 'cargo run', by: 'test:ada' })), 0);
    r.apply(ev(phase('building', { text: '   Compiling bevy v0.14.2', elapsedMs: 80_000 })), 0);
    expect(r.statusBody(0)).toContain('🎮 building 1m 20s: Compiling bevy v0.14.2');
    r.apply(ev(phase('running', { text: 'target/debug/game' })), 0);
    expect(r.statusBody(0)).toContain('🎮 game running');
    const end = phase('exited', { text: 'Playtest `cargo run` exited with code 101.\n```\npanicked at src/main.rs\n```\nFull log: /data/playtests/run-1/1.log', exitCode: 101 });
    r.apply(ev(end), 0);
    expect(r.statusBody(0)).not.toContain('🎮');
    const lines = [...start, ...r.flush()].filter((o) => o.kind === 'post').map((o) => ('body' in o ? o.body : '')).join('\n');
    expect(lines).toContain('🎮 playtest started by Ada');
    expect(lines).toContain('🎮 game running (`target/debug/game`)');
    expect(lines).toContain('🎮 Playtest `cargo run` exited with code 101.\n```\npanicked at src/main.rs\n```\nFull log: /data/playtests/run-1/1.log');
  });

  it('turns playtest media into one upload after what the digest held, keyed by its event', () => {
    const r = new RunRenderer('run-1', 'test:ada', {}, () => 'Ada');
    r.apply(ev(started), 0);
    r.apply(ev({ type: 'assistant_text', text: 'before the screenshot' }), 0);
    const media: RunEventData = { type: 'playtest_media', files: [{ path: '/d/shot.png', name: 'shot.png', kind: 'screenshot', contentType: 'image/png', bytes: 10 }], note: null, by: 'test:ada' };
    const ops = r.apply(ev(media), 0);
    expect(ops.map((o) => o.kind)).toEqual(['post', 'upload']);
    expect(ops[1]).toMatchObject({ key: `upload:run-1:${seq}`, body: '📸 Playtest a screenshot (requested by Ada)' });
  });
});

describe('RunRenderer with a run budget', () => {
  it('shows spent / budget in the live status, and the budget reason in the final result and the team notification', () => {
    const r = new RunRenderer('run-1', 'test:ada');
    r.apply(ev(started), 0);
    r.apply(ev({ type: 'usage', input: 100, output: 10, total: 110, costUsd: 1.2, budgetUsd: 2 }), 0);
    expect(r.statusBody(0)).toContain('🪙 110 tokens · $1.20 / $2.00 budget');
    const reason = 'budget of $2.00 reached ($2.04 spent)';
    const ops = r.apply(ev(settled({ status: 'failed', error: reason, costUsd: 2.04 })), 0);
    expect(ops.find((o) => o.kind === 'post' && o.key === 'final:run-1')!.body).toContain(`Error: ${reason}`);
    expect(ops.find((o) => o.kind === 'notify')!.body).toContain(reason);
  });
});

describe('Relay timing (fake timers)', () => {
  let store: Store;
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2026-01-01T10:00:00Z') });
    store = openStore(tempStoreFile());
  });
  afterEach(() => {
    vi.useRealTimers();
    store.close();
  });

  function relayFor(runId: string) {
    const feed = new EventFeed(store);
    const kicked: string[] = [];
    const relay = new Relay({ store, source: feed, limitsOf: () => TEST_LIMITS, notifyChannelOf: () => null, logger: silentLogger(), onEnqueued: (k) => kicked.push(k) });
    insertRun(store, runId);
    bindThread(store, runId);
    relay.start();
    return { feed, relay, kicked };
  }

  const posts = (runId: string) => store.outbox.listThread(runId).filter((r) => r.op === 'create' && r.dedupeKey?.startsWith('post:'));

  it('flushes a digest 5 s after its first item, not before', () => {
    const { feed, relay } = relayFor('r1');
    feed.append('r1', started, { type: 'assistant_text', text: 'first thought' });
    vi.advanceTimersByTime(3000);
    feed.append('r1', { type: 'assistant_text', text: 'second thought' });
    vi.advanceTimersByTime(1999);
    expect(posts('r1')).toHaveLength(0);
    expect(store.chatThreads.binding('r1')!.renderedSeq).toBe(1);
    vi.advanceTimersByTime(1);
    expect(posts('r1').map((r) => r.body)).toEqual(['first thought\nsecond thought']);
    expect(store.chatThreads.binding('r1')!.renderedSeq).toBe(3);
    relay.stop();
  });

  it('edits the status no more often than the minimum edit interval, and once more at the end', () => {
    const { feed, relay } = relayFor('r2');
    feed.append('r2', started);
    for (let i = 0; i < 20; i++) {
      feed.append('r2', { type: 'tool_start', toolCallId: `t${i}`, tool: 'bash', summary: `step ${i}` });
      vi.advanceTimersByTime(100);
    }
    const edits = () => store.outbox.listThread('r2').filter((r) => r.op === 'edit');
    // 2 s of events at a 1.5 s interval: one edit at 1.5 s, the trailing one pending.
    expect(edits()).toHaveLength(1);
    vi.advanceTimersByTime(1500);
    expect(edits()).toHaveLength(2);
    expect(edits().at(-1)!.body).toContain('step 19');
    feed.append('r2', settled());
    expect(edits().at(-1)!.body).toMatch(/^✅ \*\*succeeded\*\*/);
    const lane = store.outbox.listThread('r2');
    // The final result precedes the last status edit.
    expect(lane.findIndex((r) => r.dedupeKey === 'final:r2#1')).toBeLessThan(lane.length - 1);
    relay.stop();
  });

  it("after the run settled, a playtest's phases and output edit the status no more often than the interval (a game's output does not use up the platform's edits)", () => {
    const { feed, relay } = relayFor('r4');
    feed.append('r4', started, settled());
    const edits = () => store.outbox.listThread('r4').filter((r) => r.op === 'edit');
    const atSettle = edits().length;
    vi.advanceTimersByTime(1500);
    feed.append('r4', { type: 'playtest', phase: 'started', text: 'cargo run', exitCode: null, by: 'test:ada' });
    expect(edits()).toHaveLength(atSettle + 1);
    for (let i = 0; i < 10; i++) {
      feed.append('r4', { type: 'playtest', phase: 'output', text: `frame ${i}`, exitCode: null, by: null });
      vi.advanceTimersByTime(100);
    }
    // 1 s of output at a 1.5 s interval: no edit yet, one pending with the latest line.
    expect(edits()).toHaveLength(atSettle + 1);
    vi.advanceTimersByTime(500);
    expect(edits()).toHaveLength(atSettle + 2);
    expect(edits().at(-1)!.body).toContain('🎮 frame 9');
    expect(edits().at(-1)!.body).toMatch(/^✅ \*\*succeeded\*\*/);
    relay.stop();
  });

  it('splits a long digest into parts marked (k/n), none over the limit', () => {
    const { feed, relay } = relayFor('r3');
    const para = Array.from({ length: 40 }, (_, i) => `line ${i} ${'z'.repeat(90)}`).join('\n');
    feed.append('r3', started, { type: 'assistant_text', text: para }, { type: 'turn_end', turn: 1 });
    const bodies = posts('r3').map((r) => r.body);
    expect(bodies.length).toBeGreaterThan(1);
    bodies.forEach((b, i) => {
      expect(b.length).toBeLessThanOrEqual(TEST_LIMITS.maxMessageChars);
      expect(b.endsWith(`(${i + 1}/${bodies.length})`)).toBe(true);
    });
    relay.stop();
  });
});
