/**
 * Names of outbox streams. A stream is sent one row at a time, in order; different streams go
 * side by side (see delivery.ts). A run thread's content is the stream named by its thread key.
 */

/** The bot's reactions on a run's header: the controls, in this order. */
export const HEADER_REACTIONS = ['🛑', '🔁', '🎮', '📸', '⏹️'] as const;

/** The stream of the edits of one message (last writer wins). */
export function editStream(outboxId: number): string {
  return `edit:${outboxId}`;
}

/** The stream of the bot's reactions on one message. */
export function reactionStream(outboxId: number | string): string {
  return `react:${outboxId}`;
}

/** The stream of a team notification channel. */
export function notifyStream(channel: string): string {
  return `notify:${channel}`;
}

/**
 * The stream of the bot's answers to people in a thread (a stop, a refusal, a refinement started):
 * apart from the run's content, so they never wait behind a backlog of digests.
 */
export function replyStream(threadKey: string): string {
  return `reply:${threadKey}`;
}
