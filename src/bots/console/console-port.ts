/**
 * A ChatPort over a terminal: posts are printed as they would appear in the thread, prefixed by
 * the run they belong to; status edits become one updating line on a TTY and, elsewhere, a line
 * only when the run's state or current step changes. Writes go to the injected stream.
 */
import type { ChatLimits, ChatPort, DeliveryErrorClass } from '../hub/chat-types.js';

export const CONSOLE_LIMITS: ChatLimits = {
  maxMessageChars: 4000,
  messageHeadroom: 100,
  maxThreadNameChars: 100,
  postScope: 'thread',
  posts: { count: 1000, windowMs: 1000 },
  edits: 'posts',
  reactions: { count: 1000, windowMs: 1000 },
  threadCreates: null,
  globalPerSecond: 1000,
  statusEditMinIntervalMs: 1000,
  controlReactions: false,
};

interface Msg {
  label: string;
  thread: string | null;
  lastShown: string;
}

export class ConsolePort implements ChatPort {
  readonly platform = 'console';
  readonly limits = CONSOLE_LIMITS;
  private next = 1;
  private readonly messages = new Map<string, Msg>();
  private readonly threadLabels = new Map<string, string>();
  private readonly nonces = new Map<string, string>();
  /** True while the TTY status line is on screen without a newline. */
  private liveLine = false;
  /** Called when a thread opens (the console's "current thread" follows it). */
  onThread: ((thread: string, header: string) => void) | null = null;
  /** Called for every message the bot posts in a thread (`:stop` etc. react to the latest). */
  onPost: ((thread: string, message: string) => void) | null = null;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly isTTY: boolean,
  ) {}

  /** Prints a line of the console's own (prompts, answers), keeping the status line intact. */
  print(text: string): void {
    this.clearLive();
    this.out.write(`${text}\n`);
  }

  /** Records a message the user typed in a thread, so acknowledgements can point at it. */
  userMessage(thread: string | null): string {
    const ref = `console:u${this.next++}`;
    this.messages.set(ref, { label: this.labelOf(thread), thread, lastShown: '' });
    return ref;
  }

  async post(_channel: string, thread: string | null, body: string, opts: { nonce: string }): Promise<string> {
    const seen = this.nonces.get(opts.nonce);
    if (seen) return seen;
    const ref = `console:m${this.next++}`;
    this.nonces.set(opts.nonce, ref);
    const label = this.labelOf(thread);
    this.messages.set(ref, { label, thread, lastShown: this.keyLine(body) });
    this.print(prefixLines(label, body));
    if (thread) this.onPost?.(thread, ref);
    return ref;
  }

  async edit(message: string, body: string): Promise<void> {
    const msg = this.messages.get(message);
    if (!msg) return;
    const line = summaryLine(body);
    if (this.isTTY) {
      this.clearLive();
      this.out.write(`[${msg.label}] ${line}`);
      this.liveLine = true;
      return;
    }
    const key = this.keyLine(body);
    if (key === msg.lastShown) return;
    msg.lastShown = key;
    this.print(`[${msg.label}] ${line}`);
  }

  async react(message: string, emoji: string): Promise<void> {
    // Control reactions on headers are the platform's buttons; in the console, only acknowledgements show.
    if (!message.startsWith('console:u')) return;
    const msg = this.messages.get(message);
    this.print(`[${msg?.label ?? 'console'}] ${emoji === '👀' ? '👀 sent to the agent' : emoji === '📨' ? '📨 queued as a follow-up' : emoji}`);
  }

  async createThread(_channel: string, from: string, name: string): Promise<string> {
    const ref = `console:t${this.next++}`;
    const parts = name.split(' · ');
    this.threadLabels.set(ref, parts.length > 1 ? `${parts[0]} ${parts[parts.length - 1]}` : name);
    this.print(`── thread ${this.labelOf(ref)} opened: ${name} ──`);
    this.onThread?.(ref, from);
    return ref;
  }

  permalink(_channel: string, thread: string | null): string | null {
    return thread ? `thread [${this.labelOf(thread)}]` : null;
  }

  classifyError(err: unknown): DeliveryErrorClass {
    return { kind: 'permanent', reason: err instanceof Error ? err.message : String(err) };
  }

  private labelOf(thread: string | null): string {
    return thread ? (this.threadLabels.get(thread) ?? thread) : '#main';
  }

  /** What makes a status edit worth a new line off a TTY: state and current step, not the clock. */
  private keyLine(body: string): string {
    const lines = body.split('\n');
    const state = /\*\*(\w+)\*\*/.exec(lines[0] ?? '')?.[1] ?? '';
    const step = lines.find((l) => l.startsWith('▶')) ?? '';
    return `${state}|${step}`;
  }

  private clearLive(): void {
    if (this.liveLine) {
      this.out.write('\r\x1b[2K');
      this.liveLine = false;
    }
  }
}

function prefixLines(label: string, body: string): string {
  return body
    .split('\n')
    .map((l) => `[${label}] ${l}`)
    .join('\n');
}

/** The status message on one line: state/time, then the current step. */
function summaryLine(body: string): string {
  const lines = body.split('\n');
  const step = lines.find((l) => l.startsWith('▶'));
  return [lines[0], step].filter(Boolean).join(' · ').replace(/\*\*/g, '');
}
