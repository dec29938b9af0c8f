/**
 * Three naive ways to put the same recorded streams into chat, for comparison (bench code only):
 * - `per-event`: one post per agent event;
 * - `flush-500ms`: whatever arrived in the last 500 ms as one post;
 * - `edit-only`: one message per run, edited in place with the latest transcript on every event.
 * Each run posts a header in #general and works in its thread; each thread sends one request at a
 * time, in order. Discord goes through discord.js's REST client (it waits on the rate-limit
 * headers and retries 429s itself); Slack through plain HTTP that waits exactly the fake's
 * Retry-After (the exact ms header, since Slack's whole seconds would be ×10 too long here).
 */
import { REST, Routes } from 'discord.js';
import { digestLine, neutralizeMentions } from '../../src/bots/hub/render-format.js';
import { splitMessage } from '../../src/bots/hub/split-message.js';
import type { RunEventData } from '../../src/core/types.js';
import type { Recording } from './fixture.js';
import { markerOf } from './fixture.js';
import { postedMarkers, sameOrder, stats, visibility, type TimedEvent } from './measure.js';
import type { ScenarioResult } from './ours.js';
import { countBy, discordKind, discordThreadView, fakeDiscord, fakeSlack, scaleDiscordRest, slackKind, slackThreadView, type ThreadView } from './worlds.js';

export type NaiveStrategy = 'per-event' | 'flush-500ms' | 'edit-only';
export const NAIVE_STRATEGIES: NaiveStrategy[] = ['per-event', 'flush-500ms', 'edit-only'];

/** What a naive bot needs from a platform: post, edit, and a thread per run. */
interface NaiveClient {
  maxChars: number;
  /** Posts the header; returns the thread to work in. */
  open(title: string): Promise<string>;
  post(thread: string, text: string): Promise<string>;
  edit(thread: string, message: string, text: string): Promise<void>;
  view(thread: string): ThreadView;
  requests(): number;
  kinds(): Record<string, number>;
  rateLimited(): number;
  close(): Promise<void>;
}

