/**
 * One scenario through the bot's real path: `n` users send `/run` at once to the fake platform;
 * the controller, RunManager, header, relay, outbox, delivery and pacing are the shipped ones,
 * the agent is the replay driver. Everything is read back from the fake and converted to
 * platform time (÷ scale).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Run } from '../../src/core/types.js';
import type { MockLlm } from '../../test/support/mock-llm.js';
import type { Recording } from './fixture.js';
import { expectedOrder, postedMarkers, sameOrder, sampleMax, stats, until, visibility, type Stats } from './measure.js';
import { cardId, discordWorld, slackWorld } from './worlds.js';

export interface ScenarioResult {
  platform: 'discord' | 'slack';
  strategy: string;
  runs: number;
  agentEvents: number;
  calls: number;
  kinds: Record<string, number>;
  callsPer1k: number;
  rateLimited: number;
  /** Platform seconds. */
  header: Stats | null;
  /** Every header's delay, sorted (header-only scenarios). */
  headerAll?: number[];
  visible: Stats;
  final: Stats;
  finalAfterLast: Stats;
  /** From /run to the agent's start (real git and process work, not scaled), seconds. */
  setup: Stats | null;
  /** Most outbox rows pending or in flight at once. */
  backlog: number | null;
  inOrder: boolean;
  problems: string[];
  /** Posts into the runs' channel (headers and thread posts) after the replays started. */
  channelPosts: number;
  /** From the replays' common start to the last final message, platform seconds. */
  makespan: number;
  /** Longest the bench process's event loop was blocked, real ms (git spawns, CPU starvation). */
  loopLagMs: number | null;
  wallMs: number;
}

const SETTLE_TIMEOUT_MS = 240_000;

const NONE: Stats = { p50: NaN, p95: NaN, max: NaN };
const EMPTY: Omit<ScenarioResult, 'platform' | 'strategy' | 'runs'> = {
  agentEvents: 0, calls: 0, kinds: {}, callsPer1k: NaN, rateLimited: 0, header: null, visible: NONE, final: NONE, finalAfterLast: NONE, setup: null,
  backlog: null, inOrder: true, problems: [], channelPosts: 0, makespan: NaN, loopLagMs: null, wallMs: 0,
};

/**
 * `headersOnly`: stop once every run's header is visible (for the header goal, measured unscaled:
 * the header waits on real work — git, the interaction — more than on any budget).
 */
export async function runOurs(platform: 'discord' | 'slack', n: number, llm: MockLlm, rec: Recording, scale: number, headersOnly = false): Promise<ScenarioResult> {
  const wall = Date.now();
  const w = platform === 'discord' ? await discordWorld(llm, rec, scale, n) : await slackWorld(llm, rec, scale, n);
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const { manager, store } = w.h.engine;
  const settledAt = new Map<string, number>();
  const off = manager.subscribe((e) => {
    if (e.type === 'run_settled') settledAt.set(e.runId, Date.now());
  });
  const backlog = sampleMax(() => store.outbox.countUnfinished(), 10);
  const hits0 = w.rateLimitCount();
  const calls0 = w.requestCount();
  const s = (ms: number) => ms / scale / 1000;
  const dispatched = new Map<string, number>();
  for (let i = 1; i <= n; i++) {
    dispatched.set(cardId(i), Date.now());
    w.sendRun(cardId(i));
  }
  let runs: Run[] = [];
  try {
    runs = await until(() => {
      const list = manager.list(n + 10);
      return list.length >= n ? list : undefined;
    }, SETTLE_TIMEOUT_MS, `${n} runs to start on ${platform}`);
    if (headersOnly) {
      await until(() => runs.every((r) => w.view(r).headerAt !== null), SETTLE_TIMEOUT_MS, `${n} headers on ${platform}`);
      const headers = runs.map((r) => s(w.view(r).headerAt! - dispatched.get(r.cardId)!));
      lag.disable();
      off();
      backlog.stop();
      await w.close();
      return { ...EMPTY, platform, strategy: 'ours (headers, unscaled)', runs: n, header: stats(headers), headerAll: [...headers].sort((a, b) => a - b), rateLimited: w.rateLimitCount() - hits0, loopLagMs: lag.max / 1e6, wallMs: Date.now() - wall };
    }
    await Promise.all(runs.map((r) => manager.waitForSettled(r.id)));
    await Promise.race([w.hub.idle(), until(() => false, SETTLE_TIMEOUT_MS, `${platform} delivery to drain`)]);
  } finally {
    off();
  }
  lag.disable();
  const maxBacklog = backlog.stop();
  const calls = w.requestCount() - calls0;
  const kinds = w.requestKinds();
  const rateLimited = w.rateLimitCount() - hits0;
  const headers: number[] = [];
  const visible: number[] = [];
  const finals: number[] = [];
  const afterLast: number[] = [];
  const setups: number[] = [];
  const problems: string[] = [];
  let inOrder = true;
  let channelPosts = 0;
  let lastFinal = 0;
  for (const run of runs) {
    const t0 = dispatched.get(run.cardId)!;
    const view = w.view(run);
    const released = w.replay.releasedAt ?? 0;
    channelPosts += view.posts.filter((p) => p.at >= released).length + (view.headerAt !== null && view.headerAt >= released ? 1 : 0);
    if (view.headerAt !== null) headers.push(s(view.headerAt - t0));
    else problems.push(`${run.cardId}: no header`);
    const events = w.replay.emitted.filter((e) => e.runId === run.id);
    const vis = visibility(view, events);
    for (const v of vis) if (v !== null) visible.push(s(v));
    if (vis.some((v) => v === null)) problems.push(`${run.cardId}: ${vis.filter((v) => v === null).length} events never visible`);
    const short = run.id.slice(0, 8);
    const finalAt = view.posts.findIndex((p, i) => i > 0 && p.text.includes(`Run ${short}`) && p.text.includes('succeeded'));
    if (finalAt < 0) {
      problems.push(`${run.cardId}: no final message`);
      inOrder = false;
      continue;
    }
    const fAt = view.posts[finalAt]!.at;
    lastFinal = Math.max(lastFinal, fAt);
    // From /run to the agent's start is real work (git, process start) that the time scale does
    // not shrink: counted as it took; from the replays' common start on, time is scaled.
    const setup = (w.replay.startedAt.get(run.id)! - t0) / 1000;
    setups.push(setup);
    finals.push(setup + s(fAt - w.replay.releasedAt!));
    const settled = settledAt.get(run.id);
    if (settled !== undefined) afterLast.push(s(fAt - settled));
    const seen = postedMarkers(view, 1, finalAt);
    if (!sameOrder(seen, expectedOrder(events))) {
      inOrder = false;
      problems.push(`${run.cardId}: content out of order or incomplete (${seen.length} of ${expectedOrder(events).length} markers)`);
    }
  }
  const agentEvents = w.replay.emitted.length;
  await w.close();
  return {
    platform,
    strategy: 'ours',
    runs: n,
    agentEvents,
    calls,
    kinds,
    callsPer1k: (calls / agentEvents) * 1000,
    rateLimited,
    header: stats(headers),
    visible: stats(visible),
    final: stats(finals),
    finalAfterLast: stats(afterLast),
    setup: stats(setups),
    backlog: maxBacklog,
    inOrder: inOrder && problems.length === 0,
    problems,
    channelPosts,
    makespan: s(lastFinal - w.replay.releasedAt!),
    loopLagMs: lag.max / 1e6,
    wallMs: Date.now() - wall,
  };
}
