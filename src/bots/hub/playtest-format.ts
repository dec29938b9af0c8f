/**
 * How a playtest shows in its run's thread: the live status message carries its phase (building
 * with the elapsed time, running, the game's last line), and the digest gets a line when it starts,
 * when the game runs, and when it ends (the exit code, the tail of its output in a code block and
 * the full log's path, as the playtest core wrote them; who stopped it is the ⏹️ control's answer).
 */
import type { RunEventData } from '../../core/types.js';
import { formatDuration, truncate } from './render-format.js';

type PlaytestEvent = Extract<RunEventData, { type: 'playtest' }>;

function lastLine(text: string): string {
  return text.trim().split('\n').pop()?.trim() ?? '';
}

/** The playtest's line in the live status message, or null when none runs any more. */
export function playtestNote(e: PlaytestEvent): string | null {
  switch (e.phase) {
    case 'started':
      return '🎮 playtest starting';
    case 'building': {
      const line = lastLine(e.text);
      return `🎮 building ${formatDuration(e.elapsedMs ?? 0)}${line ? `: ${truncate(line, 120)}` : ''}`;
    }
    case 'running':
      return '🎮 game running';
    case 'output':
      return `🎮 ${truncate(lastLine(e.text), 150)}`;
    default:
      return null;
  }
}

/** The playtest's durable line in the thread, or null for phases that only touch the status. */
export function playtestLine(e: PlaytestEvent, nameOf: (actor: string | null) => string): string | null {
  switch (e.phase) {
    case 'started':
      return `🎮 playtest started by ${nameOf(e.by)}`;
    case 'running':
      return `🎮 game running${e.text ? ` (\`${truncate(e.text, 100)}\`)` : ''}`;
    case 'exited': {
      if (!e.text.trim()) return `🎮 playtest exited${e.exitCode === null ? '' : ` (code ${e.exitCode})`}`;
      if (e.by === null) return `🎮 ${e.text.trim()}`;
      // Stopped by someone: the control's answer names the person; the core's first line has their id.
      const rest = e.text.includes('\n') ? e.text.slice(e.text.indexOf('\n')) : '';
      return `🎮 playtest stopped${rest.trimEnd()}`;
    }
    case 'failed':
      return `🎮 playtest failed: ${e.text.trim() || 'no output'}`;
    default:
      return null;
  }
}