/** A one-line rendering of any event (the same digest lines as the bot, plus the events it keeps to its status). */
function line(e: RunEventData): string {
  const d = digestLine(e);
  if (d !== null) return neutralizeMentions(d);
  switch (e.type) {
    case 'tool_start':
      return `▶ ${e.summary}`;
    case 'turn_end':
      return `— turn ${e.turn} done`;
    case 'usage':
      return `tokens ${e.total} · $${e.costUsd.toFixed(4)}`;
    default:
      return e.type;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function discordClient(scale: number): Promise<NaiveClient> {
  const fake = await fakeDiscord(scale);
  const rest = new REST({ api: fake.apiBase }).setToken(fake.token);
  scaleDiscordRest(rest as unknown as Parameters<typeof scaleDiscordRest>[0], scale);
  const general = fake.channels.general;
  const noPings = { parse: [] as string[] };
  return {
    maxChars: 1_900,
    open: async (title) => {
      const header = (await rest.post(Routes.channelMessages(general), { body: { content: title, allowed_mentions: noPings } })) as { id: string };
      const thread = (await rest.post(Routes.threads(general, header.id), { body: { name: title.slice(0, 100) } })) as { id: string };
      return thread.id;
    },
    post: async (thread, text) => ((await rest.post(Routes.channelMessages(thread), { body: { content: text, allowed_mentions: noPings } })) as { id: string }).id,
    edit: async (thread, message, text) => void (await rest.patch(Routes.channelMessage(thread, message), { body: { content: text, allowed_mentions: noPings } })),
    view: (thread) => discordThreadView(fake, thread),
    requests: () => fake.requests.length,
    kinds: () => countBy(fake.requests, (r) => discordKind(r.method, r.path)),
    rateLimited: () => fake.rateLimitHits.length,
    close: () => fake.close(),
  };
}

async function slackClient(scale: number): Promise<NaiveClient> {
  const slack = await fakeSlack(scale);
  const general = slack.channels.general;
  const call = async (method: string, body: Record<string, unknown>): Promise<Record<string, unknown>> => {
    for (;;) {
      const res = await fetch(`${slack.apiUrl}${method}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${slack.botToken}`, 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify(body),
      });
      const json = (await res.json()) as Record<string, unknown>;
      if (res.status === 429) {
        await sleep(Number(res.headers.get('x-fake-retry-after-ms') ?? Number(res.headers.get('retry-after') ?? 1) * 1000));
        continue;
      }
      if (json.ok !== true) throw new Error(`${method}: ${String(json.error)}`);
      return json;
    }
  };
  return {
    maxChars: 3_500,
    open: async (title) => String((await call('chat.postMessage', { channel: general, text: title })).ts),
    post: async (thread, text) => String((await call('chat.postMessage', { channel: general, thread_ts: thread, text, unfurl_links: false })).ts),
    edit: async (_thread, message, text) => void (await call('chat.update', { channel: general, ts: message, text })),
    view: (thread) => slackThreadView(slack, thread),
    requests: () => slack.requests.length,
    kinds: () => countBy(slack.requests, (r) => slackKind(r.method)),
    rateLimited: () => slack.rateLimitHits.length,
    close: () => slack.close(),
  };
}

/** One naive run: replays the recording (× scale) from `t0` into its own thread. */
async function naiveRun(client: NaiveClient, strategy: NaiveStrategy, rec: Recording, scale: number, i: number): Promise<{ thread: string; events: TimedEvent[] }> {
  let chain: Promise<unknown> = Promise.resolve();
  const queue = (job: () => Promise<unknown>) => (chain = chain.then(job));
  const thread = await client.open(`🤖 Run ${i} on card-b${String(i).padStart(2, '0')}`);
  const events: TimedEvent[] = [];
  const lines: string[] = [];
  let buffer: string[] = [];
  let statusId: Promise<string> | null = strategy === 'edit-only' ? (queue(() => client.post(thread, '⚙️ starting…')) as Promise<string>) : null;
  const flush = () => {
    if (buffer.length === 0) return;
    const text = buffer.join('\n');
    buffer = [];
    for (const part of splitMessage(text, client.maxChars)) queue(() => client.post(thread, part));
  };
  const timer = strategy === 'flush-500ms' ? setInterval(flush, 500 * scale) : null;
  const t0 = Date.now();
  await Promise.all(
    rec.events.map(
      (e) =>
        new Promise<void>((resolve) =>
          setTimeout(() => {
            events.push({ data: e.data, at: Date.now() });
            const l = line(e.data);
            if (strategy === 'per-event') for (const part of splitMessage(l, client.maxChars)) queue(() => client.post(thread, part));
            else if (strategy === 'flush-500ms') buffer.push(l);
            else {
              lines.push(l);
              const tail = lines.join('\n');
              const text = tail.length <= client.maxChars ? tail : `…${tail.slice(tail.length - client.maxChars + 1)}`;
              queue(async () => client.edit(thread, await statusId!, text));
            }
            resolve();
          }, Math.max(0, t0 + Math.round(e.atMs * scale) - Date.now())),
        ),
    ),
  );
  if (timer) clearInterval(timer);
  flush();
  await chain;
  statusId = null;
  return { thread, events };
}

export async function runNaive(platform: 'discord' | 'slack', strategy: NaiveStrategy, n: number, rec: Recording, scale: number): Promise<ScenarioResult> {
  const wall = Date.now();
  const client = platform === 'discord' ? await discordClient(scale) : await slackClient(scale);
  const t0 = Date.now();
  const runs = await Promise.all(Array.from({ length: n }, (_, i) => naiveRun(client, strategy, rec, scale, i + 1)));
  const s = (ms: number) => ms / scale / 1000;
  const visible: number[] = [];
  const finals: number[] = [];
  const afterLast: number[] = [];
  const problems: string[] = [];
  let inOrder = strategy !== 'edit-only';
  let lastFinal = 0;
  let channelPosts = 0;
  const finalMarker = [...rec.events].reverse().map((e) => markerOf(e.data)).find(Boolean)!;
  for (const [i, r] of runs.entries()) {
    const view = client.view(r.thread);
    channelPosts += view.posts.length + 1;
    const vis = visibility(view, r.events);
    for (const v of vis) if (v !== null) visible.push(s(v));
    if (vis.some((v) => v === null)) problems.push(`run ${i + 1}: ${vis.filter((v) => v === null).length} events never visible`);
    const lastEvent = r.events.at(-1)!.at;
    const finalEvent = r.events.find((e) => markerOf(e.data) === finalMarker)!;
    const landed = visibility(view, [finalEvent])[0];
    if (landed !== null && landed !== undefined) {
      const at = finalEvent.at + landed;
      lastFinal = Math.max(lastFinal, at);
      finals.push(s(at - t0));
      afterLast.push(s(Math.max(0, at - lastEvent)));
    }
    if (strategy !== 'edit-only') {
      const all = r.events.map((e) => markerOf(e.data)).filter((m): m is string => m !== null);
      const expected = all.filter((m, k) => m !== all[k - 1]);
      if (!sameOrder(postedMarkers(view, 0, view.posts.length), expected)) inOrder = false;
    }
  }
  const calls = client.requests();
  const result: ScenarioResult = {
    platform,
    strategy,
    runs: n,
    agentEvents: n * rec.events.length,
    calls,
    kinds: client.kinds(),
    callsPer1k: (calls / (n * rec.events.length)) * 1000,
    rateLimited: client.rateLimited(),
    header: null,
    visible: stats(visible),
    final: stats(finals),
    finalAfterLast: stats(afterLast),
    setup: null,
    backlog: null,
    inOrder,
    problems,
    channelPosts,
    makespan: s(lastFinal - t0),
    loopLagMs: null,
    wallMs: 0,
  };
  await client.close();
  result.wallMs = Date.now() - wall;
  return result;
}
