/**
 * The ChatPort over discord.js's REST client: the only place run output reaches Discord.
 * Every create and edit goes out with `allowed_mentions: { parse: [] }` (an edit without it
 * would re-parse mentions with the defaults), creates carry the outbox row's nonce with
 * `enforce_nonce` so a retried create returns the first message instead of posting twice (and,
 * when an earlier attempt may have posted, the channel's latest messages are looked at first).
 * Writes are never retried here: delivery owns retries, guided by `classifyError`.
 */
import fs from 'node:fs/promises';
import { DiscordAPIError, HTTPError, RateLimitError, Routes, type APIChannel, type APIMessage, type APIUser, type REST } from 'discord.js';
import type { Logger } from 'pino';
import type { ChannelRef, ChatFile, ChatLimits, ChatPort, DeliveryErrorClass, MessageRef, ThreadRef } from '../hub/chat-types.js';
import { DISCORD_LIMITS, DiscordErrorCode, MAX_NONCE_CHARS, MAX_THREAD_NAME_CHARS, THREAD_AUTO_ARCHIVE_MINUTES } from './limits.js';
import { channelIdOf, channelRef, messageIdsOf, messageRef, PLATFORM, permalinkOf } from './refs.js';

const NO_MENTIONS = { parse: [] as string[] };
/** How many of a channel's latest messages a post that may exist is looked for in (Discord's page size). */
const LOOKUP_LIMIT = 50;

/** Network failures worth a retry (timeouts, resets, refused connections). */
const TRANSIENT_NETWORK = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

export interface DiscordPortOptions {
  rest: Pick<REST, 'post' | 'patch' | 'put' | 'get'>;
  guildId: string;
  logger: Logger;
  limits?: ChatLimits;
}

export class DiscordPort implements ChatPort {
  readonly platform = PLATFORM;
  readonly limits: ChatLimits;
  /** The bot's user id, learnt on the first lookup. */
  private me: string | undefined;

  constructor(private readonly opts: DiscordPortOptions) {
    this.limits = opts.limits ?? DISCORD_LIMITS;
  }

  /**
   * Creates a message with the row's nonce and `enforce_nonce`: within Discord's window ("the past
   * few minutes") a repeat returns the first message. With `mayExist` (an earlier attempt may have
   * been created: a lost answer, a crash) the channel's recent messages are looked at first, so a
   * repeat after a longer outage does not post twice either.
   */
  async post(channel: ChannelRef, thread: ThreadRef | null, body: string, opts: { nonce: string; mayExist?: boolean }): Promise<MessageRef> {
    const channelId = channelIdOf(thread ?? channel);
    const nonce = opts.nonce.slice(0, MAX_NONCE_CHARS);
    if (opts.mayExist) {
      const found = await this.findRecent(channelId, body);
      if (found) {
        this.opts.logger.info({ channelId, nonce, messageId: found }, 'an earlier attempt had posted; reusing it instead of posting twice');
        return messageRef(channelId, found);
      }
    }
    const created = (await this.opts.rest.post(Routes.channelMessages(channelId), {
      body: { content: body, allowed_mentions: NO_MENTIONS, nonce, enforce_nonce: true },
    })) as APIMessage;
    return messageRef(channelId, created.id);
  }

  /** One message with the files as attachments (multipart/form-data), with the same nonce rules as `post`. */
  async upload(channel: ChannelRef, thread: ThreadRef | null, files: ChatFile[], comment: string, opts: { nonce: string }): Promise<MessageRef> {
    const channelId = channelIdOf(thread ?? channel);
    const nonce = opts.nonce.slice(0, MAX_NONCE_CHARS);
    const raw = await Promise.all(files.map(async (f) => ({ name: f.name, contentType: f.contentType, data: await fs.readFile(f.path) })));
    const created = (await this.opts.rest.post(Routes.channelMessages(channelId), {
      body: { content: comment, allowed_mentions: NO_MENTIONS, nonce, enforce_nonce: true, attachments: files.map((f, id) => ({ id, filename: f.name })) },
      files: raw,
    })) as APIMessage;
    return messageRef(channelId, created.id);
  }

  async edit(message: MessageRef, body: string): Promise<void> {
    const { channelId, messageId } = messageIdsOf(message);
    await this.unarchivingOnce(channelId, () =>
      this.opts.rest.patch(Routes.channelMessage(channelId, messageId), { body: { content: body, allowed_mentions: NO_MENTIONS } }),
    );
  }

  async react(message: MessageRef, emoji: string): Promise<void> {
    const { channelId, messageId } = messageIdsOf(message);
    await this.unarchivingOnce(channelId, () => this.opts.rest.put(Routes.channelMessageOwnReaction(channelId, messageId, encodeURIComponent(emoji))));
  }

