/**
 * Maps pi's RPC wire events (0.73/0.74, newer fields optional) to the compact `RunEventData`
 * the rest of the bot sees. Unknown events and fields are ignored. `message_update` is dropped
 * entirely: its `message`/`partial` snapshots grow quadratically and are not point-in-time; the
 * final text comes from the assistant `message_end`.
 *
 * Known secrets are redacted on the whole wire event, before texts are cut to a summary or a
 * tail: the joined text of a streamed message or a tool's whole output, so a key the model or a
 * tool produced in pieces is still found, and no cut leaves part of one behind.
 */
import { Redactor } from '../redact.js';
import type { RunEventData } from '../types.js';

export const TOOL_SUMMARY_MAX = 200;

/** The wire events `PiEventMapper.map` turns into run events; every other type maps to nothing. */
const MAPPED = new Set(['message_end', 'tool_execution_start', 'tool_execution_end', 'turn_end', 'auto_retry_start', 'auto_retry_end', 'compaction_start', 'compaction_end']);
export const OUTPUT_TAIL_LINES = 15;
export const OUTPUT_TAIL_CHARS = 1500;
export const TEXT_MAX = 8000;

type Json = Record<string, unknown>;

export type UserMessageKind = 'steer' | 'follow_up' | 'prompt';

/** What the driver needs from the last assistant message to decide the outcome. */
export interface AssistantInfo {
  stopReason: string;
  text: string | null;
  errorMessage: string | null;
}

function obj(v: unknown): Json | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null;
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function num(v: unknown, fallback = 0): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

/** Collapses whitespace (newlines included) to single spaces and truncates with an ellipsis. */
export function oneLine(text: string, max = TOOL_SUMMARY_MAX): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Keeps the head of a long text, marking the cut. */
export function bounded(text: string, max = TEXT_MAX): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The last `maxLines` lines and at most `maxChars` characters of a text, trailing blank lines dropped. */
export function tailText(text: string, maxLines = OUTPUT_TAIL_LINES, maxChars = OUTPUT_TAIL_CHARS): string {
  const lines = text.replace(/\s+$/, '').split('\n');
  let tail = lines.slice(-maxLines).join('\n');
  if (lines.length > maxLines) tail = `…\n${tail}`;
  if (tail.length > maxChars) tail = `…${tail.slice(tail.length - (maxChars - 1))}`;
  return tail;
}

/** Text blocks of a message content (string or block array), joined; thinking and tool calls skipped. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const parts: string[] = [];
  for (const block of content) {
    const b = obj(block);
    if (b && b.type === 'text' && typeof b.text === 'string') parts.push(b.text);
  }
  return parts.join('\n');
}

/** A one-line description of a tool call, e.g. `bash: git commit -m x`, `read: src/a.ts`. */
export function summarizeToolCall(tool: string, argsValue: unknown): string {
  const args = obj(argsValue) ?? {};
  const path = str(args.path) ?? str(args.file_path);
  let detail: string;
  switch (tool) {
    case 'bash':
      detail = str(args.command) ?? '';
      break;
    case 'read':
    case 'edit':
    case 'ls':
      detail = path ?? '';
      break;
    case 'write': {
      const content = str(args.content);
      detail = content === null ? (path ?? '') : `${path ?? ''} (${content.split('\n').length} lines)`;
      break;
    }
    case 'grep':
    case 'find': {
      const pattern = str(args.pattern) ?? '';
      detail = path ? `${pattern} in ${path}` : pattern;
      break;
    }
    default:
      detail = Object.keys(args).length > 0 ? JSON.stringify(args) : '';
  }
  return oneLine(detail ? `${tool}: ${detail}` : tool);
}

function assistantInfo(message: Json): AssistantInfo {
  const text = contentText(message.content).trim();
  return {
    stopReason: str(message.stopReason) ?? 'stop',
    text: text === '' ? null : text,
    errorMessage: str(message.errorMessage),
  };
}

/**
 * Stateful mapper for one agent process. It counts turns, remembers tool summaries between start
 * and end, recognizes queued user messages the driver announced, and keeps what the outcome needs.
 */
