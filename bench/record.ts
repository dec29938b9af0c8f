/**
 * `npm run bench:record`: runs the real pi (through the run engine, as the e2e tests do) against
 * the scripted model with a realistic multi-turn script — several tool calls (bash, a write, a
 * failing command, an 8-second build), longer assistant texts, a 10-second streamed answer —
 * and saves the compact events the driver emitted, with their relative times, as the fixture
 * the delivery benchmark replays (bench/fixtures/pi-run.events.json). Takes about 40 s.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/config.js';
import type { AgentDriver, AgentStartOptions } from '../src/core/agent/agent-driver.js';
import { PiDriver } from '../src/core/agent/pi-driver.js';
import { createRunEngine } from '../src/core/engine.js';
import { silentLogger } from '../src/logger.js';
import { makeBotEnv } from '../test/support/engine-harness.js';
import { MockLlm, type Reply } from '../test/support/mock-llm.js';
import { cleanupTemp } from '../test/support/temp.js';
import { FIXTURE_FILE, markerOf, type RecordedEvent, type Recording } from './delivery/fixture.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const TOPIC = 'the player controller reads input in one system and applies velocity in another, so the jump has to respect both the grounded check and the fixed timestep.';

/** One model answer: think time, its text (sentences; 0 = one short line), its tool calls. */
interface Turn {
  thinkMs: number;
  sentences: number;
  tools: ((m: string) => { name: string; arguments: Record<string, unknown> })[];
  /** The final answer: streamed over this many ms. */
  streamMs?: number;
}

const bash = (cmd: (m: string) => string) => (m: string) => ({ name: 'bash', arguments: { command: cmd(m) } });

/** A run of a coding agent on a small game card: explore, plan, write, build, test, fix, commit, answer. */
const TURNS: Turn[] = [
  { thinkMs: 1500, sentences: 2, tools: [bash((m) => `echo ${m} && ls -la`), bash((m) => `echo ${m} && git log --oneline -5`)] },
  { thinkMs: 1200, sentences: 0, tools: [bash((m) => `echo ${m} && cat README.md`), bash((m) => `echo ${m} && grep -rn 'jump' . --include='*.md' || true`), bash((m) => `echo ${m} && find . -maxdepth 2 -not -path './.git*' | head -50`)] },
  { thinkMs: 2500, sentences: 5, tools: [
    (m) => ({ name: 'write', arguments: { path: `notes/${m}-plan.md`, content: '# Jump\n\nSpace makes the player jump.\n- grounded check\n- fixed timestep\n' } }),
    bash((m) => `echo ${m} && mkdir -p src && printf 'pub fn jump(v: f32) -> f32 { v + 4.5 }\\n' > src/jump.rs && wc -l src/jump.rs`),
    bash((m) => `echo ${m} && printf 'pub fn pressed(k: &str) -> bool { k == "space" }\\n' > src/input.rs && wc -l src/input.rs`),
  ] },
  { thinkMs: 1000, sentences: 0, tools: [bash((m) => `echo ${m} && cat src/jump.rs src/input.rs`)] },
  { thinkMs: 1000, sentences: 1, tools: [bash((m) => `echo ${m} building && sleep 8 && echo ${m} build ok`)] },
  { thinkMs: 1200, sentences: 0, tools: [bash((m) => `echo ${m} && cat old-config.toml`)] },
  { thinkMs: 1800, sentences: 3, tools: [
    bash((m) => `echo ${m} && sed -i 's/4.5/5.0/' src/jump.rs && cat src/jump.rs`),
    bash((m) => `echo ${m} && grep -n 'fn ' src/*.rs`),
    bash((m) => `echo ${m} && wc -l src/*.rs notes/*.md`),
  ] },
  { thinkMs: 900, sentences: 0, tools: [bash((m) => `echo ${m} testing && sleep 3 && echo ${m} 12 tests passed`)] },
  { thinkMs: 1400, sentences: 2, tools: [bash((m) => `echo ${m} && git add -A && git commit -q -m 'Add a jump button' && git log -1 --oneline`), bash((m) => `echo ${m} && git status --short | wc -l`)] },
  { thinkMs: 1500, sentences: 8, tools: [], streamMs: 10_000 },
];

