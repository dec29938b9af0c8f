/**
 * The bot's one pino logger. Components get child loggers bound to run id, card and thread.
 * Secrets never reach the log: token-like keys are redacted wherever they appear.
 */
import path from 'node:path';
import { pino, stdSerializers, type DestinationStream } from 'pino';
import roll, { type RollingStream } from 'pino-roll';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from './core/private-files.js';
import type { LogLevel } from './config.js';
import type { Redactor } from './core/redact.js';

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
  '*.*.token',
  '*.*.botToken',
  '*.*.appToken',
  '*.*.signingSecret',
  'agentEnv',
  '*.agentEnv',
  'headers.authorization',
  '*.headers.authorization',
  'headers.Authorization',
  '*.headers.Authorization',
];

/** Interaction tokens sit in Discord webhook URLs: `/webhooks/<app id>/<token>`, `/interactions/<id>/<token>`. */
const URL_TOKEN = /\/(webhooks|interactions)\/(\d+)\/[^/?\s]+/g;

/**
 * Errors as pino would log them, minus what carries credentials: the SDKs' attached HTTP
 * request and response (their headers hold bot tokens) and tokens inside request URLs.
 */
export function safeErr(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const out = stdSerializers.err(err) as unknown as Record<string, unknown>;
  for (const key of ['original', 'config', 'request', 'response', 'headers', 'requestBody', 'rawError']) delete out[key];
  for (const [key, value] of Object.entries(out)) {
    if (typeof value === 'string') out[key] = value.replace(URL_TOKEN, '/$1/$2/[redacted]');
  }
  return out;
}

/**
 * Logs JSON lines to stderr (stdout belongs to CLI output and the console mode). With a
 * redactor, every known secret value is replaced in each serialized line, whatever field or
 * message carries it.
 */
export function createLogger(level: LogLevel, destination: NodeJS.WritableStream = process.stderr, redactor?: Redactor): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT, censor: '[redacted]' },
      base: undefined,
      serializers: { err: safeErr },
      ...(redactor?.enabled ? { hooks: { streamWrite: redactor.redact } } : {}),
    },
    destination as DestinationStream,
  );
}

/** Log file rotation: a new file at this size; this many older files are kept. */
export const LOG_FILE_SIZE = '10m';
export const LOG_FILES_KEPT = 5;

/**
 * A logger writing to `<dir>/bot.<n>.log` (0600, in a 0700 folder), rolling to the next number
 * at LOG_FILE_SIZE and deleting all but the last LOG_FILES_KEPT older files; `<dir>/current.log`
 * links to the file in use. Returns the logger, that link's path and the rolling stream.
 */
export async function createFileLogger(
  level: LogLevel,
  dir: string,
  redactor?: Redactor,
  size: string | number = LOG_FILE_SIZE,
): Promise<{ logger: Logger; file: string; stream: RollingStream }> {
  ensurePrivateDir(dir);
  const stream = await roll({ file: path.join(dir, 'bot'), extension: '.log', size, limit: { count: LOG_FILES_KEPT }, symlink: true, mode: PRIVATE_FILE_MODE });
  return { logger: createLogger(level, stream, redactor), file: path.join(dir, 'current.log'), stream };
}

/** A logger that discards everything, for tests and quiet commands. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
