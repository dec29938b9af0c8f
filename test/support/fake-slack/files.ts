/**
 * Slack's file upload API in the fake, as `WebClient.filesUploadV2` uses it:
 *   files.getUploadURLExternal {filename, length}  → {upload_url, file_id}; needs the `files:write` scope
 *   POST <upload_url> (raw bytes, or multipart/form-data as the SDK sends them) → 200 "OK - <length>"
 *   files.completeUploadExternal {files:[{id,title}], channel_id, thread_ts, initial_comment}
 *     → one file message by the bot in the channel (in the thread with thread_ts), carrying the files
 * Uploaded bytes are kept (`slack.files`), so tests can compare them with what the bot sent.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createMessage, SlackApiError, type SlackCore } from './operations.js';
import { bool, str, type MethodDef, type Params } from './web-api.js';

export interface StoredFile {
  id: string;
  name: string;
  title: string;
  /** As declared to files.getUploadURLExternal. */
  length: number;
  /** The bytes POSTed to the upload URL (undefined until then). */
  data: Buffer | undefined;
  mimetype: string | undefined;
  /** The message that shares it, once completed. */
  shared: { channel: string; ts: string; threadTs: string | undefined } | undefined;
}

/** The files of the fake workspace, by id (kept on the core so the server and the Web API share them). */
const filesByCore = new WeakMap<SlackCore, Map<string, StoredFile>>();

export function filesOf(core: SlackCore): Map<string, StoredFile> {
  let files = filesByCore.get(core);
  if (!files) {
    files = new Map();
    filesByCore.set(core, files);
  }
  return files;
}

function uploadPath(fileId: string): string {
  return `/upload/v1/${fileId}`;
}

export function fileMethods(core: SlackCore): Record<string, MethodDef> {
  const { state } = core;
  const files = filesOf(core);
  const needScope = (): void => {
    if (!core.options.botScopes.includes('files:write')) throw new SlackApiError('missing_scope', { needed: 'files:write', provided: core.options.botScopes.join(',') });
  };
  const bot = (handle: (p: Params) => Record<string, unknown>): MethodDef => ({ token: 'bot', handle: ({ params }) => handle(params) });
  return {
    'files.getUploadURLExternal': bot((p) => {
      needScope();
      const filename = str(p, 'filename');
      const length = Number(str(p, 'length'));
      if (!filename || !Number.isInteger(length) || length <= 0) throw new SlackApiError('invalid_arguments');
      const id = core.ids.next('F');
      files.set(id, { id, name: filename, title: filename, length, data: undefined, mimetype: undefined, shared: undefined });
      state.changed();
      return { upload_url: `${core.baseUrl()}${uploadPath(id)}`, file_id: id };
    }),
    'files.completeUploadExternal': bot((p) => {
      needScope();
      let list: { id?: string; title?: string }[];
      try {
        list = JSON.parse(str(p, 'files') ?? '') as { id?: string; title?: string }[];
      } catch {
        throw new SlackApiError('invalid_arguments');
      }
      if (!Array.isArray(list) || list.length === 0) throw new SlackApiError('invalid_arguments');
      const picked = list.map((item) => {
        const f = files.get(item.id ?? '');
        if (!f || f.data === undefined) throw new SlackApiError('file_not_found');
        if (f.shared) throw new SlackApiError('file_already_completed');
        if (item.title) f.title = item.title;
        return f;
      });
      const channelId = str(p, 'channel_id');
      if (!channelId) return { files: picked.map((f) => ({ id: f.id, title: f.title })) };
      const channel = state.channel(channelId);
      if (!channel) throw new SlackApiError('channel_not_found');
      if (!channel.members.has(state.botUserId)) throw new SlackApiError('not_in_channel');
      const m = createMessage(core, {
        channel: channel.id, user: state.botUserId, botId: state.botId, text: str(p, 'initial_comment') ?? '', threadTs: str(p, 'thread_ts') || undefined, source: 'api',
        unfurlLinks: bool(p, 'unfurl_links'), unfurlMedia: bool(p, 'unfurl_media'),
      });
      m.files = picked.map((f) => ({ id: f.id, name: f.name, title: f.title, mimetype: f.mimetype, size: f.data!.length }));
      for (const f of picked) f.shared = { channel: channel.id, ts: m.ts, threadTs: m.threadTs };
      state.changed();
      // Slack shares asynchronously: its answer may not name the share yet (`fileSharesInAnswer: false`).
      const shares = core.options.fileSharesInAnswer === false ? {} : { public: { [channel.id]: [{ ts: m.ts, ...(m.threadTs ? { thread_ts: m.threadTs } : {}) }] } };
      return { files: picked.map((f) => ({ id: f.id, title: f.title, name: f.name, size: f.data!.length, shares })) };
    }),
  };
}

/** Handles `POST /upload/v1/<file id>` (true) or says the path is not an upload URL (false). */
export async function handleUpload(core: SlackCore, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const match = /^\/upload\/v1\/([A-Z0-9]+)$/.exec(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
  if (!match || req.method !== 'POST') return false;
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  const file = filesOf(core).get(match[1]!);
  const answer = (status: number, text: string): true => {
    core.state.requests.push({ at: core.clock.now(), method: 'upload_url', params: { file_id: match[1] }, token: null, status, ok: status === 200 });
    res.writeHead(status, { 'Content-Type': 'text/plain' });
    res.end(text);
    core.state.changed();
    return true;
  };
  if (!file || file.data !== undefined) return answer(404, 'Not Found');
  const type = req.headers['content-type'] ?? '';
  let data = raw;
  if (type.startsWith('multipart/form-data')) {
    const form = await new Request('http://fake.invalid/', { method: 'POST', headers: { 'content-type': type }, body: raw }).formData();
    const part = [...form.values()].find((v) => typeof v !== 'string');
    if (!part || typeof part === 'string') return answer(400, 'no file in the form');
    data = Buffer.from(await part.arrayBuffer());
    file.mimetype = part.type || undefined;
  }
  file.data = data;
  return answer(200, `OK - ${data.length}`);
}
