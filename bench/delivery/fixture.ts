/**
 * The recorded run the delivery benchmark replays: the compact events the real pi emitted through
 * the agent-driver seam (against the scripted model of bench/record.ts), each with its time
 * relative to the driver's start, and the outcome the driver reported. Every assistant text and
 * tool command carries a unique marker (`step-07`) so its arrival in chat can be found.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentOutcome } from '../../src/core/agent/agent-driver.js';
import type { RunEventData } from '../../src/core/types.js';

export const FIXTURE_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'pi-run.events.json');

export interface RecordedEvent {
  /** Milliseconds after the driver's `start` was called. */
  atMs: number;
  data: RunEventData;
}

export interface Recording {
  recordedAt: string;
  /** What produced it (pi version, script). */
  source: string;
  events: RecordedEvent[];
  outcome: AgentOutcome;
}

const MARKER = /\bstep-\d{2}\b/;

/** The marker an event carries (in its text or tool summary), or null. */
export function markerOf(data: RunEventData): string | null {
  switch (data.type) {
    case 'assistant_text':
      return MARKER.exec(data.text)?.[0] ?? null;
    case 'tool_start':
    case 'tool_end':
      return MARKER.exec(data.summary)?.[0] ?? null;
    default:
      return null;
  }
}

export function loadRecording(file = FIXTURE_FILE): Recording {
  if (!fs.existsSync(file)) throw new Error(`no recording at ${file}: run \`npm run bench:record\` first`);
  const rec = JSON.parse(fs.readFileSync(file, 'utf8')) as Recording;
  if (!Array.isArray(rec.events) || rec.events.length === 0) throw new Error(`${file} holds no events: run \`npm run bench:record\` again`);
  return rec;
}
