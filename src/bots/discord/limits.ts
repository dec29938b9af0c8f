/**
 * Discord's numbers, in one place (docs/platforms.md §1). Observed limits are planning figures:
 * delivery paces below them, and discord.js still obeys the rate-limit headers and `Retry-After`.
 */
import type { ChatLimits } from '../chat/chat-types.js';

/** Hard cap on `content` of one message. */
export const MAX_MESSAGE_CHARS = 2_000;
/** Kept free under the cap for "(2/3)" part markers and code-fence repair (→ 1,900). */
export const MESSAGE_HEADROOM = 100;
/** Message creates per channel per window; a thread is its own channel (observed 5 / 5 s). */
export const CHANNEL_CREATES_PER_WINDOW = 5;
export const CHANNEL_WINDOW_MS = 5_000;
/** Edits of the live status message of one run, at most one per this interval. */
export const MIN_EDIT_INTERVAL_MS = 1_500;
/** Process-wide requests per second, under Discord's global 50/s. */
export const GLOBAL_REQUESTS_PER_SECOND = 40;
/** Reactions by the bot: Discord allows about one per 250 ms per account; keep a margin. */
export const REACTION_INTERVAL_MS = 350;
/** Longest thread name. */
export const MAX_THREAD_NAME_CHARS = 100;
/** Threads drop out of the channel list after a day without activity (60, 1440, 4320, 10080). */
export const THREAD_AUTO_ARCHIVE_MINUTES = 1_440;
/**
 * A rate-limit wait longer than this throws to delivery (which reschedules the outbox row)
 * instead of sleeping inside discord.js: thread creation can be limited for minutes.
 */
export const REJECT_RATE_LIMIT_OVER_MS = 5_000;
/** Interactions must be answered within 3 s; autocomplete offers at most 25 choices of ≤ 100 chars. */
export const INTERACTION_ACK_DEADLINE_MS = 3_000;
export const AUTOCOMPLETE_MAX_CHOICES = 25;
export const CHOICE_NAME_MAX_CHARS = 100;
/** A create's nonce is at most 25 characters. */
export const MAX_NONCE_CHARS = 25;

/** JSON error codes the adapter treats specially (opcodes-and-status-codes). */
export const DiscordErrorCode = {
  UnknownChannel: 10_003,
  UnknownMessage: 10_008,
  UnknownInteraction: 10_062,
  EditTooOld: 30_046,
  AlreadyAcknowledged: 40_060,
  MissingAccess: 50_001,
  MissingPermissions: 50_013,
  InvalidFormBody: 50_035,
  ThreadArchived: 50_083,
  ThreadAlreadyCreated: 160_004,
  ThreadLocked: 160_005,
} as const;

/** What delivery paces Discord by. */
export const DISCORD_LIMITS: ChatLimits = {
  maxMessageChars: MAX_MESSAGE_CHARS,
  messageHeadroom: MESSAGE_HEADROOM,
  minEditIntervalMs: MIN_EDIT_INTERVAL_MS,
  // The per-channel limiter already spaces requests to one thread; the lane only keeps order.
  threadMinIntervalMs: 0,
  channelPostsPerWindow: CHANNEL_CREATES_PER_WINDOW,
  channelWindowMs: CHANNEL_WINDOW_MS,
  threadsShareChannelBudget: false,
  globalPerSecond: GLOBAL_REQUESTS_PER_SECOND,
  reactionIntervalMs: REACTION_INTERVAL_MS,
  maxThreadNameChars: MAX_THREAD_NAME_CHARS,
};

/**
 * The same limits with every time window multiplied by `factor` (counts and sizes unchanged),
 * for a fake Discord whose windows are shrunk by the same factor: the ratios stay Discord's.
 */
export function scaleLimits(limits: ChatLimits, factor: number): ChatLimits {
  const t = (ms: number): number => Math.max(1, Math.round(ms * factor));
  return {
    ...limits,
    minEditIntervalMs: t(limits.minEditIntervalMs),
    threadMinIntervalMs: limits.threadMinIntervalMs === 0 ? 0 : t(limits.threadMinIntervalMs),
    channelWindowMs: t(limits.channelWindowMs),
    globalPerSecond: limits.globalPerSecond,
    reactionIntervalMs: t(limits.reactionIntervalMs),
  };
}
