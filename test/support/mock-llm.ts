/**
 * A scripted OpenAI-compatible Chat Completions server for tests (127.0.0.1, random port).
 * It streams SSE chunks like OpenAI (`data: {chat.completion.chunk}` … `data: [DONE]`, usage in
 * the last chunk), records every request, and lets tests await real signals: "the Nth request
 * has arrived". Timers are used only when a reply asks for a delay.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ChatMessage {
  role: string;
  content?: unknown;
  tool_calls?: Array<{ id: string; type: string; function: { name: string; arguments: string } }>;
  tool_call_id?: string;
  [key: string]: unknown;
}

export interface MockRequest {
  /** 0-based position among all requests this server received. */
  index: number;
  model: string;
  messages: ChatMessage[];
  body: Record<string, unknown>;
  headers: http.IncomingHttpHeaders;
  /** Set when the client hung up before the answer was complete (e.g. a stopped run). */
  aborted?: boolean;
}

export interface MockToolCall {
  name: string;
  arguments: unknown;
  id?: string;
}

export interface MockUsage {
  prompt: number;
  completion: number;
}

export type Reply =
  /** A text answer, streamed in `chunks` pieces (default 3). */
  | { text: string; chunks?: number; finishReason?: string; usage?: MockUsage }
  /** A text answer streamed exactly as these pieces, `delayMs` apart. */
  | { textChunks: string[]; delayMs?: number; finishReason?: string; usage?: MockUsage }
  /** Tool calls (arguments JSON split over `argChunks` deltas, default 3), optionally after some text. */
  | { toolCalls: MockToolCall[]; text?: string; argChunks?: number; usage?: MockUsage }
  /** An HTTP error with an OpenAI-style error body. */
  | { status: number; message?: string }
  /**
   * A text answer that keeps streaming `piece` every `delayMs` until the client hangs up (at most
   * `maxChunks`, default 600): an answer that is still streaming whenever the test acts on it.
   */
  | { streamUntilAborted: string; delayMs: number; maxChunks?: number; usage?: MockUsage }
  /** Accept the request and never answer (until the client aborts or the server closes). */
  | { hang: true };

export type Responder = (req: MockRequest, index: number) => Reply | Promise<Reply>;

/** Text of a message's content, whether a string or an array of parts. */
export function messageText(message: ChatMessage | undefined): string {
  if (!message) return '';
  const c = message.content;
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) {
    return c
      .map((p) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : ''))
      .join('\n');
  }
  return '';
}

/** The messages of a request as `role: text` lines, handy for assertions. */
export function transcript(req: MockRequest): string[] {
  return req.messages.map((m) => `${m.role}: ${messageText(m)}`);
}

/**
 * Default behaviour keyed by the last message:
 * - a tool result → `Done: <first line of the tool output>`;
 * - user text with `status 400` / `status 500` → that HTTP error;
 * - user text with `sleep <n>` → bash `sleep <n> && echo slept <n>`;
 * - user text with `commit` → bash that writes a file and commits it (`git log -1 --format='%h %s'`);
 * - anything else → `Mock answer: <user text>`.
 */
export const defaultResponder: Responder = (req) => {
  const last = req.messages[req.messages.length - 1];
  const text = messageText(last);
  if (last?.role === 'tool') return { text: `Done: ${text.split('\n')[0] ?? ''}` };
  const status = /status (\d{3})/.exec(text);
  if (status) return { status: Number(status[1]), message: `mock error ${status[1]}` };
  const sleep = /sleep (\d+(?:\.\d+)?)/.exec(text);
  if (sleep) return { toolCalls: [{ name: 'bash', arguments: { command: `sleep ${sleep[1]} && echo slept ${sleep[1]}` } }] };
  if (/commit/i.test(text)) {
    const file = `mock-${req.index}.txt`;
    const command = `echo 'written by the mock' > ${file} && git add -A && git commit -q -m 'mock: add ${file}' && git log -1 --format='%h %s'`;
    return { toolCalls: [{ name: 'bash', arguments: { command } }] };
  }
  return { text: `Mock answer: ${text}` };
};

/**
 * For concurrency tests with cards `card-cNN`: one bash call, then an answer of `lines` numbered
 * lines (`cNN line 001 ····`), long enough to be split over several chat messages.
 */
export function numberedLinesResponder(lines: number, padding: number): Responder {
  return (req) => {
    const tag = /card-(c\d+)/.exec(transcript(req).join('\n'))?.[1] ?? 'c??';
    if (req.messages.at(-1)?.role === 'tool') {
      const text = Array.from({ length: lines }, (_, i) => `${tag} line ${String(i + 1).padStart(3, '0')} ${'·'.repeat(padding)}`).join('\n');
      return { text, chunks: 4 };
    }
    return { toolCalls: [{ name: 'bash', arguments: { command: `echo checked ${tag}` } }] };
  };
}

