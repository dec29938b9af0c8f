/** One terminal line (or a few) per compact run event, for `chatops run` and `runs show`. */
import type { RunEvent } from '../core/types.js';

function clip(text: string, max = 600): string {
  const t = text.trim();
  return t.length <= max ? t : `${t.slice(0, max - 1)}…`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

export function formatEvent(event: RunEvent): string {
  const time = event.createdAt.slice(11, 19);
  const d = event.data;
  const line = (text: string) => `${time} ${text}`;
  switch (d.type) {
    case 'run_started':
      return line(d.refinementOf ? `refining run ${d.refinementOf.slice(0, 8)} on ${d.branch}` : `started on ${d.branch ?? 'the repository checkout'}${d.worktreePath ? ` in ${d.worktreePath}` : ''}`);
    case 'run_queued':
      return line(`queued, position ${d.position}: waiting for a free slot (at most ${d.maxConcurrent} run${d.maxConcurrent === 1 ? '' : 's'} at once)`);
    case 'assistant_text':
      return line(`agent:\n${indent(clip(d.text, 4000))}`);
    case 'tool_start':
      return line(`▶ ${d.summary}`);
    case 'tool_end':
      return line(`${d.isError ? '✗' : '✓'} ${d.summary}${d.outputTail.trim() ? `\n${indent(clip(d.outputTail))}` : ''}`);
    case 'turn_end':
      return line(`— turn ${d.turn} done`);
    case 'user_message':
      return line(`${d.kind === 'follow_up' ? 'follow-up' : d.kind} from ${d.by ?? 'operator'}: ${clip(d.text, 300)}`);
    case 'retry':
      return line(`model error, retry ${d.attempt}/${d.maxAttempts} in ${Math.round(d.delayMs / 100) / 10}s: ${clip(d.error, 200)}`);
    case 'retry_end':
      return line(d.success ? 'retry succeeded' : `retries exhausted: ${clip(d.error ?? '', 300)}`);
    case 'compaction':
      return line(d.phase === 'start' ? `compacting context (${d.reason})` : `context compacted${d.error ? `: ${d.error}` : ''}`);
    case 'usage':
      return line(`usage: ${d.total} tokens, $${d.costUsd.toFixed(4)}${d.budgetUsd ? ` of the $${d.budgetUsd.toFixed(2)} budget` : ''}`);
    case 'error':
      return line(`error: ${clip(d.message, 1000)}`);
    case 'warning':
      return line(`warning: ${clip(d.message, 1000)}`);
    case 'stop_requested':
      return line(`stop requested${d.by ? ` by ${d.by}` : ''}`);
    case 'playtest':
      if (d.phase === 'started') return line(`playtest started: ${d.text}`);
      if (d.phase === 'output') return line(`playtest output:\n${indent(clip(d.text))}`);
      if (d.phase === 'building') return line(`playtest building (${Math.round((d.elapsedMs ?? 0) / 1000)}s): ${clip(d.text, 200)}`);
      if (d.phase === 'running') return line(`playtest running: ${d.text}`);
      return line(`playtest ${d.phase}${d.exitCode !== null ? ` (exit ${d.exitCode})` : ''}${d.text ? `\n${indent(clip(d.text))}` : ''}`);
    case 'playtest_media':
      return line(`playtest ${d.files.map((f) => `${f.kind} ${f.path} (${f.bytes} bytes)`).join(', ')}${d.note ? `\n${indent(d.note)}` : ''}`);
    case 'run_settled': {
      const parts = [`${d.status.toUpperCase()}`, `branch ${d.branch ?? '-'}`, `commit ${d.commitSha?.slice(0, 10) ?? '-'}`];
      parts.push(`${Math.round(d.durationMs / 1000)}s`, `$${d.costUsd.toFixed(4)}`);
      const files = d.filesChanged.length ? `\n    files: ${d.filesChanged.slice(0, 20).join(', ')}${d.filesChanged.length > 20 ? ' …' : ''}` : '';
      const err = d.error ? `\n    error: ${clip(d.error, 1000)}` : '';
      const summary = d.summary ? `\n${indent(clip(d.summary, 4000))}` : '';
      return line(`settled: ${parts.join(' · ')}${files}${err}${summary}`);
    }
  }
}
