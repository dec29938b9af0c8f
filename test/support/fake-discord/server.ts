/** HTTP (REST) + WebSocket (gateway) server on 127.0.0.1, ephemeral port. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CountedRules } from '../fake-common/counted-rules.js';
import { LoopbackServer } from '../fake-common/loopback-server.js';
import { Outages } from '../fake-common/outage.js';
import { FakeGateway } from './gateway.js';
import { ApiError, matchRoute, readBody, type RouteContext, type RouteDef, type RouteResult } from './http.js';
import type { FakeCore } from './operations.js';
import { RateLimiter, rateLimitHeaders } from './rate-limits.js';
import type { RequestRecord } from './state.js';

/** A failure a test asks for. `afterEffect: true` performs the request, then answers with the error (lost response). */
export interface InjectedFault {
  method?: string;
  path: RegExp;
  status: number;
  code?: number;
  message?: string;
  afterEffect?: boolean;
  times?: number;
}

export class FakeServer extends LoopbackServer {
  readonly limiter: RateLimiter;
  readonly outages: Outages;
  private readonly faults = new CountedRules<InjectedFault>();

  constructor(
    private readonly core: FakeCore,
    private readonly routes: RouteDef[],
    readonly gateway: FakeGateway,
  ) {
    super({ accepts: (pathname) => pathname === '/gateway', target: gateway });
    this.limiter = new RateLimiter(core.rateLimits, core.clock);
    this.outages = new Outages(core.clock);
  }

  injectFault(fault: InjectedFault): void {
    this.faults.add(fault);
  }

  protected override async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { state, clock } = this.core;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname.replace(/^\/api/, '').replace(/^\/v\d+/, '') || '/';
    const record: RequestRecord = { at: clock.now(), method, path, query: Object.fromEntries(url.searchParams), body: undefined, status: 0 };
    let headers: Record<string, string> = {};
    let result: RouteResult;
    let lose = false;
    try {
      const parsed = await readBody(req);
      record.body = parsed.json;
      const match = matchRoute(this.routes, method, path);
      if (!match) {
        state.unhandledRequests.push(record);
        throw new ApiError(404, 0, `404: Not Found (fake-discord has no route for ${method} ${path})`);
      }
      const { route, params } = match;
      if (route.auth && req.headers.authorization !== `Bot ${this.core.options.token}`) throw new ApiError(401, 0, '401: Unauthorized');
      const outage = this.outages.verdict(`${method} ${path}`);
      if (outage.kind === 'error') throw new ApiError(outage.status, 0, `fake-discord outage: ${outage.status}`);
      if (outage.kind === 'hang') {
        record.status = 0;
        record.errorCode = -1;
        state.requests.push(record);
        this.outages.hang(req, res);
        state.changed();
        return;
      }
      lose = outage.kind === 'lost';
      const json = parsed.json;
      const ctx: RouteContext = {
        method,
        path,
        params,
        query: url.searchParams,
        body: typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>) : {},
        rawBody: json,
        files: parsed.files,
      };
      const decision = this.limiter.take(method, path, route.bucket?.(ctx), route.auth);
      headers = rateLimitHeaders(decision, clock.now());
      if (!decision.ok) {
        const retryAfter = (decision.retryAfterMs ?? 0) / 1000;
        state.rateLimitHits.push({
          at: clock.now(), method, path, bucket: decision.bucket?.hash ?? null, scope: decision.scope ?? 'user', global: decision.global ?? false, retryAfterMs: decision.retryAfterMs ?? 0,
        });
        result = { status: 429, body: { message: 'You are being rate limited.', retry_after: retryAfter, global: decision.global ?? false } };
      } else {
        const fault = this.faults.take((f) => (!f.method || f.method === method) && f.path.test(path));
        if (fault && !fault.afterEffect) throw new ApiError(fault.status, fault.code ?? 0, fault.message ?? `fake-discord injected ${fault.status}`);
        result = await route.handle(ctx);
        if (fault) throw new ApiError(fault.status, fault.code ?? 0, fault.message ?? `fake-discord injected ${fault.status} (after effect)`);
      }
    } catch (error) {
      if (!(error instanceof ApiError)) {
        const message = error instanceof Error ? `${error.message}\n${error.stack}` : String(error);
        result = { status: 500, body: { message: `fake-discord internal error: ${message}`, code: 0 } };
      } else {
        record.errorCode = error.code;
        result = { status: error.status, body: error.body() };
      }
    }
    record.status = result.status ?? 200;
    if (lose) {
      // Performed, but the answer never reaches the client.
      record.status = 0;
      state.requests.push(record);
      req.socket.destroy();
      state.changed();
      result.after?.();
      return;
    }
    state.requests.push(record);
    const body = result.body === undefined ? undefined : JSON.stringify(result.body);
    res.writeHead(record.status, {
      ...headers,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      Via: '1.1 fake-discord',
    });
    res.end(body);
    state.changed();
    result.after?.();
  }
}