export class PiEventMapper {
  private turns = 0;
  private readonly tools = new Map<string, string>();
  private readonly expectedUsers: string[] = [];
  /** The last assistant message of this process (any stop reason). */
  lastAssistant: AssistantInfo | null = null;
  /** Text of the last assistant message that ended with `stop` or `length` and had text. */
  lastStopText: string | null = null;
  /** `finalError` of the last failed `auto_retry_end`. */
  lastRetryError: string | null = null;
  /** Usage summed over this process's assistant messages (fallback when stats are unavailable). */
  readonly usage = { input: 0, output: 0, total: 0, costUsd: 0 };

  constructor(private readonly redactor: Redactor = Redactor.none()) {}

  /** Announces a user message the driver sent: its delivery is not reported again. */
  expectUserMessage(text: string): void {
    this.expectedUsers.push(text);
  }

  /** Maps one wire event; returns zero or more compact events. */
  map(wire: Json): RunEventData[] {
    // Only the events mapped below are redacted (streaming updates would cost a scan each).
    if (typeof wire.type !== 'string' || !MAPPED.has(wire.type)) return [];
    const event = this.redactor.redactDeep(wire);
    switch (event.type) {
      case 'message_end':
        return this.messageEnd(obj(event.message));
      case 'tool_execution_start': {
        const id = str(event.toolCallId) ?? '';
        const tool = str(event.toolName) ?? 'tool';
        const summary = summarizeToolCall(tool, event.args);
        this.tools.set(id, summary);
        return [{ type: 'tool_start', toolCallId: id, tool, summary }];
      }
      case 'tool_execution_end': {
        const id = str(event.toolCallId) ?? '';
        const tool = str(event.toolName) ?? 'tool';
        const summary = this.tools.get(id) ?? summarizeToolCall(tool, event.args);
        this.tools.delete(id);
        const output = contentText(obj(event.result)?.content);
        return [{ type: 'tool_end', toolCallId: id, tool, summary, isError: event.isError === true, outputTail: tailText(output) }];
      }
      case 'turn_end':
        this.turns += 1;
        return [{ type: 'turn_end', turn: this.turns }];
      case 'auto_retry_start':
        return [
          {
            type: 'retry',
            attempt: num(event.attempt),
            maxAttempts: num(event.maxAttempts),
            delayMs: num(event.delayMs),
            error: bounded(str(event.errorMessage) ?? 'unknown error', 1000),
          },
        ];
      case 'auto_retry_end': {
        const error = str(event.finalError);
        if (event.success !== true) this.lastRetryError = error ?? 'retries exhausted';
        return [{ type: 'retry_end', success: event.success === true, attempt: num(event.attempt), error: error === null ? null : bounded(error, 1000) }];
      }
      case 'compaction_start':
        return [{ type: 'compaction', phase: 'start', reason: str(event.reason) ?? 'unknown', error: null }];
      case 'compaction_end': {
        const error = str(event.errorMessage) ?? (event.aborted === true ? 'compaction aborted' : null);
        return [{ type: 'compaction', phase: 'end', reason: str(event.reason) ?? 'unknown', error }];
      }
      default:
        return [];
    }
  }

  private messageEnd(message: Json | null): RunEventData[] {
    if (!message) return [];
    if (message.role === 'assistant') {
      const info = assistantInfo(message);
      this.lastAssistant = info;
      const usage = obj(message.usage);
      if (usage) {
        this.usage.input += num(usage.input);
        this.usage.output += num(usage.output);
        this.usage.total += num(usage.totalTokens);
        this.usage.costUsd += num(obj(usage.cost)?.total);
      }
      const out: RunEventData[] = [];
      if (info.text !== null) out.push({ type: 'assistant_text', text: bounded(info.text) });
      if ((info.stopReason === 'stop' || info.stopReason === 'length') && info.text !== null) this.lastStopText = info.text;
      if (info.stopReason === 'error') out.push({ type: 'error', message: bounded(info.errorMessage ?? 'the model call failed', 2000) });
      return out;
    }
    if (message.role === 'user') {
      const text = contentText(message.content);
      const index = this.expectedUsers.indexOf(text);
      // Messages the driver sent were recorded (with who sent them) when they were requested.
      if (index !== -1) {
        this.expectedUsers.splice(index, 1);
        return [];
      }
      return [{ type: 'user_message', kind: 'prompt', text: bounded(text, 2000), by: null }];
    }
    return [];
  }
}