function split(text: string, parts: number): string[] {
  if (text.length === 0) return [''];
  const size = Math.max(1, Math.ceil(text.length / Math.max(1, parts)));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

export class MockLlm {
  readonly requests: MockRequest[] = [];
  private responder: Responder = defaultResponder;
  private waiters: Array<{ count: number; resolve: () => void }> = [];
  private readonly signals = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  private toolCallCounter = 0;

  private constructor(
    private readonly server: http.Server,
    readonly port: number,
  ) {}

  static async start(responder?: Responder): Promise<MockLlm> {
    let self: MockLlm | undefined;
    const server = http.createServer((req, res) => void self!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new MockLlm(server, (server.address() as AddressInfo).port);
    if (responder) self.responder = responder;
    return self;
  }

  /** The OpenAI base URL (with `/v1`). */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  /** Installs a responder; `null` restores the default. */
  respond(responder: Responder | null): void {
    this.responder = responder ?? defaultResponder;
  }

  /** Forgets recorded requests and restores the default responder (between tests). */
  reset(): void {
    this.requests.length = 0;
    this.responder = defaultResponder;
    this.signals.clear();
  }

  /** Resolves with the request once at least `count` requests have arrived since the last reset. */
  async waitForRequests(count: number): Promise<MockRequest> {
    if (this.requests.length < count) await new Promise<void>((resolve) => this.waiters.push({ count, resolve }));
    return this.requests[count - 1]!;
  }

  /**
   * A shell command that reports `name` to this server (`GET /signal/<name>`), for tool commands
   * that must tell the test "I am running now": e.g. `sleep 30 & <signal>; wait`.
   */
  signalCommand(name: string): string {
    const url = `http://127.0.0.1:${this.port}/signal/${encodeURIComponent(name)}`;
    return `'${process.execPath}' -e "fetch('${url}').catch(() => {})"`;
  }

  /** Resolves once `signalCommand(name)` has been run (ever, since the last reset). */
  waitForSignal(name: string): Promise<void> {
    return this.signal(name).promise;
  }

  private signal(name: string) {
    let entry = this.signals.get(name);
    if (!entry) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      entry = { promise, resolve };
      this.signals.set(name, entry);
    }
    return entry;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const signal = /^\/signal\/([^/?]+)/.exec(req.url ?? '');
    if (signal) {
      this.signal(decodeURIComponent(signal[1]!)).resolve();
      res.writeHead(204).end();
      return;
    }
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'not found' } }));
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'invalid JSON' } }));
      return;
    }
    const request: MockRequest = {
      index: this.requests.length,
      model: String(body.model ?? ''),
      messages: Array.isArray(body.messages) ? (body.messages as ChatMessage[]) : [],
      body,
      headers: req.headers,
    };
    this.requests.push(request);
    this.waiters = this.waiters.filter((w) => (this.requests.length >= w.count ? (w.resolve(), false) : true));
    let reply: Reply;
    try {
      reply = await this.responder(request, request.index);
    } catch (err) {
      reply = { status: 500, message: `mock responder threw: ${String(err)}` };
    }
    await this.send(request, reply, res);
  }

  private async send(request: MockRequest, reply: Reply, res: http.ServerResponse): Promise<void> {
    if ('hang' in reply) return;
    if ('status' in reply) {
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: reply.message ?? `mock status ${reply.status}`, type: 'mock_error', code: null } }));
      return;
    }
    let closed = false;
    let complete = false;
    res.on('close', () => {
      closed = true;
      if (!complete) request.aborted = true;
    });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const id = `chatcmpl-mock-${request.index}`;
    const created = Math.floor(Date.now() / 1000);
    const write = (delta: Record<string, unknown>, finish: string | null = null) => {
      if (closed) return;
      const chunk = { id, object: 'chat.completion.chunk', created, model: request.model, choices: [{ index: 0, delta, finish_reason: finish }] };
      res.write(`data: ${JSON.stringify(chunk)}\n\n`);
    };
    write({ role: 'assistant', content: '' });

    let produced = '';
    let finish = 'stop';
    if ('streamUntilAborted' in reply) {
      for (let i = 0; i < (reply.maxChunks ?? 600); i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, reply.delayMs));
        if (closed) return;
        write({ content: reply.streamUntilAborted });
        produced += reply.streamUntilAborted;
      }
    } else if ('textChunks' in reply) {
      for (const [i, piece] of reply.textChunks.entries()) {
        if (i > 0 && reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
        if (closed) return;
        write({ content: piece });
        produced += piece;
      }
      finish = reply.finishReason ?? 'stop';
    } else if ('toolCalls' in reply) {
      if (reply.text) {
        write({ content: reply.text });
        produced += reply.text;
      }
      reply.toolCalls.forEach((call, index) => {
        const callId = call.id ?? `call_mock_${++this.toolCallCounter}`;
        const args = typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments);
        write({ tool_calls: [{ index, id: callId, type: 'function', function: { name: call.name, arguments: '' } }] });
        for (const part of split(args, reply.argChunks ?? 3)) write({ tool_calls: [{ index, function: { arguments: part } }] });
        produced += args;
      });
      finish = 'tool_calls';
    } else {
      for (const piece of split(reply.text, reply.chunks ?? 3)) write({ content: piece });
      produced += reply.text;
      finish = reply.finishReason ?? 'stop';
    }
    write({}, finish);
    if (closed) return;
    const usage = reply.usage ?? { prompt: estimateTokens(JSON.stringify(request.messages)), completion: estimateTokens(produced) };
    const usageChunk = {
      id,
      object: 'chat.completion.chunk',
      created,
      model: request.model,
      choices: [],
      usage: { prompt_tokens: usage.prompt, completion_tokens: usage.completion, total_tokens: usage.prompt + usage.completion },
    };
    res.write(`data: ${JSON.stringify(usageChunk)}\n\n`);
    complete = true;
    res.end('data: [DONE]\n\n');
  }
}
