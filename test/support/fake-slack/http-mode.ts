/**
 * HTTP mode side of the fake Slack: signed POSTs to the app's Request URL.
 *
 * Signature: `x-slack-signature: v0=` + hex HMAC-SHA256(signingSecret, `v0:${ts}:${rawBody}`),
 * `x-slack-request-timestamp: ts` (seconds). Bolt refuses timestamps older than 5 minutes.
 * Retries carry `x-slack-retry-num` and `x-slack-retry-reason` (e.g. `http_timeout`).
 * Events API bodies are JSON; slash commands are form-encoded.
 */
import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import type { SignatureMode } from './state.js';

export function slackSignature(signingSecret: string, timestampSec: number, rawBody: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestampSec}:${rawBody}`).digest('hex')}`;
}

export interface SignedPost {
  url: string;
  rawBody: string;
  contentType: 'application/json' | 'application/x-www-form-urlencoded';
  signingSecret: string;
  /** Seconds since the epoch for the timestamp header (already skewed for `stale`). */
  nowSec: number;
  signature: SignatureMode;
  retryNum?: number;
  retryReason?: string;
  /** Abort the request after this long (the app never answering). */
  timeoutMs?: number;
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  rawBody: string;
  body: unknown;
}

/** How far in the past a `stale` request is stamped (Bolt allows 5 minutes). */
export const STALE_SECONDS = 6 * 60;

export function signedHeaders(post: SignedPost): Record<string, string> {
  const ts = post.signature === 'stale' ? post.nowSec - STALE_SECONDS : post.nowSec;
  const headers: Record<string, string> = {
    'content-type': post.contentType,
    'content-length': String(Buffer.byteLength(post.rawBody)),
    'x-slack-request-timestamp': String(ts),
    'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots) fake-slack',
  };
  if (post.signature !== 'missing') {
    headers['x-slack-signature'] = post.signature === 'forged'
      ? slackSignature(`${post.signingSecret}-forged`, ts, post.rawBody)
      : slackSignature(post.signingSecret, ts, post.rawBody);
  }
  if (post.retryNum !== undefined && post.retryNum > 0) {
    headers['x-slack-retry-num'] = String(post.retryNum);
    headers['x-slack-retry-reason'] = post.retryReason ?? 'http_timeout';
  }
  return headers;
}

/** POST without keep-alive (agent: false) so no socket outlives the test. */
export function postSigned(post: SignedPost): Promise<HttpAnswer> {
  return new Promise<HttpAnswer>((resolve, reject) => {
    const req = request(post.url, { method: 'POST', headers: signedHeaders(post), agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const rawBody = Buffer.concat(chunks).toString('utf8');
        let body: unknown = rawBody;
        try {
          body = rawBody ? (JSON.parse(rawBody) as unknown) : undefined;
        } catch {
          // plain-text answer
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, rawBody, body });
      });
    });
    if (post.timeoutMs) req.setTimeout(post.timeoutMs, () => req.destroy(new Error(`fake-slack: app did not answer within ${post.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(post.rawBody);
  });
}
