/** What the command handlers and the thread controls share. */
import type { Logger } from 'pino';
import type { AuthConfig } from '../../config.js';
import { AppError, userMessage } from '../../core/errors.js';
import type { RunManager } from '../../core/run-manager.js';
import type { Store } from '../../store/index.js';
import type { ChatPort } from './chat-types.js';
import type { Clock } from './clock.js';
import type { Delivery } from './delivery.js';
import type { Relay } from './relay.js';
import type { ThreadWriter } from './thread-writer.js';

/** What the controller uses of the RunManager. */
export type RunControl = Pick<
  RunManager,
  'start' | 'refine' | 'steer' | 'followUp' | 'stop' | 'isActive' | 'waitForSettled' | 'startPlaytest' | 'stopPlaytest' | 'capturePlaytest' | 'playtestRunning' | 'get' | 'list' | 'cards' | 'queuePositions'
>;

export interface ControllerContext {
  store: Store;
  /** The RunManager (what the controller uses of it). */
  manager: RunControl;
  /** The port of a platform this process serves. */
  portOf: (platform: string) => ChatPort | undefined;
  relay: Relay;
  delivery: Delivery;
  auth: AuthConfig;
  logger: Logger;
  clock: Clock;
  writer: ThreadWriter;
  nameOf: (userId: string) => string;
  threadLinkWaitMs?: number;
}

/** The text to show a user for a failure: user errors and failed starts as they are, others generic. */
export function chatMessage(err: unknown): string {
  if (err instanceof AppError && err.code === 'AGENT_START_FAILED') return err.message;
  return userMessage(err);
}
