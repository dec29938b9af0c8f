/** Minimal HTTP plumbing: body parsing (JSON and multipart), errors, route matching. */
import type { IncomingMessage } from 'node:http';
import type { BucketRef } from './rate-limits.js';
import type { StoredAttachment } from './state.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly errors?: unknown,
  ) {
    super(message);
  }
  body(): Record<string, unknown> {
    return { message: this.message, code: this.code, ...(this.errors ? { errors: this.errors } : {}) };
  }
}

export const notFound = (code: number, what: string): ApiError => new ApiError(404, code, `Unknown ${what}`);

export function formError(field: string, code: string, message: string): ApiError {
  return new ApiError(400, 50035, 'Invalid Form Body', { [field]: { _errors: [{ code, message }] } });
}

export interface UploadedFile {
  field: string;
  filename: string;
  contentType: string | null;
  data: Buffer;
}

export interface ParsedBody {
  json: unknown;
  files: UploadedFile[];
}

export async function readBody(req: IncomingMessage): Promise<ParsedBody> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  if (raw.length === 0) return { json: undefined, files: [] };
  const type = req.headers['content-type'] ?? '';
  if (type.startsWith('multipart/form-data')) {
    const form = await new Request('http://fake.invalid/', { method: 'POST', headers: { 'content-type': type }, body: raw }).formData();
    const files: UploadedFile[] = [];
    let json: unknown;
    for (const [field, value] of form.entries()) {
      if (typeof value === 'string') {
        if (field === 'payload_json') json = JSON.parse(value) as unknown;
      } else {
        files.push({ field, filename: value.name, contentType: value.type || null, data: Buffer.from(await value.arrayBuffer()) });
      }
    }
    return { json, files };
  }
  try {
    return { json: JSON.parse(raw.toString('utf8')) as unknown, files: [] };
  } catch {
    throw new ApiError(400, 50109, 'The request body contains invalid JSON.');
  }
}

export function attachmentsFrom(files: UploadedFile[], newId: () => string): StoredAttachment[] {
  return files.map((f) => ({ id: newId(), filename: f.filename, size: f.data.length, contentType: f.contentType, data: f.data }));
}

export interface RouteContext {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The JSON body if it is an object, else {}. */
  body: Record<string, unknown>;
  /** The JSON body as sent (arrays for bulk command overwrite). */
  rawBody: unknown;
  files: UploadedFile[];
}

export interface RouteResult {
  status?: number;
  body?: unknown;
  /** Work to do after the response is written (e.g. gateway dispatches). */
  after?: () => void;
}

export interface RouteDef {
  method: string;
  pattern: string;
  /** false for interaction/webhook routes: no bot token, not counted in the global limit. */
  auth: boolean;
  bucket?: (ctx: RouteContext) => BucketRef | undefined;
  handle: (ctx: RouteContext) => RouteResult | Promise<RouteResult>;
}

export function matchRoute(routes: RouteDef[], method: string, path: string): { route: RouteDef; params: Record<string, string> } | undefined {
  const parts = path.split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  for (const route of routes) {
    if (route.method !== method) continue;
    const pattern = route.pattern.split('/').filter(Boolean);
    if (pattern.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < pattern.length; i += 1) {
      const p = pattern[i]!;
      const actual = parts[i]!;
      if (p.startsWith(':')) params[p.slice(1)] = actual;
      else if (p !== actual) {
        ok = false;
        break;
      }
    }
    if (ok) return { route, params };
  }
  return undefined;
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
