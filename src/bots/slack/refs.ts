/**
 * The opaque refs the chat layer stores, in the Slack adapter's spelling:
 * channel `slack:C123` (or `slack:#name` for a notification channel given by name), thread
 * `slack:C123:1700000000.000100` (the parent message's ts, which Slack uses as `thread_ts`),
 * message `slack:C123:1700000000.000200`, user `slack:U123`.
 */

export const PLATFORM = 'slack';

const CHANNEL = /^(?:[A-Z][A-Z0-9]{1,30}|#[a-z0-9][a-z0-9_-]{0,79})$/;
const TS = /^\d{1,12}\.\d{1,8}$/;

/** True for a conversation id (C…, G…, D…) rather than a channel name. */
export function isChannelId(value: string): boolean {
  return /^[CGD][A-Z0-9]{1,30}$/.test(value);
}

/** `slack:C123` from an id, or `slack:#name` from a name (with or without `#`). */
export function channelRef(idOrName: string): string {
  const v = idOrName.trim();
  return `${PLATFORM}:${isChannelId(v) ? v : `#${v.replace(/^#/, '')}`}`;
}

export function messageRef(channelId: string, ts: string): string {
  return `${PLATFORM}:${channelId}:${ts}`;
}

/** A thread is named by its parent message: same spelling as that message's ref. */
export const threadRef = messageRef;

export function userRef(userId: string): string {
  return `${PLATFORM}:${userId}`;
}

/** The channel id (or `#name`) of a `slack:C123` ref. */
export function channelIdOf(ref: string): string {
  const parts = ref.split(':');
  if (parts.length !== 2 || parts[0] !== PLATFORM || !CHANNEL.test(parts[1]!)) throw new Error(`not a Slack channel ref: ${ref}`);
  return parts[1]!;
}

/** Channel id and ts of a message or thread ref. */
export function messageIdsOf(ref: string): { channelId: string; ts: string } {
  const parts = ref.split(':');
  if (parts.length !== 3 || parts[0] !== PLATFORM || !CHANNEL.test(parts[1]!) || !TS.test(parts[2]!)) {
    throw new Error(`not a Slack message ref: ${ref}`);
  }
  return { channelId: parts[1]!, ts: parts[2]! };
}

/**
 * `https://<team>.slack.com/archives/C123/p1700000000000100`, plus `?thread_ts=…&cid=…` for a
 * reply; the form `chat.getPermalink` returns, built without a call.
 */
export function permalinkOf(teamUrl: string, channelId: string, ts: string, threadTs?: string | null): string {
  const base = `${teamUrl.replace(/\/+$/, '')}/archives/${channelId}/p${ts.replace('.', '')}`;
  return threadTs && threadTs !== ts ? `${base}?thread_ts=${threadTs}&cid=${channelId}` : base;
}
