/**
 * The ChatPort over a Slack write `WebClient`: the only place run output reaches Slack. The
 * client is built with `retries: 0` and `rejectRateLimitedCalls: true`, so a 429 throws at once
 * (delivery reschedules that row; other threads keep going) and nothing is ever sent twice by
 * the SDK. Every post carries `metadata: { event_type: 'chatops_outbox', event_payload: { nonce } }`,
 * link unfurls off and no `link_names`; text is escaped (escape.ts). When delivery says an
 * earlier attempt may have posted (`mayExist`), the post is looked up by its nonce first.
 */
import type { webApi } from '@slack/bolt';
import type { Logger } from 'pino';
import fs from 'node:fs/promises';
import type { ChannelRef, ChatFile, ChatLimits, ChatPort, DeliveryErrorClass, MessageRef, ThreadRef } from '../hub/chat-types.js';
import { slackText } from './escape.js';
import { LOOKUP_MAX_PAGES, LOOKUP_PAGE_SIZE, OUTBOX_EVENT_TYPE, TRANSIENT_PLATFORM_ERRORS } from './limits.js';
import { channelIdOf, isChannelId, messageIdsOf, messageRef, PLATFORM, permalinkOf, threadRef } from './refs.js';
import { reactionName } from './translate.js';

type WebClient = InstanceType<typeof webApi.WebClient>;

/** What the port calls on the write client (a real `WebClient` in production and tests). */
export type SlackWriteClient = {
  chat: Pick<WebClient['chat'], 'postMessage' | 'postEphemeral' | 'update'>;
  reactions: Pick<WebClient['reactions'], 'add'>;
  conversations: Pick<WebClient['conversations'], 'replies' | 'history'>;
  /** `files.getUploadURLExternal` per file, the bytes to each upload URL, then `files.completeUploadExternal`. */
  filesUploadV2: WebClient['filesUploadV2'];
};

export interface SlackPortOptions {
  client: SlackWriteClient;
  /** `https://<team>.slack.com/` from `auth.test`, for permalinks. */
  teamUrl: string;
  limits: ChatLimits;
  logger: Logger;
}

/** A failure the port decides itself (no API call made); always permanent. */
export class SlackPortError extends Error {
  readonly code = 'SLACK_PORT';
}

interface FoundMessage {
  ts?: string;
  metadata?: { event_type?: string; event_payload?: Record<string, unknown> };
  files?: { id?: string; name?: string }[];
}

/** What `files.completeUploadExternal` answers, as far as the port reads it. */
interface CompletedUpload {
  files?: { id?: string; shares?: Record<string, Record<string, { ts?: string }[]>> }[];
}

export class SlackPort implements ChatPort {
  readonly platform = PLATFORM;
  readonly limits: ChatLimits;
  /** `#name` → channel id, learnt from post answers (a notification channel may be configured by name). */
  private readonly channelIds = new Map<string, string>();

  constructor(private readonly opts: SlackPortOptions) {
    this.limits = opts.limits;
  }

  async post(channel: ChannelRef, thread: ThreadRef | null, body: string, opts: { nonce: string; mayExist?: boolean }): Promise<MessageRef> {
    const target = this.resolve(channelIdOf(channel));
    const threadTs = thread ? messageIdsOf(thread).ts : undefined;
    if (opts.mayExist) {
      const found = await this.findByNonce(target, threadTs, opts.nonce);
      if (found) {
        this.opts.logger.info({ channel: target, threadTs, nonce: opts.nonce, ts: found }, 'an earlier attempt had posted; reusing it instead of posting twice');
        return messageRef(target, found);
      }
    }
    const res = await this.opts.client.chat.postMessage({
      channel: target,
      ...(threadTs ? { thread_ts: threadTs } : {}),
      text: slackText(body),
      metadata: { event_type: OUTBOX_EVENT_TYPE, event_payload: { nonce: opts.nonce } },
      unfurl_links: false,
      unfurl_media: false,
    });
    const channelId = res.channel ?? target;
    if (!isChannelId(target)) this.channelIds.set(target, channelId);
    return messageRef(channelId, res.ts!);
  }

