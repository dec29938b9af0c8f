/**
 * The run engine's vocabulary: cards, runs, and the compact events a run emits.
 * Platform-free: nothing here knows about Discord, Slack or SQL.
 */

export interface Card {
  id: string;
  title: string;
  body: string;
  status: string;
  createdAt: string;
  updatedAt: string;
}

/**
 * `queued → running → succeeded | failed | stopped`, or `interrupted` when the bot lost the
 * process; a queued run stopped before it started is `stopped`.
 */
export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'stopped' | 'interrupted';

export const TERMINAL_STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'stopped', 'interrupted'];

/** Who or what started a run: `cli:<user>`, `discord:<user id>`, `slack:<user id>`, `console`. */
export type Actor = string;

export interface Run {
  id: string;
  cardId: string;
  status: RunStatus;
  useWorktree: boolean;
  /** True for the run that created its worktree; refinements borrow it. */
  ownsWorktree: boolean;
  branch: string | null;
  worktreePath: string | null;
  /** The commit the run's branch was created from (for files-changed reports). */
  baseSha: string | null;
  /** The pi session file (JSONL) this run writes; a refinement resumes it. */
  sessionFile: string | null;
  prompt: string;
  summary: string | null;
  commitSha: string | null;
  error: string | null;
  startedBy: Actor;
  /** The run this one refines, if any. */
  parentRunId: string | null;
  tokensInput: number;
  tokensOutput: number;
  tokensTotal: number;
  costUsd: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/**
 * Compact, normalized run events. The agent driver maps the agent's wire protocol to these;
 * renderers, the CLI and the store see nothing else. `data` must stay small: text is bounded.
 */
export type RunEventData =
  | { type: 'run_started'; cardId: string; branch: string | null; worktreePath: string | null; refinementOf: string | null }
  /** The run waits for a free slot (MAX_CONCURRENT_RUNS); repeated when its place in the queue changes. */
  | { type: 'run_queued'; cardId: string; refinementOf: string | null; position: number; maxConcurrent: number }
  | { type: 'assistant_text'; text: string }
  | { type: 'tool_start'; toolCallId: string; tool: string; summary: string }
  | { type: 'tool_end'; toolCallId: string; tool: string; summary: string; isError: boolean; outputTail: string }
  | { type: 'turn_end'; turn: number }
  | { type: 'user_message'; kind: 'steer' | 'follow_up' | 'prompt'; text: string; by: Actor | null }
  | { type: 'retry'; attempt: number; maxAttempts: number; delayMs: number; error: string }
  | { type: 'retry_end'; success: boolean; attempt: number; error: string | null }
  | { type: 'compaction'; phase: 'start' | 'end'; reason: string; error: string | null }
  /** Spend so far; `budgetUsd` when RUN_BUDGET_USD caps the run. */
  | { type: 'usage'; input: number; output: number; total: number; costUsd: number; budgetUsd?: number }
  | { type: 'error'; message: string }
  | { type: 'warning'; message: string }
  | { type: 'stop_requested'; by: Actor | null }
  /**
   * A playtest's phases: `started`, `building` (repeated while cargo builds, with the elapsed time
   * and its last line as `text`), `running` (the game started), `output` (batches of its lines),
   * then `exited` (also when stopped: `by` names who) or `failed` (could not build or start; `text`
   * ends with the output's tail in a code block). `logFile`: the full log under DATA_DIR.
   */
  | {
      type: 'playtest';
      phase: 'started' | 'building' | 'running' | 'output' | 'exited' | 'failed';
      text: string;
      exitCode: number | null;
      by: Actor | null;
      elapsedMs?: number;
      logFile?: string;
    }
  /** Screenshots and clips of a running playtest, as files under DATA_DIR/playtests/<runId>/. */
  | {
      type: 'playtest_media';
      files: { path: string; name: string; kind: 'screenshot' | 'clip'; contentType: 'image/png' | 'video/mp4'; bytes: number }[];
      note: string | null;
      by: Actor | null;
    }
  | {
      type: 'run_settled';
      status: RunStatus;
      summary: string | null;
      error: string | null;
      commitSha: string | null;
      branch: string | null;
      filesChanged: string[];
      durationMs: number;
      costUsd: number;
      tokensTotal: number;
    };

export type RunEventType = RunEventData['type'];

export interface RunEvent {
  runId: string;
  seq: number;
  type: RunEventType;
  data: RunEventData;
  createdAt: string;
}
