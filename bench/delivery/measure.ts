/**
 * Reading a thread back: when each replayed event became visible (a post or an edit containing
 * its marker landed, at or after the event), whether the thread holds every event's content in
 * order, and the small statistics the report prints.
 */
import type { RunEventData } from '../../src/core/types.js';
import { markerOf } from './fixture.js';
import type { ThreadView } from './worlds.js';

export interface TimedEvent {
  data: RunEventData;
  at: number;
}

const MARKERS = /\bstep-\d{2}\b/g;

/** Every post and edit of a thread, oldest first. */
function landings(view: ThreadView): { at: number; text: string }[] {
  const out: { at: number; text: string }[] = [];
  for (const p of view.posts) {
    out.push({ at: p.at, text: p.text });
    for (const e of p.edits) out.push(e);
  }
  return out.sort((a, b) => a.at - b.at);
}

/** For each marked event: ms from the event to the first landing carrying its marker (null: never). */
export function visibility(view: ThreadView, events: TimedEvent[]): (number | null)[] {
  const all = landings(view);
  const out: (number | null)[] = [];
  for (const e of events) {
    const marker = markerOf(e.data);
    if (!marker) continue;
    const hit = all.find((l) => l.at >= e.at && l.text.includes(marker));
    out.push(hit ? hit.at - e.at : null);
  }
  return out;
}

/** The markers a thread's durable content must show, in order: assistant texts and finished tools. */
export function expectedOrder(events: TimedEvent[]): string[] {
  return events.filter((e) => e.data.type === 'assistant_text' || e.data.type === 'tool_end').map((e) => markerOf(e.data)).filter((m): m is string => m !== null);
}

/** The markers in posts (not edits) from `from` up to (not including) `to`, in order. */
export function postedMarkers(view: ThreadView, from: number, to: number): string[] {
  const all = view.posts.slice(from, to).flatMap((p) => [...p.text.matchAll(MARKERS)].map((m) => m[0]));
  // A line may name its marker twice (`echo step-15 building && … echo step-15 build ok`).
  return all.filter((m, i) => m !== all[i - 1]);
}

/** True when `seen` is `expected`, each once, in order. */
export function sameOrder(seen: string[], expected: string[]): boolean {
  return seen.length === expected.length && seen.every((m, i) => m === expected[i]);
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export interface Stats {
  p50: number;
  p95: number;
  max: number;
}

export function stats(values: number[]): Stats {
  return { p50: percentile(values, 50), p95: percentile(values, 95), max: values.length ? Math.max(...values) : NaN };
}

/** Samples a number every `everyMs` and keeps the largest. */
export function sampleMax(read: () => number, everyMs: number): { stop(): number } {
  let max = read();
  const timer = setInterval(() => (max = Math.max(max, read())), everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(max, read());
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 10 ms until it returns a value; throws after `timeoutMs` with `what`. */
export async function until<T>(check: () => T | undefined | null | false, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}
