/**
 * HTTP + WebSocket server of the fake Slack on 127.0.0.1 (ephemeral port):
 *   POST /api/<method>          Web API (form-encoded or JSON; `Authorization: Bearer xoxb-…|xapp-…`)
 *   POST /response/<commandId>  response_url of a slash command (recorded per command)
 *   GET  /link/?ticket=…        Socket Mode WebSocket (URL handed out by apps.connections.open)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CountedRules } from '../fake-common/counted-rules.js';
import { LoopbackServer } from '../fake-common/loopback-server.js';
import { Outages } from '../fake-common/outage.js';
import { SlackApiError, type SlackCore } from './operations.js';
import { retryAfterSeconds } from './rate-limits.js';
import { fileMethods, handleUpload } from './files.js';
import type { FakeSocketMode } from './socket-mode.js';
import type { RequestRecord } from './state.js';
import { str, webApiMethods, type MethodDef, type Params, type TokenKind } from './web-api.js';

/** A failure a test asks for. `afterEffect: true` performs the call first (the answer is lost); `drop` destroys the socket. */
export interface InjectedFault {
  method: string | RegExp;
  /** HTTP status to answer (default 200 with `{ok:false, error}` when `error` is set, else 500). */
  status?: number;
  error?: string;
  afterEffect?: boolean;
  drop?: boolean;
  times?: number;
}

export class FakeServer extends LoopbackServer {
  private readonly methods: Record<string, MethodDef>;
  private readonly faults = new CountedRules<InjectedFault>();
  readonly outages: Outages;

  constructor(
    private readonly core: SlackCore,
    readonly socketMode: FakeSocketMode,
  ) {
    super({ accepts: (pathname) => pathname.startsWith('/link'), target: socketMode });
    this.methods = { ...webApiMethods(core), ...fileMethods(core) };
    this.outages = new Outages(core.clock);
  }

  injectFault(fault: InjectedFault): void {
    this.faults.add(fault);
  }

  protected override async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (await handleUpload(this.core, req, res)) return;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    let params: Params;
    try {
      params = await readParams(req, url);
    } catch {
      this.reply(res, 200, { ok: false, error: 'invalid_json' });
      return;
    }
    const response = /^\/response\/([^/]+)$/.exec(url.pathname);
    if (response && req.method === 'POST') {
      this.onResponseUrl(response[1]!, params, res);
      return;
    }
    const api = /^\/api\/([\w.]+)$/.exec(url.pathname);
    if (!api) {
      this.reply(res, 404, { ok: false, error: 'not_found' });
      return;
    }
    this.onApiCall(api[1]!, req, params, res);
  }

  private onApiCall(method: string, req: IncomingMessage, params: Params, res: ServerResponse): void {
    const { state, clock, limiter, options } = this.core;
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? str(params, 'token');
    const token: TokenKind | null = bearer === options.botToken ? 'bot' : bearer === options.appToken ? 'app' : null;
    const { token: _dropped, ...shown } = params;
    const record: RequestRecord = { at: clock.now(), method, params: shown, token, status: 200, ok: false };
    const finish = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void => {
      record.status = status;
      record.ok = body.ok === true;
      if (typeof body.error === 'string') record.error = body.error;
      state.requests.push(record);
      this.reply(res, status, body, headers);
      state.changed();
    };
    const def = this.methods[method];
    if (!def) {
      state.unhandledRequests.push(record);
      finish(200, { ok: false, error: 'unknown_method' });
      return;
    }
    if (!bearer) return finish(200, { ok: false, error: 'not_authed' });
    if (token === null) return finish(200, { ok: false, error: 'invalid_auth' });
    if (token !== def.token) return finish(200, { ok: false, error: 'not_allowed_token_type' });
    const outage = this.outages.verdict(method);
    if (outage.kind === 'error') return finish(outage.status, { ok: false, error: 'service_unavailable', outage: true });
    if (outage.kind === 'hang') {
      record.status = 0;
      record.error = 'hung (outage)';
      state.requests.push(record);
      this.outages.hang(req, res);
      state.changed();
      return;
    }
    const lose = outage.kind === 'lost';
    const decision = limiter.take(method, params);
    if (!decision.ok) {
      const retryAfterMs = decision.retryAfterMs ?? 1000;
      const retryAfterSec = retryAfterSeconds(retryAfterMs);
      state.rateLimitHits.push({
        at: clock.now(), method, bucket: decision.bucketKey ?? method, channel: str(params, 'channel'), retryAfterMs, retryAfterSec, injected: decision.injected ?? false,
      });
      finish(429, { ok: false, error: 'ratelimited' }, { 'Retry-After': String(retryAfterSec), 'X-Fake-Retry-After-Ms': String(retryAfterMs) });
      return;
    }
    const fault: InjectedFault | undefined = lose
      ? { method, afterEffect: true, drop: true }
      : this.faults.take((f) => (typeof f.method === 'string' ? f.method === method : f.method.test(method)));
    const failWithFault = (f: InjectedFault): void => {
      if (f.drop) {
        record.status = 0;
        record.error = 'connection dropped (injected)';
        state.requests.push(record);
        req.socket.destroy();
        state.changed();
        return;
      }
      finish(f.status ?? (f.error ? 200 : 500), { ok: false, error: f.error ?? 'fatal_error', injected: true });
    };
    if (fault && !fault.afterEffect) return failWithFault(fault);
    let body: Record<string, unknown>;
    try {
      body = { ok: true, ...def.handle({ params, token }) };
    } catch (error) {
      if (!(error instanceof SlackApiError)) {
        finish(500, { ok: false, error: 'fake_internal_error', detail: error instanceof Error ? error.stack : String(error) });
        return;
      }
      body = { ok: false, error: error.error, ...error.extra };
    }
    if (fault) return failWithFault(fault);
    finish(200, body, token === 'bot' ? { 'x-oauth-scopes': options.botScopes.join(',') } : {});
  }

  private onResponseUrl(commandId: string, params: Params, res: ServerResponse): void {
    const { state, clock } = this.core;
    const command = state.commands.get(commandId);
    state.requests.push({ at: clock.now(), method: 'response_url', params, token: null, status: command ? 200 : 404, ok: !!command });
    if (!command) {
      this.reply(res, 404, { ok: false, error: 'expired_url' });
      state.changed();
      return;
    }
    if (command.responses.length >= 5) {
      this.reply(res, 200, { ok: false, error: 'used_url' }); // response_url allows 5 uses
      state.changed();
      return;
    }
    command.responses.push({ at: clock.now(), body: params });
    this.reply(res, 200, { ok: true });
    state.changed();
  }

  private reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }
}

async function readParams(req: IncomingMessage, url: URL): Promise<Params> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks).toString('utf8');
  const params: Params = Object.fromEntries(url.searchParams);
  const type = req.headers['content-type'] ?? '';
  if (!raw) return params;
  if (type.includes('application/json')) {
    const parsed = JSON.parse(raw) as unknown;
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? { ...params, ...(parsed as Params) } : params;
  }
  return { ...params, ...Object.fromEntries(new URLSearchParams(raw)) };
}
