/**
 * The seam between the RunManager and a coding agent process. The RunManager starts one
 * `AgentSession` per run and never speaks the agent's wire protocol itself.
 */
import type { RunEventData } from '../types.js';

export interface AgentStartOptions {
  runId: string;
  /** The run's worktree (or the repository root for a run without one). */
  cwd: string;
  /** Absolute path of the pi session file; created when new, resumed when it exists. */
  sessionFile: string;
  /** True for a refinement: the session file must already exist. */
  resume: boolean;
  /** The first user message. */
  prompt: string;
  /** Called for every compact event, in order, synchronously from the driver. */
  onEvent: (event: RunEventData) => void;
  /** Called whenever the agent shows it is alive (any output), for the idle timeout. */
  onActivity?: () => void;
}

/** How a run ended, as the agent driver saw it. */
export interface AgentOutcome {
  status: 'succeeded' | 'failed' | 'stopped';
  /** The last assistant text, if any. */
  summary: string | null;
  error: string | null;
  usage: AgentUsage;
}

export interface AgentUsage {
  input: number;
  output: number;
  total: number;
  costUsd: number;
}

export interface AgentSession {
  /** The agent's process id (its process group leader), for diagnostics. */
  readonly pid: number | undefined;
  /** Resolves once with the outcome after the run has settled and the process has exited. Never rejects. */
  readonly done: Promise<AgentOutcome>;
  /** Deliver a message before the agent's next model call (a prompt when the agent is idle). */
  steer(text: string): Promise<void>;
  /** Deliver a message when the agent would otherwise stop (a prompt when idle). */
  followUp(text: string): Promise<void>;
  /** Stop sequence: abort, close stdin, SIGTERM, SIGKILL, each with a timeout; kills the process tree. */
  stop(): Promise<void>;
}

export interface AgentDriver {
  /**
   * Spawns the agent and sends the prompt. Rejects (with an `AppError` of code
   * `AGENT_START_FAILED`) when the process cannot be started or exits before answering;
   * once it resolves, every later failure arrives through `done`.
   */
  start(options: AgentStartOptions): Promise<AgentSession>;
}
