/**
 * The bot's own resident memory and CPU with many runs (issue 9): the real run engine (SQLite
 * file, git worktrees, the run queue, the pi driver's RPC framing and event mapping, the event
 * log) with MAX_CONCURRENT_RUNS=4: 4 agents streaming at once, 50 more runs waiting `queued`, and
 * 50 settled runs with their events stored. The agents are a stand-in
 * (bench/fixtures/busy-agent.mjs: pi's record mix for one model call with a tool, every 50 ms),
 * since a bench must not depend on a model. The chat relay and delivery are not part of this
 * measurement (the delivery benchmark measures them).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { loadConfig } from '../src/config.js';
import { createRunEngine } from '../src/core/engine.js';
import type { RunEventData } from '../src/core/types.js';
import { silentLogger } from '../src/logger.js';

export interface ManyRunsResult {
  rssMb: number;
  cpuPercent: number;
  eventsPerSecond: number;
  running: number;
  stored: number;
  queued: number;
}

async function makeRepo(dir: string): Promise<void> {
  const git = (args: string[]) => execa('git', args, { cwd: dir, env: { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' } });
  await git(['init', '-q', '-b', 'main']);
  await git(['config', 'user.name', 'Bench']);
  await git(['config', 'user.email', 'bench@example.invalid']);
  fs.writeFileSync(path.join(dir, 'README.md'), '# bench\n');
  await git(['add', '-A']);
  await git(['commit', '-q', '-m', 'init']);
}

export async function measureManyRuns(options: { running?: number; queued?: number; stored?: number; windowMs?: number } = {}): Promise<ManyRunsResult> {
  const running = options.running ?? 4;
  const queued = options.queued ?? 50;
  const stored = options.stored ?? 50;
  const windowMs = options.windowMs ?? 5000;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'chatops-bench-runs-'));
  const repo = path.join(root, 'repo');
  fs.mkdirSync(repo);
  try {
    await makeRepo(repo);
    const agent = path.resolve(import.meta.dirname, 'fixtures', 'busy-agent.mjs');
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, REPO_ROOT: repo, AGENT_COMMAND: `'${process.execPath}' '${agent}'`, LOG_LEVEL: 'silent', MAX_CONCURRENT_RUNS: String(running), AGENT_SANDBOX: 'off', MIN_FREE_DISK: '0' };
    const engine = await createRunEngine(loadConfig(env, repo), silentLogger());
    try {
      engine.cards.add({ id: 'card-1', title: 'Bench', body: '' });
      const now = new Date().toISOString();
      const history: { data: RunEventData; createdAt: string }[] = Array.from({ length: 200 }, (_, i) => ({
        data: { type: 'assistant_text', text: `step ${i}: ${'done '.repeat(20)}` },
        createdAt: now,
      }));
      for (let i = 0; i < stored; i++) {
        const id = `stored-${i}`;
        engine.store.runs.insert({
          id, cardId: 'card-1', useWorktree: false, ownsWorktree: false, branch: null, worktreePath: null, baseSha: null,
          sessionFile: null, prompt: 'p', tokenHash: id, startedBy: 'bench', parentRunId: null, ownerPid: process.pid, now,
        });
        engine.store.runs.finish(id, { status: 'succeeded', summary: 's', commitSha: null, error: null, tokensInput: 0, tokensOutput: 0, tokensTotal: 0, costUsd: 0, now });
        engine.store.events.append(id, history);
      }
      let events = 0;
      engine.manager.subscribe(() => events++);
      // All at once: the first `running` start their agents, the rest wait in the queue.
      const created: string[] = [];
      const starts = Array.from({ length: running + queued }, () =>
        engine.manager.start({ cardId: 'card-1', startedBy: 'bench', onCreated: (r) => created.push(r.id) }).catch(() => undefined),
      );
      void starts;
      const deadline = Date.now() + 120_000;
      while (engine.manager.activeRunIds().length < running || engine.manager.queuePositions().size < queued) {
        if (Date.now() > deadline) throw new Error(`bench: ${engine.manager.activeRunIds().length} running and ${engine.manager.queuePositions().size} queued after 2 minutes`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 1000)); // warm-up
      const cpu0 = process.cpuUsage();
      const events0 = events;
      const t0 = performance.now();
      let rss = 0;
      const sampler = setInterval(() => (rss = Math.max(rss, process.memoryUsage().rss)), 100);
      await new Promise((r) => setTimeout(r, windowMs));
      clearInterval(sampler);
      const elapsed = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const result = {
        rssMb: Math.round(rss / 1e6),
        cpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / elapsed) * 100),
        eventsPerSecond: Math.round((events - events0) / (elapsed / 1000)),
        running: engine.manager.activeRunIds().length,
        queued: engine.manager.queuePositions().size,
        stored,
      };
      await engine.close();
      return result;
    } finally {
      await engine.close();
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
