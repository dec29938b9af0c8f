/**
 * The platform boundary of the chat layer: one closed `ChatEvent` union in, one narrow
 * `ChatPort` out. Refs are opaque strings chosen by the adapter (`discord:<channel>`,
 * `slack:C123:1700000000.1234`, `console:t1`); the chat layer stores and compares them and never
 * looks inside. Platform payloads cross only as `raw`, which nothing here reads.
 */

/** A channel where commands arrive and run headers are posted, e.g. `discord:123`. */
export type ChannelRef = string;
/** A thread (one per run and its refinements), e.g. `discord:456` or `slack:C1:1700.1`. */
export type ThreadRef = string;
/** One message; must be enough for the adapter to edit or react to it later. */
export type MessageRef = string;

export interface ChatUser {
  /** `platform:id`, the form ALLOWED_USERS uses, e.g. `discord:1234`. */
  id: string;
  displayName: string;
  /** Role ids (Discord); empty where the platform has none. */
  roleIds: string[];
  /** True for bots, the bot itself included. Adapters filter their own messages; this is the second check. */
  isBot: boolean;
  /**
   * A guest, or a user of another organization (Slack Connect), or someone the adapter could not
   * vouch for: allowed only when listed by id in ALLOWED_USERS, never by ALLOW_ALL_USERS.
   */
  restricted?: boolean;
}

interface ChatEventBase {
  /** `discord`, `slack`, `console`. */
  platform: string;
  /**
   * The platform's id for this delivery, stable across redeliveries: interaction id, Slack
   * `event_id`, message id; for reactions an id of that one add or remove (e.g.
   * `messageId:userId:emoji:add:<boot>.<n>`, since removing and re-adding 🎮 is a new event). Prefixed
   * with the platform by the controller before dedupe.
   */
  dedupeKey: string;
  user: ChatUser;
  channel: ChannelRef;
  /** The platform payload, for logs and debugging only. */
  raw: unknown;
}

/** Names the controller understands; anything else arrives as `help`-worthy text. */
export type CommandName = 'run' | 'runs' | 'card' | 'help';

/**
 * A slash command. The adapter has already acknowledged it (deferred, ephemeral where the
 * platform can) before emitting the event; `respond` answers the invoker privately through
 * that acknowledgement (interaction follow-up, Slack `response_url`, console line).
 */
export interface CommandEvent extends ChatEventBase {
  kind: 'command';
  name: string;
  /**
   * Named options as the platform delivered them (Discord: `card`, `prompt`, `sub`, `id`,
   * `title`); empty when the platform gives free text only (Slack, console).
   */
  options: Record<string, string>;
  /** The free text after the command name (`card-123 make it faster`), '' when none. */
  text: string;
  /** The thread the command was typed in, if any. */
  thread: ThreadRef | null;
  respond(text: string): Promise<void>;
}

/** A human message in a thread (a steer, a follow-up or refinement feedback). */
export interface ReplyEvent extends ChatEventBase {
  kind: 'reply';
  thread: ThreadRef;
  message: MessageRef;
  text: string;
  /**
   * Read back by catch-up after the bot was down, not received live: where it would start a
   * refinement, the thread is asked to confirm with 🔁 instead.
   */
  missed?: boolean;
}

/** A reaction added to or removed from a message. */
export interface ReactionEvent extends ChatEventBase {
  kind: 'reaction';
  message: MessageRef;
  /** The thread the message is in, when the platform says so; the outbox maps it otherwise. */
  thread: ThreadRef | null;
  /** The emoji as a unicode string (`🛑`); variation selectors are ignored. */
  emoji: string;
  added: boolean;
}

/** Anything else the adapter saw and chose to surface (logged, never acted on). */
export interface UnsupportedEvent extends ChatEventBase {
  kind: 'unsupported';
  reason: string;
}

export type ChatEvent = CommandEvent | ReplyEvent | ReactionEvent | UnsupportedEvent;