  /**
   * The files as one file message in the thread (Slack's upload API, `files:write`), with the
   * comment as its text. File messages carry no metadata: when an earlier attempt may have posted,
   * the thread is searched for a message with exactly these file names first. The ref is the file
   * message's ts (from Slack's answer, or read from the thread), so reactions on it reach the run.
   */
  async upload(channel: ChannelRef, thread: ThreadRef | null, files: ChatFile[], comment: string, opts: { nonce: string; mayExist?: boolean }): Promise<MessageRef> {
    const target = this.resolve(channelIdOf(channel));
    if (!isChannelId(target)) throw new SlackPortError(`files can be shared only in a channel known by id, not ${target}`);
    const threadTs = thread ? messageIdsOf(thread).ts : undefined;
    const names = files.map((f) => f.name);
    if (opts.mayExist) {
      const found = await this.find(target, threadTs, (m) => sameNames(m.files, names));
      if (found) {
        this.opts.logger.info({ channel: target, threadTs, nonce: opts.nonce, ts: found }, 'an earlier attempt had uploaded these files; not uploading them twice');
        return messageRef(target, found);
      }
    }
    const uploads = await Promise.all(files.map(async (f) => ({ file: await fs.readFile(f.path), filename: f.name, title: f.name })));
    const res = await this.opts.client.filesUploadV2({
      channel_id: target,
      ...(threadTs ? { thread_ts: threadTs } : {}),
      initial_comment: slackText(comment),
      file_uploads: uploads,
    });
    const done = (res as { files?: CompletedUpload[] }).files?.[0]?.files ?? [];
    const shared = done.flatMap((f) => Object.values(f.shares ?? {}).flatMap((byChannel) => byChannel[target] ?? []));
    // Slack shares files asynchronously: when its answer names no share yet, the thread is read once for the file's message.
    const fileId = done[0]?.id;
    const ts = shared.find((s) => s.ts)?.ts ?? (fileId ? await this.find(target, threadTs, (m) => m.files?.some((f) => f.id === fileId) ?? false).catch(() => undefined) : undefined);
    return ts ? messageRef(target, ts) : `${PLATFORM}:${target}:${fileId ?? 'upload'}`;
  }

  async edit(message: MessageRef, body: string): Promise<void> {
    const { channelId, ts } = messageIdsOf(message);
    await this.opts.client.chat.update({ channel: channelId, ts, text: slackText(body) });
  }

  /** Adds the bot's reaction; one that is already there counts as done. */
  async react(message: MessageRef, emoji: string): Promise<void> {
    const { channelId, ts } = messageIdsOf(message);
    const name = reactionName(emoji);
    if (!name) throw new SlackPortError(`no Slack reaction name for ${emoji}`);
    try {
      await this.opts.client.reactions.add({ channel: channelId, timestamp: ts, name });
    } catch (err) {
      if (platformError(err) === 'already_reacted') return;
      throw err;
    }
  }

  /** An ephemeral message only `user` (`slack:U…`) sees, in the thread when given. */
  async whisper(channel: ChannelRef, thread: ThreadRef | null, user: string, body: string): Promise<void> {
    const target = this.resolve(channelIdOf(channel));
    await this.opts.client.chat.postEphemeral({
      channel: target,
      user: user.replace(/^slack:/, ''),
      text: slackText(body),
      ...(thread ? { thread_ts: messageIdsOf(thread).ts } : {}),
    });
  }

  /** A Slack thread is its parent message: the header's ts becomes `thread_ts`. No API call. */
  async createThread(_channel: ChannelRef, from: MessageRef): Promise<ThreadRef> {
    const { channelId, ts } = messageIdsOf(from);
    return threadRef(channelId, ts);
  }

  permalink(channel: ChannelRef, thread: ThreadRef | null, message?: MessageRef | null): string | null {
    try {
      if (message) {
        const m = messageIdsOf(message);
        return permalinkOf(this.opts.teamUrl, m.channelId, m.ts, thread ? messageIdsOf(thread).ts : null);
      }
      if (thread) {
        const t = messageIdsOf(thread);
        return permalinkOf(this.opts.teamUrl, t.channelId, t.ts);
      }
      const id = channelIdOf(channel);
      return isChannelId(id) ? `${this.opts.teamUrl.replace(/\/+$/, '')}/archives/${id}` : null;
    } catch {
      return null;
    }
  }

  classifyError(err: unknown): DeliveryErrorClass {
    return classifySlackError(err);
  }

  private resolve(channel: string): string {
    return this.channelIds.get(channel) ?? channel;
  }

  /** The ts of our post tagged with `nonce` in the thread (or the channel's recent history), if any. */
  private findByNonce(channel: string, threadTs: string | undefined, nonce: string): Promise<string | undefined> {
    if (!isChannelId(channel)) {
      this.opts.logger.warn({ channel, nonce }, 'cannot look a post up in a channel known only by name; posting again');
      return Promise.resolve(undefined);
    }
    return this.find(channel, threadTs, (m) => m.metadata?.event_type === OUTBOX_EVENT_TYPE && m.metadata.event_payload?.nonce === nonce);
  }

