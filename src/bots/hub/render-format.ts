/**
 * Pure text formatting for run threads: header, live status, digest lines, final result and
 * team notifications. Markdown that Discord, Slack (mrkdwn-ish) and a terminal all read well.
 * Agent-derived text passes through `neutralizeMentions`; adapters still send with mentions off.
 */
import type { Card, Run, RunEventData, RunStatus } from '../../core/types.js';
import { CONTROL_EMOJI } from './chat-types.js';
import { playtestLine } from './playtest-format.js';

type Settled = Extract<RunEventData, { type: 'run_settled' }>;

const ZWSP = '\u200b';

/** Breaks `@everyone`, `@here`, `<@…>`, `<!channel>` so no platform turns agent text into a ping. */
export function neutralizeMentions(text: string): string {
  return text
    .replace(/@(everyone|here|channel)/gi, `@${ZWSP}$1`)
    .replace(/<([@!#])/g, `<${ZWSP}$1`);
}

export function shortRunId(id: string): string {
  return id.slice(0, 8);
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function formatCost(usd: number): string {
  return usd < 0.01 && usd > 0 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

export function formatTokens(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(1)}k`;
  return `${(n / 1_000_000).toFixed(2)}M`;
}

export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, Math.max(0, max - 1))}…`;
}

const STATUS_ICON: Record<RunStatus | 'starting', string> = {
  starting: '⏳',
  queued: '🕒',
  running: '⚙️',
  succeeded: '✅',
  failed: '❌',
  stopped: '🛑',
  interrupted: '⏸️',
};

export function statusIcon(status: RunStatus | 'starting'): string {
  return STATUS_ICON[status];
}

/** A person for display: the platform id without the platform, or the name when known. */
export function displayActor(actor: string | null | undefined): string {
  if (!actor) return 'someone';
  const i = actor.indexOf(':');
  return i === -1 ? actor : actor.slice(i + 1);
}

export const CONTROLS_HELP =
  `Controls: ${CONTROL_EMOJI.stop} stop · ${CONTROL_EMOJI.refine} refine · ${CONTROL_EMOJI.playtest} playtest · ` +
  `${CONTROL_EMOJI.capture} screenshots of the playtest · ${CONTROL_EMOJI.stopPlaytest}️ stop playtest. Reply in the thread to steer the agent; start a reply with ` +
  '`later:` to queue a follow-up for when it would stop; reply after it finished to start a refinement.';

/** The message a run's thread hangs from (in the channel). */
export function headerText(run: Run, card: Card | undefined, startedByName: string): string {
  const title = card ? ` — ${neutralizeMentions(truncate(card.title, 200))}` : '';
  const lines = [
    `🤖 **Run ${shortRunId(run.id)}** on **${run.cardId}**${title}`,
    `Branch: ${run.branch ? `\`${run.branch}\`` : '(none: works in the repository checkout)'}`,
    `Worktree: ${run.worktreePath ? `\`${run.worktreePath}\`` : '(none)'}`,
    `Started by ${neutralizeMentions(startedByName)}`,
    CONTROLS_HELP,
  ];
  return lines.join('\n');
}

/** The thread's name: short, set once. */
export function threadName(run: Run, card: Card | undefined, max: number): string {
  return truncate(`${run.cardId} · ${card?.title ?? 'run'} · ${shortRunId(run.id)}`, max);
}

export interface StatusView {
  runId: string;
  cardId: string;
  state: RunStatus | 'starting';
  elapsedMs: number;
  currentStep: string | null;
  toolLines: string[];
  tokensTotal: number;
  costUsd: number;
  /** RUN_BUDGET_USD when the run is capped: the status shows spent / budget. */
  budgetUsd?: number | null;
  note: string | null;
  refinementOf: string | null;
}

export function statusText(v: StatusView): string {
  const head = `${statusIcon(v.state)} **${v.state}** · ${formatDuration(v.elapsedMs)} · run ${shortRunId(v.runId)} on ${v.cardId}`;
  const lines = [v.refinementOf ? `${head} (refines ${shortRunId(v.refinementOf)})` : head];
  if (v.currentStep) lines.push(`▶ ${v.currentStep}`);
  for (const t of v.toolLines) lines.push(`• ${t}`);
  if (v.note) lines.push(v.note);
  const budget = v.budgetUsd ? ` / ${formatCost(v.budgetUsd)} budget` : '';
  lines.push(`🪙 ${formatTokens(v.tokensTotal)} tokens · ${formatCost(v.costUsd)}${budget}`);
  return neutralizeMentions(lines.join('\n'));
}

/** `bash: cargo build` whether or not the agent driver already put the tool's name in front. */
export function toolSummary(tool: string, summary: string, max: number): string {
  const s = summary.startsWith(tool) ? summary : `${tool}: ${summary}`;
  return truncate(s.replace(/\s+/g, ' '), max);
}

/** One digest line per event that deserves a durable post; null for events that only touch the status. */
export function digestLine(e: RunEventData, nameOf: (actor: string | null) => string = displayActor): string | null {
  switch (e.type) {
    case 'assistant_text':
      return e.text.trim() ? e.text.trim() : null;
    case 'tool_end':
      return `🔧 ${toolSummary(e.tool, e.summary, 160)} ${e.isError ? '✗' : '✓'}${
        e.isError && e.outputTail.trim() ? `\n\`\`\`\n${truncate(e.outputTail.trim(), 400)}\n\`\`\`` : ''
      }`;
    case 'error':
      return `❌ ${e.message}`;
    case 'warning':
      return `⚠️ ${e.message}`;
    case 'user_message':
      // The driver echoes delivered messages with no author; the RunManager's line names them.
      if (e.kind === 'prompt' || e.by === null) return null;
      return `${e.kind === 'steer' ? '🧭 steer' : '📨 follow-up'} from ${nameOf(e.by)}: “${truncate(e.text, 200)}”`;
    case 'retry_end':
      return e.success ? null : `⚠️ gave up after ${e.attempt} attempts: ${e.error ?? 'unknown error'}`;
    case 'playtest':
      return playtestLine(e, nameOf);
    default:
      return null;
  }
}

/** The final result: a new message, so people get notified. */
export function finalText(runId: string, cardId: string, s: Settled): string {
  const lines = [
    `${statusIcon(s.status)} **Run ${shortRunId(runId)} ${s.status}** on ${cardId} in ${formatDuration(s.durationMs)} · ${formatCost(s.costUsd)} · ${formatTokens(s.tokensTotal)} tokens`,
  ];
  const where = [s.branch ? `Branch \`${s.branch}\`` : null, s.commitSha ? `commit \`${s.commitSha.slice(0, 10)}\`` : null].filter(Boolean);
  if (where.length) lines.push(where.join(' · '));
  if (s.filesChanged.length) {
    const shown = s.filesChanged.slice(0, 20).map((f) => `\`${f}\``);
    const more = s.filesChanged.length > 20 ? ` and ${s.filesChanged.length - 20} more` : '';
    lines.push(`Files changed (${s.filesChanged.length}): ${shown.join(', ')}${more}`);
  } else {
    lines.push('Files changed: none');
  }
  if (s.error && s.status !== 'succeeded') lines.push(`Error: ${s.error}`);
  if (s.summary?.trim()) lines.push('', '**Summary**', s.summary.trim());
  lines.push('', `Reply here to refine, or react ${CONTROL_EMOJI.refine} to refine and ${CONTROL_EMOJI.playtest} to playtest.`);
  return neutralizeMentions(lines.join('\n'));
}

export function notifyStartText(runId: string, cardId: string, refinementOf: string | null, startedByName: string): string {
  const what = refinementOf ? `refinement ${shortRunId(runId)} of ${shortRunId(refinementOf)}` : `run ${shortRunId(runId)}`;
  return neutralizeMentions(`▶️ ${cardId}: ${what} started by ${startedByName}`);
}

export function notifySettledText(runId: string, cardId: string, s: Settled): string {
  const parts = [
    `${statusIcon(s.status)} ${cardId}: run ${shortRunId(runId)} ${s.status} in ${formatDuration(s.durationMs)}`,
    formatCost(s.costUsd),
    s.branch ? `branch \`${s.branch}\`` : null,
    s.commitSha ? `commit \`${s.commitSha.slice(0, 10)}\`` : null,
    `${s.filesChanged.length} file${s.filesChanged.length === 1 ? '' : 's'} changed`,
    s.error && s.status !== 'succeeded' ? truncate(s.error, 200) : null,
  ].filter(Boolean);
  return neutralizeMentions(parts.join(' · '));
}
