/**
 * Turns a typed line into a ChatEvent for the console's current thread:
 * `/run …`, `/runs`, `/card …`, `/help` are commands; `:stop`, `:refine`, `:playtest`,
 * `:capture` (📸), `:stop-playtest` stand in for reactions; other lines are replies (steer, `later:` follow-up,
 * or refinement feedback once the run has settled). `:quit` ends the session.
 */
import { randomUUID } from 'node:crypto';
import type { ChatEvent, ChatUser } from '../hub/chat-types.js';

export const CONSOLE_CHANNEL = 'console:main';

const REACTIONS: Record<string, { emoji: string; added: boolean }> = {
  ':stop': { emoji: '🛑', added: true },
  ':refine': { emoji: '🔁', added: true },
  ':playtest': { emoji: '🎮', added: true },
  ':capture': { emoji: '📸', added: true },
  ':stop-playtest': { emoji: '⏹️', added: true },
};

export type ConsoleInput =
  | { kind: 'event'; event: ChatEvent }
  | { kind: 'quit' }
  | { kind: 'nothing' }
  | { kind: 'message'; text: string };

export interface ConsoleState {
  user: ChatUser;
  /** The thread typed lines go to: the latest one opened. */
  thread: string | null;
  /** The latest bot message in that thread (what a `:stop` "reacts" to). */
  lastMessage: string | null;
  respond: (text: string) => Promise<void>;
  userMessage: (thread: string | null) => string;
}

export function parseConsoleLine(line: string, s: ConsoleState): ConsoleInput {
  const text = line.trim();
  if (!text) return { kind: 'nothing' };
  const base = { platform: 'console', dedupeKey: randomUUID(), user: s.user, channel: CONSOLE_CHANNEL, raw: line };
  if (text === ':quit' || text === ':q') return { kind: 'quit' };
  if (text.startsWith('/')) {
    const m = /^\/(\S+)\s*([\s\S]*)$/.exec(text)!;
    return {
      kind: 'event',
      event: { ...base, kind: 'command', name: m[1]!, options: {}, text: m[2]!, thread: s.thread, respond: s.respond },
    };
  }
  const reaction = REACTIONS[text];
  if (reaction || text.startsWith(':')) {
    if (!reaction) return { kind: 'message', text: `Unknown control "${text}": use :stop, :refine, :playtest, :capture, :stop-playtest or :quit.` };
    if (!s.thread) return { kind: 'message', text: 'No run yet: start one with /run card-123.' };
    return {
      kind: 'event',
      event: { ...base, kind: 'reaction', message: s.lastMessage ?? s.thread, thread: s.thread, emoji: reaction.emoji, added: reaction.added },
    };
  }
  if (!s.thread) return { kind: 'message', text: 'No run yet: start one with /run card-123 (or /help).' };
  return { kind: 'event', event: { ...base, kind: 'reply', thread: s.thread, message: s.userMessage(s.thread), text } };
}
