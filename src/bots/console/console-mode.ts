/**
 * The console mode: the chat hub (controller, relay, outbox, delivery) driven from a terminal
 * instead of a chat platform, against the real RunManager. `ConsoleReceiver` is the terminal's
 * transport; the person at the terminal is the operator and is always authorized as
 * `console:<name>`.
 */
import readline from 'node:readline';
import type { Logger } from 'pino';
import type { AuthConfig } from '../../config.js';
import type { Store } from '../../store/index.js';
import type { ChatUser } from '../hub/chat-types.js';
import { HELP_TEXT } from '../hub/command-parse.js';
import { ChatHub, type EventSink, type HubOptions, type Receiver } from '../hub/hub.js';
import { parseConsoleLine, type ConsoleState } from './console-input.js';
import { ConsolePort } from './console-port.js';

export interface ConsoleReceiverOptions {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** Draw status updates as one updating line (default: whether `output` is a TTY). */
  isTTY?: boolean;
  /** The operator's name (default `operator`). */
  userName?: string;
}

/** The auth rules with the console's operator added: the person at the terminal runs the bot. */
export function withConsoleOperator(auth: AuthConfig, userName = 'operator'): AuthConfig {
  return { ...auth, allowedUsers: [...auth.allowedUsers, consoleUser(userName).id] };
}

function consoleUser(userName: string): ChatUser {
  const name = userName.replace(/[^A-Za-z0-9_.-]/g, '_');
  return { id: `console:${name}`, displayName: name, roleIds: [], isBot: false };
}

/** Lines typed in the terminal become events; `:quit` or the end of input ends it (`done`). */
export class ConsoleReceiver implements Receiver {
  readonly platform = 'console';
  readonly port: ConsolePort;
  readonly notifyChannel = null;
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private readonly quit = new AbortController();
  private loop: Promise<void> | null = null;

  constructor(private readonly opts: ConsoleReceiverOptions) {
    const isTTY = opts.isTTY ?? Boolean((opts.output as { isTTY?: boolean }).isTTY);
    this.port = new ConsolePort(opts.output, isTTY);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  async start(sink: EventSink): Promise<void> {
    this.loop = this.read(sink).finally(() => this.resolveDone());
  }

  async stop(): Promise<void> {
    this.quit.abort();
    await this.loop;
  }

  private async read(sink: EventSink): Promise<void> {
    const { port } = this;
    const state: ConsoleState = {
      user: consoleUser(this.opts.userName ?? 'operator'),
      thread: null,
      lastMessage: null,
      respond: async (text) => port.print(text.split('\n').map((l) => `» ${l}`).join('\n')),
      userMessage: (thread) => port.userMessage(thread),
    };
    port.onThread = (thread, header) => {
      state.thread = thread;
      state.lastMessage = header;
    };
    port.onPost = (thread, message) => {
      if (thread === state.thread) state.lastMessage = message;
    };
    port.print('chatops console — type /help for commands, :quit to leave.');
    const rl = readline.createInterface({ input: this.opts.input, crlfDelay: Infinity, terminal: false, signal: this.quit.signal });
    try {
      for await (const line of rl) {
        const parsed = parseConsoleLine(line, state);
        if (parsed.kind === 'quit') break;
        if (parsed.kind === 'message') port.print(parsed.text);
        if (parsed.kind === 'event') {
          if (parsed.event.kind === 'command' && /^\/?help$/.test(parsed.event.name) && !parsed.event.text) {
            port.print(`${HELP_TEXT}\nIn the console: plain lines go to the current run's thread; :stop, :refine, :playtest, :capture (screenshots of the playtest), :stop-playtest stand in for reactions; :quit leaves.`);
            continue;
          }
          await sink.handle(parsed.event);
        }
      }
    } catch (err) {
      // Aborted by stop(): the loop simply ends.
      if ((err as { name?: string }).name !== 'AbortError') throw err;
    } finally {
      rl.close();
    }
  }
}

export interface ConsoleModeOptions extends ConsoleReceiverOptions, Pick<HubOptions, 'flushDelayMs'> {
  store: Store;
  manager: HubOptions['manager'];
  auth: AuthConfig;
  logger: Logger;
}

/** Runs a hub with only the console until `:quit` or the end of input; resolves after it stopped. */
export async function runConsoleMode(opts: ConsoleModeOptions): Promise<void> {
  const receiver = new ConsoleReceiver(opts);
  const hub = new ChatHub({ store: opts.store, manager: opts.manager, auth: withConsoleOperator(opts.auth, opts.userName), logger: opts.logger, flushDelayMs: opts.flushDelayMs });
  await hub.start([receiver]);
  try {
    await hub.done;
  } finally {
    await hub.stop();
  }
}
