/**
 * Messages pi holds queued, as its `queue_update` events report them, and what the session does
 * with a queue that is stranded when the run would settle (docs/pi-rpc.md §8.1): pi 0.73 injects
 * queued messages only at a turn boundary of a running loop, so a steer or follow-up accepted in
 * the last moments of a run (during a final model call that fails, or between the loop's last
 * look at its queues and `agent_end`) would wait forever. A `prompt` starts a new loop that
 * delivers them: steers before its first model call, follow-ups when it would stop.
 */
import { oneLine } from './pi-events.js';

/** The prompt that flushes a stranded queue; the user's own messages follow it. */
export const FLUSH_PROMPT =
  '[chat-ops bot] The user sent the message(s) that follow while you were finishing your previous answer. Act on them, then finish with your final answer as before.';

/** How often one run's stranded queue is flushed before the rest is reported as not delivered. */
export const MAX_FLUSHES = 3;

export class PiQueue {
  private steering: string[] = [];
  private followUp: string[] = [];

  /** Feeds one wire record; only `queue_update` (the full queues after every change) counts. */
  observe(record: Record<string, unknown>): void {
    if (record.type !== 'queue_update') return;
    this.steering = strings(record.steering);
    this.followUp = strings(record.followUp);
  }

  /** What pi still holds: steers first, then follow-ups. */
  get texts(): string[] {
    return [...this.steering, ...this.followUp];
  }
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function quoted(texts: string[]): string {
  return texts.map((t) => `“${oneLine(t, 200)}”`).join(', ');
}

/** The thread's line when a stranded queue is flushed. */
export function lateDeliveryNote(texts: string[]): string {
  const what = texts.length > 0 ? quoted(texts) : 'your message';
  return `Delivered late: ${what} reached the agent as it was finishing, so the bot handed it over with a new prompt; the run goes on with it.`;
}

/** The thread's line for queued messages the agent will never see (the run was stopped, or flushing failed). */
export function undeliveredNote(texts: string[], why: string): string {
  const what = texts.length > 0 ? quoted(texts) : 'a queued message';
  return `Not delivered (${why}): ${what}. Reply in the thread to start a refinement with it.`;
}