/** Markers in order: each answer's text, then each of its tool calls. */
function markerAt(turn: number, slot: number): string {
  let n = 0;
  for (let t = 0; t < turn; t++) n += 1 + TURNS[t]!.tools.length;
  return `step-${String(n + slot + 1).padStart(2, '0')}`;
}

function answer(turn: number): Reply {
  const t = TURNS[Math.min(turn, TURNS.length - 1)]!;
  const m = markerAt(turn, 0);
  const text = t.sentences === 0 ? `${m} Next: ${t.tools.length === 1 ? 'one more check' : `${t.tools.length} quick checks`}.` : `${m} ${Array.from({ length: t.sentences }, (_, i) => `(${i + 1}) ${TOPIC}`).join(' ')}`;
  if (t.streamMs) {
    const parts = 20;
    const size = Math.ceil(text.length / parts);
    return { textChunks: Array.from({ length: parts }, (_, i) => text.slice(i * size, (i + 1) * size)), delayMs: t.streamMs / parts };
  }
  return { text, toolCalls: t.tools.map((tool, i) => tool(markerAt(turn, i + 1))) };
}

async function main(): Promise<void> {
  const llm = await MockLlm.start(async (req) => {
    const turn = req.messages.filter((m) => m.role === 'assistant').length;
    await sleep(TURNS[turn]?.thinkMs ?? 1000);
    return answer(turn);
  });
  try {
    const { repo, env } = await makeBotEnv(llm);
    const config = loadConfig(env, repo);
    const pi = new PiDriver({ command: config.agentCommand, args: config.agentArgs, agentDir: config.piAgentDir, env: config.agentEnv, logger: silentLogger() });
    const events: RecordedEvent[] = [];
    const recording: AgentDriver = {
      start: (o: AgentStartOptions) => {
        const t0 = Date.now();
        return pi.start({ ...o, onEvent: (data) => (events.push({ atMs: Date.now() - t0, data }), o.onEvent(data)) });
      },
    };
    const engine = await createRunEngine(config, silentLogger(), { agent: recording });
    engine.cards.add({ id: 'card-1', title: 'Add a jump button', body: 'Space makes the player jump. Keep the fixed timestep.' });
    const started = Date.now();
    const run = await engine.manager.start({ cardId: 'card-1', startedBy: 'bench' });
    const settled = await engine.manager.waitForSettled(run.id);
    await engine.close();
    if (settled.status !== 'succeeded') throw new Error(`the recorded run ${settled.status}: ${settled.error ?? ''}`);
    const markers = events.map((e) => markerOf(e.data)).filter(Boolean);
    const out: Recording = {
      recordedAt: new Date().toISOString(),
      source: `pi ${piVersion()} (real, RPC mode) against test/support/mock-llm.ts with the script in bench/record.ts`,
      events,
      outcome: {
        status: 'succeeded',
        summary: settled.summary,
        error: null,
        usage: { input: settled.tokensInput, output: settled.tokensOutput, total: settled.tokensTotal, costUsd: settled.costUsd },
      },
    };
    fs.mkdirSync(path.dirname(FIXTURE_FILE), { recursive: true });
    fs.writeFileSync(FIXTURE_FILE, `${JSON.stringify(out, null, 1)}\n`);
    const types = new Map<string, number>();
    for (const e of events) types.set(e.data.type, (types.get(e.data.type) ?? 0) + 1);
    process.stdout.write(
      `recorded ${events.length} events over ${((events.at(-1)?.atMs ?? 0) / 1000).toFixed(1)} s (run took ${((Date.now() - started) / 1000).toFixed(1)} s); ` +
        `${markers.length} carry markers; ${[...types].map(([t, n]) => `${t} ${n}`).join(', ')}\n→ ${path.relative(process.cwd(), FIXTURE_FILE)}\n`,
    );
  } finally {
    await llm.close();
    cleanupTemp();
  }
}

function piVersion(): string {
  const pkg = path.join(process.cwd(), 'node_modules', '@mariozechner', 'pi-coding-agent', 'package.json');
  return (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version: string }).version;
}

await main();
