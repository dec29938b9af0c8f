/**
 * The bot's one pino logger. Components get child loggers bound to run id, card and thread.
 * Secrets never reach the log: token-like keys are redacted wherever they appear.
 */
import { pino, type DestinationStream } from 'pino';
import type { LogLevel } from './config.js';

import type { Logger } from 'pino';
export type { Logger };

const REDACT = [
  'token',
  'botToken',
  'appToken',
  'signingSecret',
  'apiKey',
  '*.token',
  '*.botToken',
  '*.appToken',
  '*.signingSecret',
  '*.apiKey',
  'agentEnv',
  '*.agentEnv',
  'headers.authorization',
  '*.headers.authorization',
];

/** Logs JSON lines to stderr (stdout belongs to CLI output and the console mode). */
export function createLogger(level: LogLevel, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' }, base: undefined }, destination as DestinationStream);
}

/** A logger that discards everything, for tests and quiet commands. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
