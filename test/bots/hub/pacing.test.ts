import { afterEach, describe, expect, it } from 'vitest';
import type { ChatLimits } from '../../../src/bots/hub/chat-types.js';
import { Pacer, retryDecision, statusEditIntervalMs, type Destination } from '../../../src/bots/hub/pacing.js';
import { TEST_LIMITS } from './recording-port.js';

const pacers: Pacer[] = [];
afterEach(async () => {
  for (const p of pacers.splice(0)) await p.stop();
});

function pacer(): Pacer {
  const p = new Pacer();
  pacers.push(p);
  return p;
}

const LIMITS: ChatLimits = { ...TEST_LIMITS, posts: { count: 3, windowMs: 120 }, reactions: { count: 1, windowMs: 40 } };
/** A post window that cannot pass during a test: what waits for it provably waits. */
const LONG: ChatLimits = { ...LIMITS, posts: { count: 3, windowMs: 600_000 } };

function dest(kind: Destination['kind'], thread: string | null = 't1', limits = LIMITS): Destination {
  return { platform: 'test', limits, kind, channel: 'c1', thread };
}

/** A request that records when it ran. */
function stamp(log: { at: number; name: string }[], name: string): () => Promise<string> {
  return async () => {
    log.push({ at: Date.now(), name });
    return name;
  };
}

