/**
 * Playtest media in a run's thread: which files of a `playtest_media` event one upload carries
 * (checked against the platform's upload limits before anything is posted: a clip that does not
 * fit is left out and the comment says where it is kept), the comment that goes with them, and
 * how delivery sends an upload row (a port without uploads gets the comment and the files' paths).
 */
import fs from 'node:fs';
import bytes from 'bytes';
import type { RunEventData } from '../../core/types.js';
import type { Store } from '../../store/index.js';
import type { ChannelRef, ChatFile, ChatLimits, ChatPort, MessageRef, ThreadRef } from './chat-types.js';
import { PRIORITY } from './pacing.js';
import { neutralizeMentions } from './render-format.js';

export type PlaytestMedia = Extract<RunEventData, { type: 'playtest_media' }>;

/** What one upload row holds: the comment (the row's body) and the files that fit. */
export interface UploadRow {
  body: string;
  files: ChatFile[];
}

/** `12.3 MB` (binary units, as the platforms count). */
export function formatSize(n: number): string {
  return bytes.format(n, { unitSeparator: ' ', decimalPlaces: 1 }) ?? `${n} B`;
}

function plural(n: number, word: string): string {
  return n === 1 ? `a ${word}` : `${n} ${word}s`;
}

/**
 * The files of `media` that one upload on this platform may carry, screenshots first: a file over
 * the per-file limit, or one that would take the message over its size or file-count limit, is
 * left out with a note that names its size, the limit and where it is kept.
 */
export function chooseFiles(media: PlaytestMedia, limits: ChatLimits): { files: ChatFile[]; notes: string[] } {
  const ordered = [...media.files.filter((f) => f.kind === 'screenshot'), ...media.files.filter((f) => f.kind !== 'screenshot')];
  const up = limits.uploads;
  const files: ChatFile[] = [];
  const notes: string[] = [];
  let total = 0;
  for (const f of ordered) {
    const file: ChatFile = { path: f.path, name: f.name, contentType: f.contentType, bytes: f.bytes };
    if (!up) {
      files.push(file);
      continue;
    }
    const what = `${f.kind} of ${formatSize(f.bytes)}`;
    if (f.bytes > up.maxFileBytes) notes.push(`${what} is over ${up.label}; kept at ${f.path}`);
    else if (total + f.bytes > up.maxMessageBytes) notes.push(`${what} does not fit in one message with the rest (${up.label}); kept at ${f.path}`);
    else if (files.length >= up.maxFiles) notes.push(`${what} is one file too many for one message (${up.maxFiles} at most); kept at ${f.path}`);
    else {
      files.push(file);
      total += f.bytes;
    }
  }
  return { files, notes };
}

/** The comment of a `playtest_media` event, before the platform's size notes. */
export function mediaComment(media: PlaytestMedia, nameOf: (actor: string | null) => string): string {
  const shots = media.files.filter((f) => f.kind === 'screenshot').length;
  const clips = media.files.length - shots;
  const parts = [shots > 0 ? plural(shots, 'screenshot') : null, clips > 0 ? plural(clips, 'clip') : null].filter(Boolean);
  const lines = [`📸 Playtest ${parts.length > 0 ? parts.join(' and ') : 'capture'}${media.by ? ` (requested by ${nameOf(media.by)})` : ''}`];
  if (media.note) lines.push(media.note);
  return neutralizeMentions(lines.join('\n'));
}

/** The upload row for a `playtest_media` event on a platform with these limits: the files that fit, and the comment with a note for each left out. */
export function uploadRow(comment: string, media: PlaytestMedia, limits: ChatLimits): UploadRow {
  const { files, notes } = chooseFiles(media, limits);
  return { body: [comment, ...notes.map((n) => neutralizeMentions(`⚠️ ${n}`))].join('\n'), files };
}

/**
 * Writes an upload row into the run thread's content stream, in order with its posts, once per
 * event (its dedupe key): the comment is the row's body, the files go with it.
 */
export function enqueueUpload(
  store: Store,
  where: { threadKey: string; runId: string; channel: string },
  row: UploadRow,
  key: string,
  fit: (body: string) => string,
  now: string,
): void {
  const { id } = store.outbox.enqueue(
    { threadKey: where.threadKey, runId: where.runId, op: 'create', channel: where.channel, inThread: true, body: fit(row.body), dedupeKey: key, priority: PRIORITY.reply },
    now,
  );
  if (row.files.length > 0) store.uploads.attach(id, row.files);
}

/** The comment with the files named by path: for a platform without uploads (the console prints it). */
export function filesAsText(comment: string, files: ChatFile[]): string {
  return [comment, ...files.map((f) => `📎 ${f.path} (${f.contentType}, ${formatSize(f.bytes)})`)].join('\n');
}

/**
 * Sends an upload row through its port. Files deleted since the row was written (DATA_RETENTION,
 * a person) are left out with a note rather than failing the whole message.
 */
export async function sendUpload(
  port: ChatPort,
  channel: ChannelRef,
  thread: ThreadRef | null,
  files: ChatFile[],
  comment: string,
  opts: { nonce: string; mayExist?: boolean },
): Promise<MessageRef> {
  const present = files.filter((f) => fs.existsSync(f.path));
  const gone = files.filter((f) => !present.includes(f));
  const text = [comment, ...gone.map((f) => `⚠️ ${f.name} is gone from ${f.path}; it could not be posted`)].join('\n');
  if (present.length === 0) return port.post(channel, thread, text, opts);
  if (!port.upload) return port.post(channel, thread, filesAsText(text, present), opts);
  return port.upload(channel, thread, present, text, opts);
}
