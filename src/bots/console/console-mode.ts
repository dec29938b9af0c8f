/**
 * The console mode: the whole chat layer (controller, relay, outbox, delivery) driven from a
 * terminal instead of a chat platform, against the real RunManager. The person at the terminal
 * is the operator and is always authorized as `console:<name>`.
 */
import readline from 'node:readline';
import type { Logger } from 'pino';
import type { AuthConfig } from '../../config.js';
import type { Store } from '../../store/index.js';
import { createChatBot, type ChatBotOptions } from '../chat/chat-bot.js';
import type { ChatUser } from '../chat/chat-types.js';
import { HELP_TEXT } from '../chat/command-parse.js';
import { parseConsoleLine, type ConsoleState } from './console-input.js';
import { ConsolePort } from './console-port.js';

export interface ConsoleModeOptions {
  store: Store;
  runs: ChatBotOptions['runs'];
  auth: AuthConfig;
  logger: Logger;
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** Draw status updates as one updating line (default: whether `output` is a TTY). */
  isTTY?: boolean;
  /** The operator's name (default `operator`). */
  userName?: string;
  flushDelayMs?: number;
  /** Ends the console mode like `:quit` (shutdown on a signal). */
  signal?: AbortSignal;
}

/** Runs until `:quit` or the end of input; resolves after the chat layer has stopped. */
export async function runConsoleMode(opts: ConsoleModeOptions): Promise<void> {
  const isTTY = opts.isTTY ?? Boolean((opts.output as { isTTY?: boolean }).isTTY);
  const port = new ConsolePort(opts.output, isTTY);
  const name = (opts.userName ?? 'operator').replace(/[^A-Za-z0-9_.-]/g, '_');
  const user: ChatUser = { id: `console:${name}`, displayName: name, roleIds: [], isBot: false };
  const bot = createChatBot({
    store: opts.store,
    runs: opts.runs,
    port,
    auth: { ...opts.auth, allowedUsers: [...opts.auth.allowedUsers, user.id] },
    logger: opts.logger,
    notifyChannel: null,
    flushDelayMs: opts.flushDelayMs,
  });
  const state: ConsoleState = {
    user,
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
  bot.start();
  port.print('chatops console — type /help for commands, :quit to leave.');
  const rl = readline.createInterface({ input: opts.input, crlfDelay: Infinity, terminal: false, signal: opts.signal });
  try {
    for await (const line of rl) {
      const parsed = parseConsoleLine(line, state);
      if (parsed.kind === 'quit') break;
      if (parsed.kind === 'message') port.print(parsed.text);
      if (parsed.kind === 'event') {
        if (parsed.event.kind === 'command' && /^\/?help$/.test(parsed.event.name) && !parsed.event.text) {
          port.print(`${HELP_TEXT}\nIn the console: plain lines go to the current run's thread; :stop, :refine, :playtest, :stop-playtest stand in for reactions; :quit leaves.`);
          continue;
        }
        await bot.handle(parsed.event);
      }
    }
  } finally {
    rl.close();
    await bot.stop();
  }
}