describe('pacing', () => {
  it('lets a burst of posts through at once and never more than the window allows in any window', async () => {
    const p = pacer();
    const log: { at: number; name: string }[] = [];
    const results = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((i) => p.schedule(dest('post'), 5, stamp(log, `m${i}`))));
    expect(results).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
    // The 4th request starts no earlier than a window after the 1st, the 5th after the 2nd, …
    for (let i = 3; i < log.length; i++) expect(log[i]!.at - log[i - 3]!.at).toBeGreaterThanOrEqual(LIMITS.posts.windowMs);
  });

  it('gives each thread its own post window where the platform does, and one per channel where threads share it', async () => {
    const perThread = pacer();
    const log: { at: number; name: string }[] = [];
    // 4 threads × 3 posts all fit their own windows: with a window that cannot pass during the
    // test, they can only all finish if nobody waited for one.
    await Promise.all(['a', 'b', 'c', 'd'].flatMap((t) => [1, 2, 3].map((i) => perThread.schedule(dest('post', t, LONG), 5, stamp(log, `${t}${i}`)))));
    expect(log).toHaveLength(12);

    const shared = pacer();
    const log2: { at: number; name: string }[] = [];
    const channelLimits: ChatLimits = { ...LIMITS, postScope: 'channel' };
    await Promise.all(['a', 'b'].flatMap((t) => [1, 2, 3].map((i) => shared.schedule(dest('post', t, channelLimits), 5, stamp(log2, `${t}${i}`)))));
    for (let i = 3; i < log2.length; i++) expect(log2[i]!.at - log2[i - 3]!.at).toBeGreaterThanOrEqual(LIMITS.posts.windowMs);
  });

  it('sends waiting requests by priority: a header or an answer goes before queued digests', async () => {
    const p = pacer();
    const order: string[] = [];
    const run = (name: string, priority: number) => p.schedule(dest('post'), priority, async () => void order.push(name));
    // Fill the window, then queue digests before a header and an answer.
    const jobs = [run('d1', 5), run('d2', 5), run('d3', 5), run('d4', 5), run('d5', 5), run('header', 1), run('answer', 2)];
    await Promise.all(jobs);
    expect(order.slice(0, 3)).toEqual(['d1', 'd2', 'd3']);
    expect(order.slice(3)).toEqual(['header', 'answer', 'd4', 'd5']);
  });

  it('paces reactions on their own budget, so they never wait behind a full post window', async () => {
    const p = pacer();
    const order: string[] = [];
    const posts = Promise.allSettled([1, 2, 3, 4, 5, 6].map((i) => p.schedule(dest('post', 't1', LONG), 5, async () => void order.push(`post${i}`))));
    await p.schedule(dest('reaction', 't1', LONG), 9, async () => void order.push('reaction'));
    // Posts 4–6 wait for a window that cannot pass; the reaction did not.
    expect(order).toContain('reaction');
    expect(order).not.toContain('post4');
    await p.stop();
    await posts;
  });

  it('edits count against the post window on Discord and against a workspace tier of their own on Slack', async () => {
    const slack = pacer();
    const order: string[] = [];
    const slackish: ChatLimits = { ...LONG, edits: { count: 10, windowMs: 1000 } };
    const posts = Promise.allSettled([1, 2, 3, 4].map((i) => slack.schedule(dest('post', 't1', slackish), 5, async () => void order.push(`post${i}`))));
    await slack.schedule(dest('edit', 't1', slackish), 3, async () => void order.push('edit'));
    expect(order).toContain('edit');
    expect(order).not.toContain('post4');
    await slack.stop();
    await posts;

    const discord = pacer();
    const seen: string[] = [];
    const full = [1, 2, 3].map((i) => discord.schedule(dest('post', 't1', LONG), 5, async () => void seen.push(`post${i}`)));
    await Promise.all(full);
    const edit = discord.schedule(dest('edit', 't1', LONG), 3, async () => void seen.push('edit'));
    const editOutcome = edit.then(() => 'sent', () => 'dropped');
    const other = await discord.schedule(dest('post', 't2', LONG), 5, async () => 'other thread');
    expect(other).toBe('other thread');
    expect(seen).not.toContain('edit');
    await discord.stop();
    expect(await editOutcome).toBe('dropped');
  });

  it('an upload is a post of its thread and, where the platform has a tier for upload calls (Slack), also waits for that budget without holding a post slot', async () => {
    const discord = pacer();
    const seen: string[] = [];
    await Promise.all([1, 2, 3].map((i) => discord.schedule(dest('post', 't1', LONG), 5, async () => void seen.push(`post${i}`))));
    const upload = discord.schedule(dest('upload', 't1', LONG), 2, async () => void seen.push('upload'));
    const uploadOutcome = upload.then(() => 'sent', () => 'dropped');
    expect(await discord.schedule(dest('upload', 't2', LONG), 2, async () => 'other thread')).toBe('other thread');
    expect(seen).not.toContain('upload');
    await discord.stop();
    expect(await uploadOutcome).toBe('dropped');

    const slack = pacer();
    const slackish: ChatLimits = { ...LONG, uploads: { maxFileBytes: 100, maxMessageBytes: 100, maxFiles: 9, label: 'test', calls: { count: 1, windowMs: 600_000 } } };
    expect(await slack.schedule(dest('upload', 't1', slackish), 2, async () => 'first upload')).toBe('first upload');
    const second = slack.schedule(dest('upload', 't2', slackish), 2, async () => 'second upload');
    const secondOutcome = second.then(() => 'sent', () => 'dropped');
    // The second upload waits for the workspace's upload calls; the channel's posts go on meanwhile.
    expect(await slack.schedule(dest('post', 't2', slackish), 5, async () => 'post')).toBe('post');
    expect(await slack.schedule(dest('post', 't2', slackish), 5, async () => 'post')).toBe('post');
    await slack.stop();
    expect(await secondOutcome).toBe('dropped');
  });

  it('stops at once, rejecting what still waits', async () => {
    const p = pacer();
    const jobs = [1, 2, 3, 4].map(() => p.schedule(dest('post'), 5, async () => 'ok'));
    const settled = Promise.allSettled(jobs);
    await jobs[0];
    await p.stop();
    const results = await settled;
    expect(results[0]!.status).toBe('fulfilled');
    expect(results[3]!.status).toBe('rejected');
    await expect(p.schedule(dest('post'), 5, async () => 'late')).rejects.toThrow(/stopping/);
  });

  it('retries exactly after Retry-After without counting an attempt, backs off on transient errors, gives up on permanent ones', () => {
    expect(retryDecision({ kind: 'rate_limited', retryAfterMs: 4200 }, 3)).toEqual({ retry: true, waitMs: 4200, countsAsAttempt: false });
    expect(retryDecision({ kind: 'rate_limited', retryAfterMs: 300_000 }, 1)).toEqual({ retry: true, waitMs: 300_000, countsAsAttempt: false });
    expect(retryDecision({ kind: 'transient' }, 1, { backoffBaseMs: 100 })).toEqual({ retry: true, waitMs: 100, countsAsAttempt: true });
    expect(retryDecision({ kind: 'transient' }, 3, { backoffBaseMs: 100 })).toEqual({ retry: true, waitMs: 400, countsAsAttempt: true });
    expect(retryDecision({ kind: 'permanent', reason: 'missing access' }, 1)).toEqual({ retry: false, reason: 'missing access' });
    expect(retryDecision({ kind: 'stale_edit' }, 1)).toMatchObject({ retry: false });
  });

  it('never gives up on transient errors: an outage of any length keeps retrying at the capped backoff', () => {
    const waits = [1, 2, 8, 9, 50, 1000, 100_000].map((n) => retryDecision({ kind: 'transient' }, n));
    for (const w of waits) expect(w).toMatchObject({ retry: true, countsAsAttempt: true });
    expect(waits.map((w) => (w.retry ? w.waitMs : -1))).toEqual([1000, 2000, 30_000, 30_000, 30_000, 30_000, 30_000]);
    expect(retryDecision({ kind: 'transient' }, 40, { backoffBaseMs: 100, backoffMaxMs: 1000 })).toEqual({ retry: true, waitMs: 1000, countsAsAttempt: true });
  });

  it('spreads a workspace-wide edit tier over the runs being shown', () => {
    const tier: ChatLimits = { ...LIMITS, edits: { count: 40, windowMs: 60_000 }, statusEditMinIntervalMs: 3000 };
    expect(statusEditIntervalMs(tier, 1)).toBe(3000);
    expect(statusEditIntervalMs(tier, 20)).toBe(30_000);
    expect(statusEditIntervalMs({ ...LIMITS, statusEditMinIntervalMs: 1500 }, 20)).toBe(1500);
  });
});
