/**
 * The bot's graceful shutdown, bounded (SIGTERM/SIGINT, or a front end that ended): stop taking
 * commands, stop every agent through its stop sequence (the runs become `interrupted`) and every
 * playtest, let the relay and delivery send what the platforms accept, disconnect, close the
 * store. Each step gets what is left of the bound; one that overruns is cut off (agents and
 * playtests are then killed), and if the process is still alive a little after the bound it
 * kills what is left and exits: a stuck platform or agent never keeps the bot from exiting.
 */
import type { Logger } from 'pino';

/** The whole shutdown, SHUTDOWN_BOUND_MS at most. */
export const SHUTDOWN_BOUND_MS = 10_000;
/** Of the bound, what stopping agents leaves for posting their end to the chat and disconnecting. */
const FLUSH_RESERVE_MS = 3_000;

export interface ShutdownParts {
  hub: { pause(): Promise<void>; idle(): Promise<void>; stop(): Promise<void> } | null;
  engine: { stopRuns(): Promise<void>; close(): Promise<void>; killAllSync(): void };
  logger: Logger;
  boundMs?: number;
  /** Called when the process is still alive after the bound (default: `process.exit`). */
  exit?: (code: number) => void;
}

/** Resolves true when `work` settled within `ms`, false (logged) when it was cut off. */
async function step(logger: Logger, name: string, work: () => Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const cut = new Promise<'cut'>((resolve) => (timer = setTimeout(() => resolve('cut'), Math.max(0, ms))));
  const done = work().then(
    () => 'done' as const,
    (err: unknown) => {
      logger.warn({ err, step: name }, 'a shutdown step failed; going on');
      return 'done' as const;
    },
  );
  const outcome = await Promise.race([done, cut]);
  clearTimeout(timer);
  if (outcome === 'cut') logger.warn({ step: name, ms: Math.max(0, Math.round(ms)) }, 'a shutdown step overran its time; cut off');
  return outcome === 'done';
}

export async function shutdownWithin(parts: ShutdownParts): Promise<void> {
  const { hub, engine, logger } = parts;
  const bound = parts.boundMs ?? SHUTDOWN_BOUND_MS;
  const startedAt = Date.now();
  const left = () => bound - (Date.now() - startedAt);
  let finished = false;
  // Never hang past the bound: whatever still holds the event loop open then is cut.
  const hard = setTimeout(() => {
    if (!finished) logger.error({ boundMs: bound }, 'shutdown overran its bound; killing agents and playtests and exiting');
    engine.killAllSync();
    (parts.exit ?? ((code: number) => process.exit(code)))(finished ? (Number(process.exitCode) || 0) : 1);
  }, bound + 1000);
  hard.unref();
  if (hub) await step(logger, 'stop taking commands', () => hub.pause(), left());
  if (!(await step(logger, 'stop agents and playtests', () => engine.stopRuns(), left() - FLUSH_RESERVE_MS))) {
    engine.killAllSync();
    // Killed agents settle as interrupted at once; give them a moment within the bound.
    await step(logger, 'settle killed agents', () => engine.stopRuns(), Math.min(1000, left() - FLUSH_RESERVE_MS / 2));
  }
  if (hub) {
    await step(logger, "post the runs' end to the chat", () => hub.idle(), left() - 1000);
    await step(logger, 'disconnect from the chat platforms', () => hub.stop(), left());
  }
  await step(logger, 'close the store', () => engine.close(), Math.max(left(), 500));
  finished = true;
  logger.info({ ms: Date.now() - startedAt }, 'shut down');
}