/** A run thread to read back at start-up (src/bots/hub/catch-up.ts). */
export interface CatchUpThread {
  threadKey: string;
  channel: ChannelRef;
  thread: ThreadRef;
  /** The run header (its reactions are read), when it was delivered. */
  header: MessageRef | null;
  /** The newest message already seen; null: read from the thread's start. */
  after: MessageRef | null;
  /** The bot's unanswered catch-up questions in the thread: their reactions are read like the header's. */
  questions: MessageRef[];
}

/** What a receiver read back of one thread. */
export interface ThreadBacklog {
  threadKey: string;
  /** Messages after `after`, translated as if they had just arrived (replies, `unsupported`), oldest first. */
  messages: ChatEvent[];
  /** The newest message read (any author), to remember as seen; null when none. */
  newest: MessageRef | null;
  /**
   * Control reactions people have on the header and the questions now, as adds; null when there
   * is no header to read.
   */
  reactions: ReactionEvent[] | null;
}

/** Runs one history read when the platform's read budget allows (src/bots/hub/pacing.ts). */
export type PaceRead = <T>(read: () => Promise<T>) => Promise<T>;

/**
 * A budget of "at most `count` requests in any `windowMs`" (a sliding window: never more than the
 * platform's fixed or token-bucket window allows, wherever the platform anchors it). Time windows
 * are scaled together by tests that shrink the fakes' windows.
 */
export interface WindowBudget {
  count: number;
  windowMs: number;
}

/**
 * A platform's numbers, as named constants in its adapter (`src/bots/<platform>/limits.ts`).
 * The pacing policy that applies them is `src/bots/hub/pacing.ts`.
 */
export interface ChatLimits {
  /** Hard cap on one message's text (Discord 2,000, Slack ~4,000 recommended). */
  maxMessageChars: number;
  /** Kept free below the cap for part markers and fence repair (Discord: 100 → 1,900). */
  messageHeadroom: number;
  /** Longest thread name. */
  maxThreadNameChars: number;
  /**
   * Posts: `thread` when each thread has its own bucket (Discord: a thread is a channel),
   * `channel` when every thread of a channel draws on the channel's (Slack: ≈1 post/s per channel).
   */
  postScope: 'thread' | 'channel';
  posts: WindowBudget;
  /**
   * Edits of the bot's messages: `'posts'` when they count against the same bucket as posts
   * (Discord), or a workspace-wide tier of their own (Slack `chat.update`, Tier 3).
   */
  edits: 'posts' | WindowBudget;
  /** Reactions added by the bot: a per-account / per-workspace budget of their own. */
  reactions: WindowBudget;
  /** Thread creations (Discord: per guild, with minutes-long 429s); null when opening a thread makes no request (Slack). */
  threadCreates: WindowBudget | null;
  /**
   * History reads at start-up catch-up (Slack `conversations.replies`, `reactions.get`: Tier 3,
   * workspace-wide); null where the SDK's own limiter suffices (Discord).
   */
  reads?: WindowBudget | null;
  /** Process-wide requests per second across every channel. */
  globalPerSecond: number;
  /** The fastest one run's live status message is edited; with workspace-wide edits it slows as runs share the tier. */
  statusEditMinIntervalMs: number;
  /**
   * Whether the bot adds the control reactions (🛑 🔁 🎮 ⏹️) to a run's header, after the run's first
   * content and at the lowest priority. Off where the header's text already names the controls and
   * reactions draw on a scarce shared tier (Slack).
   */
  controlReactions: boolean;
  /**
   * False where a thread cannot be opened from a message inside a thread (Discord: a thread
   * holds no threads), so `/run` typed in a thread is refused with what to do instead.
   */
  nestedThreads?: boolean;
  /** What one upload may carry (files checked before posting); absent where files cannot be posted (they are named by path instead). */
  uploads?: UploadLimits;
}

/** A file to post as an attachment (a playtest screenshot or clip); its bytes are read from `path` when it is sent. */
export interface ChatFile {
  path: string;
  /** The name the platform shows. */
  name: string;
  contentType: string;
  bytes: number;
}

