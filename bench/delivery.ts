/**
 * `npm run bench:delivery` (also run by `npm run bench`): the delivery benchmark of issue 7.
 *
 * 1, 10 and 50 concurrent runs (plus 5 and 20 for the goals), each replaying the pi run recorded
 * in bench/fixtures/pi-run.events.json with its timing, through the bot's real path: `/run` sent
 * to the fake Discord / fake Slack (rate limits on), the real controller, RunManager, header,
 * relay, outbox, delivery and pacing; only the agent is a replay driver. The same streams also go
 * through three naive strategies straight to the same fakes. Every time window — the fakes'
 * limits, the bot's pacing, the replay — is × SCALE so the bench fits in minutes; figures are
 * converted back to platform time. Prints the tables and writes bench/results.md.
 *
 *   npm run bench:delivery [-- --scale 0.1]
 */
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MockLlm } from '../test/support/mock-llm.js';
import { cleanupTemp } from '../test/support/temp.js';
import { loadRecording } from './delivery/fixture.js';
import { NAIVE_STRATEGIES, runNaive } from './delivery/naive.js';
import { runOurs, type ScenarioResult } from './delivery/ours.js';
import { callBreakdown, floorTable, goalTable, ratioTable, scenarioTable } from './delivery/report.js';
import { goalsOf } from './delivery/goals.js';
import { removeBenchDataDirs } from './delivery/worlds.js';

const RESULTS_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results.md');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

const SCALE = arg('scale', 0.1);
const started = Date.now();
const loadBefore = os.loadavg();
const rec = loadRecording();
const llm = await MockLlm.start();
const results: ScenarioResult[] = [];
const say = (line: string) => process.stdout.write(`${line}\n`);

async function step(label: string, run: () => Promise<ScenarioResult>): Promise<void> {
  say(`… ${label}`);
  const r = await run();
  results.push(r);
  say(`  ${r.calls} calls, ${r.rateLimited} 429s, visible p95 ${r.visible.p95.toFixed(1)} s, final p50 ${r.final.p50.toFixed(1)} s${r.problems.length ? `, problems: ${r.problems.slice(0, 3).join('; ')}` : ''} (${(r.wallMs / 1000).toFixed(0)} s)`);
}

try {
  for (const n of [1, 10, 20, 50]) await step(`ours, Discord, ${n} runs`, () => runOurs('discord', n, llm, rec, SCALE));
  for (const n of [1, 5, 10, 50]) await step(`ours, Slack, ${n} runs`, () => runOurs('slack', n, llm, rec, SCALE));
  // The same 20 Discord runs compressed less (× 0.5): how much of the latency is the bench's own work magnified.
  if (SCALE < 0.5) await step('ours, Discord, 20 runs, scale 0.5', async () => ({ ...(await runOurs('discord', 20, llm, rec, 0.5)), strategy: 'ours (scale 0.5)' }));
  // The header goal, unscaled: what a header waits for is mostly real work (git, the interaction).
  await step('ours, Slack, 5 runs, headers only, unscaled', () => runOurs('slack', 5, llm, rec, 1, true));
  await step('ours, Discord, 5 runs, headers only, unscaled', () => runOurs('discord', 5, llm, rec, 1, true));
  for (const platform of ['discord', 'slack'] as const) {
    for (const strategy of NAIVE_STRATEGIES) await step(`naive ${strategy}, ${platform}, 10 runs`, () => runNaive(platform, strategy, 10, rec, SCALE));
  }
} finally {
  await llm.close();
  cleanupTemp();
  removeBenchDataDirs();
}

const runLengthS = rec.events.at(-1)!.atMs / 1000;
const goals = goalsOf(results, rec.events.length, runLengthS, SCALE, rec.events.filter((e) => e.data.type === 'turn_end').length);
const mem = `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`;
let cpu = os.cpus()[0]?.model ?? 'unknown CPU';
try {
  cpu = `${execSync('nproc').toString().trim()} × ${cpu}`;
} catch {
  cpu = `${os.cpus().length} × ${cpu}`;
}
const minutes = ((Date.now() - started) / 60_000).toFixed(1);
const doc = `# Delivery benchmark results

Written by \`npm run bench:delivery\` (part of \`npm run bench\`); do not edit by hand.

- Date: ${new Date().toISOString()}
- Command: \`node --import tsx bench/delivery.ts${SCALE === 0.1 ? '' : ` --scale ${SCALE}`}\` (took ${minutes} min)
- Machine: ${cpu}, ${mem} memory, Node ${process.version}, ${os.platform()} ${os.release()}; load average ${loadBefore.map((l) => l.toFixed(1)).join(' / ')} at the start, ${os.loadavg().map((l) => l.toFixed(1)).join(' / ')} at the end (the machine is shared)
- Recording: ${rec.events.length} agent events over ${(rec.events.at(-1)!.atMs / 1000).toFixed(1)} s, ${rec.source}, recorded ${rec.recordedAt}

**Time is scaled.** Every window (the fakes' rate limits, the bot's pacing and flush delays, the
event log's batching, discord.js's own throttle) and the replay's timing run × ${SCALE}; every
figure below is converted back to platform time (÷ ${SCALE}), except "set-up", which is real git and
process work that no scale shrinks and is counted as it took. Real work inside the scaled part
(SQLite, HTTP to the fakes, JavaScript, a git spawn blocking the event loop) is magnified × ${Math.round(1 / SCALE)}
by the conversion, so the latencies are pessimistic on a loaded machine. The replays of one
scenario start together once every run's agent has started (worst case for delivery). "Final from
/run" = set-up (real) + replay start → final message (scaled). Naive strategies have no /run: their
times count from the replay start, and their "final" is the final answer's marker showing.
Headers are also measured unscaled (5 runs, stopped once the headers are visible), and 20 Discord
runs once more × 0.5, to show how much of their latency is the bench's own work magnified.

## Figures

${scenarioTable(results)}

### Where our calls go

${callBreakdown(results)}

### Ours ÷ the naive strategies (10 runs)

${ratioTable(results)}

### Slack: ours against the floor its budgets allow

${floorTable(results, runLengthS)}

## Goals

${goalTable(goals)}
`;
fs.writeFileSync(RESULTS_FILE, doc);
say('');
say(doc);
say(`→ ${path.relative(process.cwd(), RESULTS_FILE)}`);
// Like the hot-path bench: a missed goal fails the command (the tables say which and why). Exit
// explicitly: a client's keep-alive socket or sweeper must not hold the bench open once it is done.
process.exit(goals.every((g) => g.met) ? 0 : 1);
