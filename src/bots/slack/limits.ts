/**
 * Slack's numbers, in one place (docs/platforms.md §2 and §5.4). Slack publishes tiers, not
 * exact buckets: delivery paces below them, and a 429 still reschedules the outbox row.
 */
import type { ChatLimits } from '../hub/chat-types.js';

/** `text` is truncated above 40,000 characters; Slack recommends ≤ 4,000. We post ≤ 3,500. */
export const MAX_MESSAGE_CHARS = 3_600;
/** Kept free under the cap for "(2/3)" part markers, fence repair and escaping growth (→ 3,500). */
export const MESSAGE_HEADROOM = 100;
/**
 * `chat.postMessage`: ≈1 message/s per channel with short bursts, and every thread of a channel
 * draws on it. We post at most 3 in any 3.3 s per channel (a burst of 3, then ≈0.9/s). A token
 * bucket (burst 3, then one per 1.1 s) would let a burst of headers out sooner, but the delivery
 * benchmark measured 429s with it: the platform counts arrivals, not our sends, and latency
 * jitter eats a 10 % margin. The window keeps a whole window of slack.
 */
export const CHANNEL_POSTS_PER_WINDOW = 3;
export const CHANNEL_WINDOW_MS = 3_300;
/** Process-wide requests per second across every channel (Slack's workspace-wide post cap is unpublished). */
export const GLOBAL_REQUESTS_PER_SECOND = 10;
/**
 * `chat.update` is Tier 3 (~50/min) for the whole workspace, shared by every run. We plan for 40
 * per minute: each run's live status is edited at most every max(3 s, 60 s × live runs / 40).
 */
export const EDITS_PER_MINUTE = 40;
export const MIN_EDIT_INTERVAL_MS = 3_000;
/** `reactions.add` is Tier 3 too: at most 40 per minute, for the whole workspace. */
export const REACTIONS_PER_MINUTE = 40;
/**
 * `conversations.replies` and `reactions.get` are Tier 3 (~50/min; less for new commercially
 * distributed apps, docs/platforms.md §2.1): catch-up after a restart reads at most 40 a minute.
 */
export const READS_PER_MINUTE = 40;
/**
 * Files: Slack takes up to 1 GB per file, but the bot reads each file into memory to send it: at
 * most 100 MiB per file and per message, and 9 files per message.
 */
export const MAX_UPLOAD_BYTES = 100 * 1024 * 1024;
export const MAX_UPLOAD_FILES = 9;
/**
 * An upload calls `files.getUploadURLExternal` once per file and `files.completeUploadExternal`
 * once (Tier 4 each, 100+ per minute, workspace-wide), then shows as a post in the channel. At most
 * 8 uploads per minute keep each method under 80 calls a minute even with 9 files each.
 */
export const UPLOADS_PER_MINUTE = 8;
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

/**
 * What delivery paces Slack by (src/bots/hub/pacing.ts applies them). The header names the
 * controls (`:octagonal_sign:` …) and `reactions.add` is a scarce workspace-wide tier, so the bot
 * adds no control reactions on Slack; its reactions acknowledge people (👀 on a steer).
 */
export const SLACK_LIMITS: ChatLimits = {
  maxMessageChars: MAX_MESSAGE_CHARS,
  messageHeadroom: MESSAGE_HEADROOM,
  maxThreadNameChars: MAX_THREAD_NAME_CHARS,
  postScope: 'channel',
  posts: { count: CHANNEL_POSTS_PER_WINDOW, windowMs: CHANNEL_WINDOW_MS },
  edits: { count: EDITS_PER_MINUTE, windowMs: 60_000 },
  reactions: { count: REACTIONS_PER_MINUTE, windowMs: 60_000 },
  threadCreates: null,
  reads: { count: READS_PER_MINUTE, windowMs: 60_000 },
  globalPerSecond: GLOBAL_REQUESTS_PER_SECOND,
  statusEditMinIntervalMs: MIN_EDIT_INTERVAL_MS,
  controlReactions: false,
  uploads: {
    maxFileBytes: MAX_UPLOAD_BYTES,
    maxMessageBytes: MAX_UPLOAD_BYTES,
    maxFiles: MAX_UPLOAD_FILES,
    label: "the bot's 100 MB Slack upload limit",
    calls: { count: UPLOADS_PER_MINUTE, windowMs: 60_000 },
  },
};
