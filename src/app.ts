/**
 * `npm start`: the run engine plus every configured chat front end. Discord and/or Slack when
 * their tokens are set; otherwise the local console mode in this terminal. Shuts down cleanly on
 * SIGINT/SIGTERM (active runs become `interrupted`, refinable later) and, if the process exits
 * any other way, still kills agent and playtest process trees synchronously on the way out.
 */
import path from 'node:path';
import { allowAllUsersWarning, scrubBotSecrets, type Config } from './config.js';
import { runConsoleMode } from './bots/console/console-mode.js';
import { createRunEngine, type RunEngine } from './core/engine.js';
import { Redactor } from './core/redact.js';
import { createFileLogger, createLogger, type Logger } from './logger.js';

export interface BotIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** A running front end: resolves `done` when it ends by itself; `stop` ends it. */
interface FrontEnd {
  name: string;
  done: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts every configured platform, adding each to `fronts` as soon as it runs, so a failure of
 * the second still lets the shutdown stop the first.
 */
async function startPlatforms(config: Config, engine: RunEngine, logger: Logger, fronts: FrontEnd[]): Promise<void> {
  if (config.discord) {
    const { startDiscordBot } = await import('./bots/discord/index.js');
    fronts.push(await startDiscordBot({ config, discord: config.discord, engine, logger: logger.child({ platform: 'discord' }) }));
  }
  if (config.slack) {
    const { startSlackBot } = await import('./bots/slack/index.js');
    fronts.push(await startSlackBot({ config, slack: config.slack, engine, logger: logger.child({ platform: 'slack' }) }));
  }
}

export async function startBot(config: Config, io: BotIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<void> {
  scrubBotSecrets();
  const consoleMode = !config.discord && !config.slack;
  // In console mode the terminal is the chat: logs go to a file under DATA_DIR instead.
  let logger: Logger;
  let logFile = '';
  if (consoleMode) {
    const file = await createFileLogger(config.logLevel, path.join(config.dataDir, 'logs'), new Redactor(config.secretValues));
    logger = file.logger;
    logFile = file.file;
  } else {
    logger = createLogger(config.logLevel, io.stderr, new Redactor(config.secretValues));
  }
  const engine = await createRunEngine(config, logger);
  const allowAll = allowAllUsersWarning(config);
  if (allowAll) logger.warn(allowAll);
  const killOnExit = () => engine.killAllSync();
  process.on('exit', killOnExit);

  const fronts: FrontEnd[] = [];
  let stopping: Promise<void> | null = null;
  let signalled!: () => void;
  const stopRequested = new Promise<void>((resolve) => (signalled = resolve));
  const shutdown = (reason: string) =>
    (stopping ??= (async () => {
      logger.info({ reason }, 'shutting down');
      await Promise.allSettled(fronts.map((f) => f.stop()));
      await engine.close();
      process.off('exit', killOnExit);
    })());
  // Signals are ours from here on, start-up included. A second one means "now": kill the agent
  // and playtest trees synchronously and exit, rather than leave detached processes behind.
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: killing agents and playtests and exiting now');
      engine.killAllSync();
      process.exit(130);
    }
    signalled();
    void shutdown(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (consoleMode) {
      io.stderr.write(`No DISCORD_TOKEN or SLACK_BOT_TOKEN set: starting the console mode (logs: ${logFile}).\n`);
      const quit = new AbortController();
      const done = runConsoleMode({ store: engine.store, runs: engine.manager, auth: config.auth, logger, input: io.stdin, output: io.stdout, signal: quit.signal });
      const stop = async () => {
        quit.abort();
        await done;
      };
      fronts.push({ name: 'console', done, stop });
    } else {
      await startPlatforms(config, engine, logger, fronts);
      logger.info({ frontEnds: fronts.map((f) => f.name) }, 'bot started');
    }
    // Until a front end ends by itself (console :quit, Discord session lost) or a signal comes.
    await Promise.race([...fronts.map((f) => f.done), stopRequested]);
  } finally {
    await shutdown('front end ended');
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