  /** A public thread started from the header message (thread id = message id). Idempotent. */
  async createThread(channel: ChannelRef, from: MessageRef, name: string): Promise<ThreadRef> {
    const { channelId, messageId } = messageIdsOf(from);
    try {
      const thread = (await this.opts.rest.post(Routes.threads(channelId, messageId), {
        body: { name: name.slice(0, MAX_THREAD_NAME_CHARS), auto_archive_duration: THREAD_AUTO_ARCHIVE_MINUTES },
      })) as APIChannel;
      return channelRef(thread.id);
    } catch (err) {
      // A retry after a lost response: the message already has its thread, and its id is the message's.
      if (err instanceof DiscordAPIError && err.code === DiscordErrorCode.ThreadAlreadyCreated) {
        this.opts.logger.info({ channel, messageId }, 'thread already existed for the header; reusing it');
        return channelRef(messageId);
      }
      throw err;
    }
  }

  permalink(channel: ChannelRef, thread: ThreadRef | null, message?: MessageRef | null): string | null {
    try {
      const target = message ? messageIdsOf(message) : { channelId: channelIdOf(thread ?? channel), messageId: null };
      return permalinkOf(this.opts.guildId, target.channelId, target.messageId);
    } catch {
      return null;
    }
  }

  classifyError(err: unknown): DeliveryErrorClass {
    return classifyDiscordError(err);
  }

  /**
   * The bot's own message with exactly this text among the channel's latest (Discord does not
   * return a message's nonce when it is read back, so the text is what identifies it).
   */
  private async findRecent(channelId: string, body: string): Promise<string | undefined> {
    this.me ??= ((await this.opts.rest.get(Routes.user('@me'))) as APIUser).id;
    const recent = (await this.opts.rest.get(Routes.channelMessages(channelId), { query: new URLSearchParams({ limit: String(LOOKUP_LIMIT) }) })) as APIMessage[];
    return recent.find((m) => m.author?.id === this.me && m.content === body)?.id;
  }

  /**
   * Edits and reactions fail with 50083 in an archived thread (Discord archives idle threads);
   * unarchive it and try once more. Posting unarchives by itself.
   */
  private async unarchivingOnce(channelId: string, call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
    } catch (err) {
      if (!(err instanceof DiscordAPIError && err.code === DiscordErrorCode.ThreadArchived)) throw err;
      this.opts.logger.info({ channelId }, 'thread is archived; unarchiving it to edit or react');
      await this.opts.rest.patch(Routes.channel(channelId), { body: { archived: false } });
      await call();
    }
  }
}

/**
 * discord.js errors → what delivery should do: a `RateLimitError` (a wait over our threshold,
 * thrown instead of slept) → `rate_limited` after its wait; 5xx, timeouts and connection resets
 * → `transient`; any other API error → `permanent` with its code (e.g. 10008 unknown message,
 * 50083 archived thread, 50013 missing permissions).
 */
export function classifyDiscordError(err: unknown): DeliveryErrorClass {
  if (err instanceof RateLimitError) {
    return { kind: 'rate_limited', retryAfterMs: Math.max(err.retryAfter, err.timeToReset, 0) };
  }
  if (err instanceof DiscordAPIError) {
    if (err.status === 429) return { kind: 'rate_limited', retryAfterMs: retryAfterOf(err.rawError) };
    if (err.status >= 500) return { kind: 'transient' };
    if (err.code === DiscordErrorCode.EditTooOld) return { kind: 'stale_edit' };
    const hint = typeof err.code === 'number' ? HINTS[err.code] : undefined;
    return { kind: 'permanent', reason: `Discord ${err.status} (code ${err.code}): ${err.message}${hint ? `: ${hint}` : ''}` };
  }
  if (err instanceof HTTPError) {
    if (err.status === 429) return { kind: 'rate_limited', retryAfterMs: 1_000 };
    if (err.status >= 500 || err.status === 408) return { kind: 'transient' };
    return { kind: 'permanent', reason: `Discord HTTP ${err.status}: ${err.message}` };
  }
  if (isTransientNetworkError(err)) return { kind: 'transient' };
  return { kind: 'permanent', reason: err instanceof Error ? err.message : String(err) };
}

/** What to do about the refusals a misconfigured channel causes (said to the person who typed /run). */
const HINTS: Record<number, string> = {
  [DiscordErrorCode.MissingAccess]: 'the bot cannot see or write in this channel: give its role View Channel, Send Messages and Create Public Threads there (channel settings → Permissions)',
  [DiscordErrorCode.MissingPermissions]: 'the bot lacks a permission in this channel: give its role Send Messages, Send Messages in Threads and Create Public Threads there',
  [DiscordErrorCode.UnknownChannel]: 'the channel or thread no longer exists',
  [DiscordErrorCode.CannotActOnChannelType]: 'a thread cannot be opened here: run /run in a text channel, not in a thread',
};

function retryAfterOf(raw: unknown): number {
  const seconds = (raw as { retry_after?: unknown } | null)?.retry_after;
  return typeof seconds === 'number' && seconds >= 0 ? Math.ceil(seconds * 1000) : 1_000;
}

function isTransientNetworkError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (e.name === 'AbortError' || e.name === 'TimeoutError') return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_NETWORK.has(code)) return true;
    if (/ECONNRESET|fetch failed|socket hang up/i.test(e.message)) return true;
  }
  return false;
}
