/**
 * The delivery bench's output: one table of every scenario, our ratios to the naive strategies
 * and to Slack's floor, and the issue's goals next to the figures, each met or missed with the
 * measured reason. The same text goes to stdout and bench/results.md.
 */
import type { ScenarioResult } from './ours.js';

export interface Goal {
  goal: string;
  measured: string;
  met: boolean;
  why?: string;
}

const f = (v: number | undefined | null, digits = 1): string => (v === undefined || v === null || Number.isNaN(v) ? '–' : v.toFixed(digits));

export function scenarioTable(results: ScenarioResult[]): string {
  const head =
    '| platform | strategy | runs | agent events | API calls | calls / 1k events | 429s | header p50 / max (s) | event → visible p50 / p95 / max (s) | final from /run p50 / max (s) | final after last event p95 (s) | max backlog (rows) | all content, in order | wall (s) |';
  const rule = `|${head.split('|').slice(1, -1).map(() => '---').join('|')}|`;
  const rows = results.map((r) =>
    [
      r.platform,
      r.strategy,
      r.runs,
      r.agentEvents || '–',
      r.calls || '–',
      f(r.callsPer1k, 0),
      r.rateLimited,
      r.header ? `${f(r.header.p50)} / ${f(r.header.max)}` : '–',
      `${f(r.visible.p50)} / ${f(r.visible.p95)} / ${f(r.visible.max)}`,
      `${f(r.final.p50)} / ${f(r.final.max)}`,
      f(r.finalAfterLast.p95),
      r.backlog ?? '–',
      r.strategy === 'edit-only' ? 'n/a (one message)' : r.strategy.includes('headers') ? '–' : r.inOrder ? 'yes' : `NO: ${r.problems.slice(0, 2).join('; ')}`,
      f(r.wallMs / 1000, 0),
    ].join(' | '),
  );
  return [head, rule, ...rows.map((r) => `| ${r} |`)].join('\n');
}

/** Where our calls go, per run: the fixed cost of a run next to what scales with its events. */
export function callBreakdown(results: ScenarioResult[]): string {
  const lines = ['| platform | runs | per run: posts | edits | reactions | thread creates | interaction answers | other | setup /run → agent start p50 / max (real s) | event-loop block max (real ms) |', '|---|---|---|---|---|---|---|---|---|---|'];
  for (const r of results.filter((x) => x.strategy === 'ours')) {
    const k = (name: string) => f((r.kinds[name] ?? 0) / r.runs, 1);
    lines.push(`| ${r.platform} | ${r.runs} | ${k('post')} | ${k('edit')} | ${k('reaction')} | ${k('thread')} | ${k('interaction')} | ${k('other')} | ${r.setup ? `${f(r.setup.p50, 2)} / ${f(r.setup.max, 2)}` : '–'} | ${f(r.loopLagMs, 0)} |`);
  }
  return lines.join('\n');
}

/** Our figures ÷ each naive strategy's, at the same platform and number of runs (< 1: ours is lower). */
export function ratioTable(results: ScenarioResult[]): string {
  const lines = ['| platform | runs | vs strategy | API calls (ours ÷ theirs) | 429s (ours / theirs) | event → visible p95 (ours ÷ theirs) | final p50 (ours ÷ theirs) |', '|---|---|---|---|---|---|---|'];
  for (const naive of results.filter((r) => !r.strategy.startsWith('ours'))) {
    const ours = results.find((r) => r.strategy === 'ours' && r.platform === naive.platform && r.runs === naive.runs);
    if (!ours) continue;
    lines.push(
      `| ${naive.platform} | ${naive.runs} | ${naive.strategy} | ${f(ours.calls / naive.calls, 2)} | ${ours.rateLimited} / ${naive.rateLimited} | ${f(ours.visible.p95 / naive.visible.p95, 2)} | ${f(ours.final.p50 / naive.final.p50, 2)} |`,
    );
  }
  return lines.join('\n');
}

/**
 * Slack's floor for the same work: the posts our runs made in their channel after the replays
 * started ÷ ≈1 post per second per channel. No delivery can finish sooner than that, nor before
 * the recorded run itself is over: the bound is the larger of the two.
 */
export function slackFloor(r: ScenarioResult, runLengthS: number): { floor: number; bound: number; ratio: number } {
  const floor = r.channelPosts / 1;
  const bound = Math.max(floor, runLengthS);
  return { floor, bound, ratio: r.makespan / bound };
}

export function floorTable(results: ScenarioResult[], runLengthS: number): string {
  const lines = [
    '| runs | posts in the channel after the replays started | floor = posts ÷ 1 post/s (s) | bound = max(floor, run length) (s) | replay start → last final message (s) | ours ÷ bound |',
    '|---|---|---|---|---|---|',
  ];
  for (const r of results.filter((x) => x.platform === 'slack' && x.strategy === 'ours')) {
    const { floor, bound, ratio } = slackFloor(r, runLengthS);
    lines.push(`| ${r.runs} | ${r.channelPosts} | ${f(floor)} | ${f(bound)} | ${f(r.makespan)} | ${f(ratio, 2)} |`);
  }
  return lines.join('\n');
}

export function goalTable(goals: Goal[]): string {
  const lines = ['| goal (issue 7) | measured | verdict | why, when missed |', '|---|---|---|---|'];
  for (const g of goals) lines.push(`| ${g.goal} | ${g.measured} | ${g.met ? 'met' : '**missed**'} | ${g.met ? '' : (g.why ?? '')} |`);
  return lines.join('\n');
}