/** A platform's upload limits, checked before a file is posted, and the budget its upload calls draw on besides the post. */
export interface UploadLimits {
  /** Largest single file. */
  maxFileBytes: number;
  /** Largest sum of the files of one message. */
  maxMessageBytes: number;
  /** Most files in one message. */
  maxFiles: number;
  /** How the note names the limit: "Discord's 10 MB upload limit". */
  label: string;
  /**
   * Calls an upload makes besides the post, on a budget of their own (Slack: one
   * `files.getUploadURLExternal` per file and one `files.completeUploadExternal`, Tier 4 each), or
   * null where an upload is one ordinary post (Discord: a message with attachments).
   */
  calls: WindowBudget | null;
}

/** How delivery should treat a failed call; the adapter knows its SDK's errors. */
export type DeliveryErrorClass =
  | { kind: 'rate_limited'; retryAfterMs: number }
  | { kind: 'transient' }
  /**
   * An edit the platform refuses because the message is too old to edit (Discord 30046 on
   * messages older than about an hour): delivery posts the new text as a new message and edits
   * that one from then on.
   */
  | { kind: 'stale_edit' }
  | { kind: 'permanent'; reason: string };

/**
 * What the chat layer needs from a platform. Every call is made by delivery, one at a time per
 * thread, paced by `limits`; a thrown error is classified with `classifyError` and retried by
 * delivery, so adapters must not retry writes themselves (Discord: nonces make library retries
 * of creates safe; Slack: `retries: 0`, `rejectRateLimitedCalls: true`).
 * Agent-derived text goes through every method: adapters send it with mentions disabled.
 */
export interface ChatPort {
  readonly platform: string;
  readonly limits: ChatLimits;
  /**
   * Posts `body` in `thread` (or at the channel's top level when null). `nonce` (≤ 25 chars) is
   * deterministic per outbox row: a retried create with the same nonce must not post twice
   * (Discord `enforce_nonce`; Slack message metadata). `mayExist` is true when an earlier attempt
   * of this row may have posted (it failed ambiguously, or the bot stopped while it was in flight):
   * the adapter looks the post up before sending it again (Slack by its metadata; Discord among the
   * channel's latest messages, since its nonce only dedupes for a few minutes).
   */
  post(channel: ChannelRef, thread: ThreadRef | null, body: string, opts: { nonce: string; mayExist?: boolean }): Promise<MessageRef>;
  /**
   * Posts `files` with `comment` as one message in `thread`, reading the files now; the relay has
   * checked their sizes against `limits.uploads`. Nonce and `mayExist` as for `post`. Absent where
   * the platform takes no files: delivery then posts the comment with the files' paths.
   */
  upload?(channel: ChannelRef, thread: ThreadRef | null, files: ChatFile[], comment: string, opts: { nonce: string; mayExist?: boolean }): Promise<MessageRef>;
  edit(message: MessageRef, body: string): Promise<void>;
  react(message: MessageRef, emoji: string): Promise<void>;
  /** Opens a thread from a top-level message (Discord: public thread, id = message id; Slack: the message's ts). */
  createThread(channel: ChannelRef, from: MessageRef, name: string): Promise<ThreadRef>;
  /**
   * Says `text` to one person only, in a thread or channel (Slack `chat.postEphemeral`), where
   * the platform has ephemeral messages. Best effort: not retried, not stored.
   */
  whisper?(channel: ChannelRef, thread: ThreadRef | null, user: string, text: string): Promise<void>;
  /** A link users can click to open a thread or message, when the platform has one. */
  permalink?(channel: ChannelRef, thread: ThreadRef | null, message?: MessageRef | null): string | null;
  classifyError(err: unknown): DeliveryErrorClass;
}

/** The emoji controls, without variation selectors. */
export const CONTROL_EMOJI = {
  stop: '🛑',
  refine: '🔁',
  playtest: '🎮',
  stopPlaytest: '⏹',
  /** Screenshots (and a clip) of the running playtest, again. */
  capture: '📸',
} as const;

/** Strips variation selectors so `⏹️` and `⏹` compare equal. */
export function normalizeEmoji(emoji: string): string {
  return emoji.replace(/[\uFE0E\uFE0F]/g, '');
}
