/**
 * Discord's numbers, in one place (docs/platforms.md §1). Observed limits are planning figures:
 * delivery paces below them, and discord.js still obeys the rate-limit headers and `Retry-After`.
 */
import type { ChatLimits } from '../hub/chat-types.js';

/** Hard cap on `content` of one message. */
export const MAX_MESSAGE_CHARS = 2_000;
/** Kept free under the cap for "(2/3)" part markers and code-fence repair (→ 1,900). */
export const MESSAGE_HEADROOM = 100;
/**
 * Message creates per channel per window; a thread is its own channel (observed 5 / 5 s). Edits
 * count in the same bucket. We use the whole burst, plus a margin on the window for latency.
 */
export const CHANNEL_CREATES_PER_WINDOW = 5;
export const CHANNEL_WINDOW_MS = 5_250;
/** Edits of the live status message of one run, at most one per this interval. */
export const MIN_EDIT_INTERVAL_MS = 1_500;
/** Process-wide requests per second, under Discord's global 50/s. */
export const GLOBAL_REQUESTS_PER_SECOND = 40;
/** Reactions by the bot: Discord allows about one per 250 ms per account; keep a margin. */
export const REACTION_INTERVAL_MS = 350;
/** Thread creations, per guild: dynamic, with minutes-long 429s when exceeded; stay well under. */
export const THREAD_CREATES_PER_WINDOW = 10;
export const THREAD_CREATE_WINDOW_MS = 10_500;
/** Longest thread name. */
export const MAX_THREAD_NAME_CHARS = 100;
/** Threads drop out of the channel list after a day without activity (60, 1440, 4320, 10080). */
export const THREAD_AUTO_ARCHIVE_MINUTES = 1_440;
/**
 * A rate-limit wait longer than this throws to delivery (which reschedules the outbox row)
 * instead of sleeping inside discord.js: thread creation can be limited for minutes.
 */
export const REJECT_RATE_LIMIT_OVER_MS = 5_000;
/** Longest a write may go unanswered (a hung platform) before delivery retries it (nonces make that safe). */
export const WRITE_TIMEOUT_MS = 15_000;
/** Interactions must be answered within 3 s; autocomplete offers at most 25 choices of ≤ 100 chars. */
export const INTERACTION_ACK_DEADLINE_MS = 3_000;
export const AUTOCOMPLETE_MAX_CHOICES = 25;
export const CHOICE_NAME_MAX_CHARS = 100;
/** A create's nonce is at most 25 characters. */
export const MAX_NONCE_CHARS = 25;

/**
 * Attachments: 10 MiB per message for a bot in a guild without boosts (boosted guilds allow more;
 * the request itself may be 25 MiB), at most 10 files per message. Checked before posting.
 */
export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;
export const MAX_UPLOAD_FILES = 10;

/** JSON error codes the adapter treats specially (opcodes-and-status-codes). */
export const DiscordErrorCode = {
  UnknownChannel: 10_003,
  UnknownMessage: 10_008,
  UnknownInteraction: 10_062,
  EditTooOld: 30_046,
  AlreadyAcknowledged: 40_060,
  MissingAccess: 50_001,
  MissingPermissions: 50_013,
  CannotActOnChannelType: 50_024,
  InvalidFormBody: 50_035,
  ThreadArchived: 50_083,
  ThreadAlreadyCreated: 160_004,
  ThreadLocked: 160_005,
} as const;

/** What delivery paces Discord by (src/bots/hub/pacing.ts applies them). */
export const DISCORD_LIMITS: ChatLimits = {
  maxMessageChars: MAX_MESSAGE_CHARS,
  messageHeadroom: MESSAGE_HEADROOM,
  maxThreadNameChars: MAX_THREAD_NAME_CHARS,
  postScope: 'thread',
  posts: { count: CHANNEL_CREATES_PER_WINDOW, windowMs: CHANNEL_WINDOW_MS },
  edits: 'posts',
  reactions: { count: 1, windowMs: REACTION_INTERVAL_MS },
  threadCreates: { count: THREAD_CREATES_PER_WINDOW, windowMs: THREAD_CREATE_WINDOW_MS },
  globalPerSecond: GLOBAL_REQUESTS_PER_SECOND,
  statusEditMinIntervalMs: MIN_EDIT_INTERVAL_MS,
  // Reactions have a per-account bucket of their own on Discord, and clicking an existing
  // reaction is how people use them there: the header gets the controls, after its first content.
  controlReactions: true,
  // A thread is opened from a channel message; a message inside a thread cannot have one.
  nestedThreads: false,
  // An upload is one message create (multipart) in the thread's bucket: no budget of its own.
  uploads: { maxFileBytes: MAX_UPLOAD_BYTES, maxMessageBytes: MAX_UPLOAD_BYTES, maxFiles: MAX_UPLOAD_FILES, label: "Discord's 10 MB upload limit", calls: null },
};
