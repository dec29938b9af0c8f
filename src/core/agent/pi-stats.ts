/**
 * What a finished pi run reports about itself: its usage (`get_session_stats`, minus the totals
 * of the session before this run) and its last answer (`get_last_assistant_text`), docs/pi-rpc.md §6, §8.4.
 */
import type { AgentUsage } from './agent-driver.js';
import type { RpcProcess } from './pi-process.js';

/** `get_session_stats` data → usage, or null when the shape is unexpected. */
export function statsUsage(data: unknown): AgentUsage | null {
  const d = data as { tokens?: Record<string, unknown>; cost?: unknown } | undefined;
  if (!d || typeof d.tokens !== 'object' || d.tokens === null) return null;
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  return { input: n(d.tokens.input), output: n(d.tokens.output), total: n(d.tokens.total), costUsd: n(d.cost) };
}

/** This run's usage: the session's totals minus `baseline`; `fallback` (summed from events) when pi cannot say. */
export async function sessionUsage(proc: RpcProcess, baseline: AgentUsage, fallback: AgentUsage, timeoutMs: number): Promise<AgentUsage> {
  if (!proc.alive) return { ...fallback };
  try {
    const stats = await proc.request({ type: 'get_session_stats' }, timeoutMs);
    const usage = statsUsage(stats.data);
    if (!stats.success || !usage) return { ...fallback };
    return {
      input: Math.max(0, usage.input - baseline.input),
      output: Math.max(0, usage.output - baseline.output),
      total: Math.max(0, usage.total - baseline.total),
      costUsd: Math.max(0, usage.costUsd - baseline.costUsd),
    };
  } catch {
    return { ...fallback };
  }
}

/** The text of the last assistant message that has some, or null (pi answers `{}` when there is none). */
export async function lastAssistantText(proc: RpcProcess, timeoutMs: number): Promise<string | null> {
  try {
    const res = await proc.request({ type: 'get_last_assistant_text' }, timeoutMs);
    const text = (res.data as { text?: unknown } | undefined)?.text;
    return typeof text === 'string' && text.trim() !== '' ? text.trim() : null;
  } catch {
    return null;
  }
}