  /** The ts of the first message in the thread (or the channel's recent history) that `matches`, if any. */
  private async find(channel: string, threadTs: string | undefined, matches: (m: FoundMessage) => boolean): Promise<string | undefined> {
    const { conversations } = this.opts.client;
    let cursor: string | undefined;
    for (let page = 0; page < LOOKUP_MAX_PAGES; page++) {
      const args = { channel, include_all_metadata: true, limit: LOOKUP_PAGE_SIZE, ...(cursor ? { cursor } : {}) };
      const res = threadTs ? await conversations.replies({ ...args, ts: threadTs }) : await conversations.history(args);
      const hit = (res.messages as FoundMessage[] | undefined)?.find(matches);
      if (hit?.ts) return hit.ts;
      cursor = res.response_metadata?.next_cursor || undefined;
      if (!cursor) return undefined;
    }
    return undefined;
  }
}

function sameNames(files: FoundMessage['files'], names: string[]): boolean {
  if (!files || files.length !== names.length) return false;
  const have = files.map((f) => f.name ?? '').sort();
  return [...names].sort().every((n, i) => have[i] === n);
}

/** The `error` of a Slack platform error (`{ ok: false, error }`), or undefined. */
export function platformError(err: unknown): string | undefined {
  const e = err as { code?: unknown; data?: { error?: unknown } } | null;
  return e?.code === 'slack_webapi_platform_error' && typeof e.data?.error === 'string' ? e.data.error : undefined;
}

const NETWORK_CODES = /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|EAI_AGAIN|ENOTFOUND|socket hang up|timeout/i;

/** What the chat layer should do after a failed call. */
const HINTS: Record<string, string> = {
  not_in_channel: 'the bot is not in this channel: invite it with /invite @<bot name>',
  channel_not_found: 'channel not found: the bot cannot see this channel (invite it with /invite @<bot name>; for the team channel, check SLACK_NOTIFY_CHANNEL)',
  missing_scope: 'the app lacks a scope: reinstall it from slack-app-manifest.yml',
  invalid_auth: 'the bot token is invalid: check SLACK_BOT_TOKEN',
  token_revoked: 'the bot token was revoked: reinstall the app and update SLACK_BOT_TOKEN',
};

/**
 * @slack/web-api errors → what delivery should do: a rate-limited error (thrown because of
 * `rejectRateLimitedCalls`) → `rate_limited` after its `Retry-After`; request errors (network,
 * timeouts) and HTTP 5xx → `transient`; Slack's own transient errors (`internal_error`,
 * `service_unavailable`, …) → `transient`; every other error (`message_not_found`,
 * `not_in_channel`, `invalid_auth`, …) → `permanent` with a reason that says what to do.
 */
export function classifySlackError(err: unknown): DeliveryErrorClass {
  const e = err as { code?: unknown; retryAfter?: unknown; statusCode?: unknown; original?: unknown; message?: unknown } | null;
  switch (e?.code) {
    case 'slack_webapi_rate_limited_error': {
      const seconds = typeof e.retryAfter === 'number' && e.retryAfter > 0 ? e.retryAfter : 1;
      return { kind: 'rate_limited', retryAfterMs: Math.ceil(seconds * 1000) };
    }
    case 'slack_webapi_request_error':
      return { kind: 'transient' };
    case 'slack_webapi_http_error': {
      const status = typeof e.statusCode === 'number' ? e.statusCode : 0;
      if (status === 429) return { kind: 'rate_limited', retryAfterMs: 1_000 };
      if (status >= 500 || status === 408) return { kind: 'transient' };
      return { kind: 'permanent', reason: `Slack HTTP ${status}` };
    }
    case 'slack_webapi_platform_error': {
      const code = platformError(err) ?? 'unknown_error';
      if (code === 'ratelimited') return { kind: 'rate_limited', retryAfterMs: 1_000 };
      if (TRANSIENT_PLATFORM_ERRORS.has(code)) return { kind: 'transient' };
      // missing_scope names the scope it needed (files:write for uploads, from an app created before they existed).
      const needed = (err as { data?: { needed?: unknown } }).data?.needed;
      const what = typeof needed === 'string' ? `${code} (${needed})` : code;
      return { kind: 'permanent', reason: HINTS[code] ? `Slack ${what}: ${HINTS[code]}` : `Slack ${what}` };
    }
  }
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  if ((typeof code === 'string' && NETWORK_CODES.test(code)) || NETWORK_CODES.test(message)) return { kind: 'transient' };
  return { kind: 'permanent', reason: message };
}
