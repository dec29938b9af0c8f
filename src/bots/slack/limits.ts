/**
 * Slack's numbers, in one place (docs/platforms.md §2 and §5.4). Slack publishes tiers, not
 * exact buckets: delivery paces below them, and a 429 still reschedules the outbox row.
 */
import type { ChatLimits } from '../chat/chat-types.js';

/** `text` is truncated above 40,000 characters; Slack recommends ≤ 4,000. We post ≤ 3,500. */
export const MAX_MESSAGE_CHARS = 3_600;
/** Kept free under the cap for "(2/3)" part markers, fence repair and escaping growth (→ 3,500). */
export const MESSAGE_HEADROOM = 100;
/**
 * `chat.postMessage`: ≈1 message/s per channel, and every thread of a channel draws on it.
 * We post at most one per 1.5 s per channel (edits and reactions go through the same lane).
 */
export const CHANNEL_POSTS_PER_WINDOW = 1;
export const CHANNEL_WINDOW_MS = 1_500;
/** Process-wide requests per second across every channel (Slack's workspace-wide post cap is unpublished). */
export const GLOBAL_REQUESTS_PER_SECOND = 10;
/**
 * `chat.update` is Tier 3 (~50/min) for the whole workspace, shared by every run. We plan for 40
 * per minute: each run's live status is edited at most every max(3 s, 60 s × activeRuns / 40).
 */
export const EDITS_PER_MINUTE = 40;
export const MIN_EDIT_INTERVAL_MS = 3_000;
/** `reactions.add` is Tier 3 too: at most 40 per minute, one per 1.5 s. */
export const REACTIONS_PER_MINUTE = 40;
export const REACTION_INTERVAL_MS = 60_000 / REACTIONS_PER_MINUTE;
/** A Slack thread has no name; the header's first line names it. Kept for the chat layer's thread op. */
export const MAX_THREAD_NAME_CHARS = 100;
/** Slash commands and events must be acknowledged within 3 s. */
export const ACK_DEADLINE_MS = 3_000;
/** How far back the bot looks for a post whose answer was lost (pages of `conversations.replies/history`). */
export const LOOKUP_PAGE_SIZE = 200;
export const LOOKUP_MAX_PAGES = 5;
/** Message metadata type that tags every post the outbox makes (read back with `include_all_metadata`). */
export const OUTBOX_EVENT_TYPE = 'chatops_outbox';

/** Slack API error codes that mean "try again later" rather than "this request is wrong". */
export const TRANSIENT_PLATFORM_ERRORS = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'ratelimited']);

/** The live status edit interval for `activeRuns` runs sharing the workspace's Tier 3 budget. */
export function editIntervalMs(activeRuns: number, scale = 1): number {
  const base = Math.max(MIN_EDIT_INTERVAL_MS, (60_000 * Math.max(0, activeRuns)) / EDITS_PER_MINUTE);
  return Math.max(1, Math.round(base * scale));
}

/**
 * What delivery paces Slack by. `minEditIntervalMs` is a getter: the relay reads it before every
 * status edit, so it grows and shrinks with `activeRuns()`. `scale` multiplies every time window
 * (counts and sizes unchanged), for a fake Slack whose windows are shrunk by the same factor.
 */
export function slackLimits(activeRuns: () => number, scale = 1): ChatLimits {
  const t = (ms: number): number => Math.max(1, Math.round(ms * scale));
  return {
    maxMessageChars: MAX_MESSAGE_CHARS,
    messageHeadroom: MESSAGE_HEADROOM,
    get minEditIntervalMs() {
      return editIntervalMs(activeRuns(), scale);
    },
    // The channel limiter spaces every request of a channel; the lane only keeps order.
    threadMinIntervalMs: 0,
    channelPostsPerWindow: CHANNEL_POSTS_PER_WINDOW,
    channelWindowMs: t(CHANNEL_WINDOW_MS),
    threadsShareChannelBudget: true,
    // chat.update is Tier 3 for the whole workspace, apart from the per-channel post budget.
    editIntervalMs: t(60_000 / EDITS_PER_MINUTE),
    globalPerSecond: GLOBAL_REQUESTS_PER_SECOND,
    reactionIntervalMs: t(REACTION_INTERVAL_MS),
    maxThreadNameChars: MAX_THREAD_NAME_CHARS,
  };
}
