/**
 * `npm start`: the run engine plus every configured chat front end. Discord and/or Slack when
 * their tokens are set; otherwise the local console mode in this terminal. Shuts down cleanly on
 * SIGINT/SIGTERM (active runs become `interrupted`, refinable later) and, if the process exits
 * any other way, still kills agent and playtest process trees synchronously on the way out.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from './config.js';
import { runConsoleMode } from './bots/console/console-mode.js';
import { createRunEngine, type RunEngine } from './core/engine.js';
import { createLogger, type Logger } from './logger.js';

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

async function startPlatforms(config: Config, engine: RunEngine, logger: Logger): Promise<FrontEnd[]> {
  const fronts: FrontEnd[] = [];
  if (config.discord) {
    const { startDiscordBot } = await import('./bots/discord/index.js');
    fronts.push(await startDiscordBot({ config, discord: config.discord, engine, logger: logger.child({ platform: 'discord' }) }));
  }
  if (config.slack) {
    const { startSlackBot } = await import('./bots/slack/index.js');
    fronts.push(await startSlackBot({ config, slack: config.slack, engine, logger: logger.child({ platform: 'slack' }) }));
  }
  return fronts;
}

export async function startBot(config: Config, io: BotIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<void> {
  const consoleMode = !config.discord && !config.slack;
  // In console mode the terminal is the chat: logs go to a file under DATA_DIR instead.
  let logger: Logger;
  if (consoleMode) {
    const logDir = path.join(config.dataDir, 'logs');
    fs.mkdirSync(logDir, { recursive: true });
    logger = createLogger(config.logLevel, fs.createWriteStream(path.join(logDir, 'bot.log'), { flags: 'a' }));
  } else {
    logger = createLogger(config.logLevel, io.stderr);
  }
  const engine = await createRunEngine(config, logger);
  const killOnExit = () => engine.killAllSync();
  process.on('exit', killOnExit);

  let fronts: FrontEnd[];
  if (consoleMode) {
    io.stderr.write(`No DISCORD_TOKEN or SLACK_BOT_TOKEN set: starting the console mode (logs: ${path.join(config.dataDir, 'logs', 'bot.log')}).\n`);
    const done = runConsoleMode({ store: engine.store, runs: engine.manager, auth: config.auth, logger, input: io.stdin, output: io.stdout });
    fronts = [{ name: 'console', done, stop: async () => {} }];
  } else {
    fronts = await startPlatforms(config, engine, logger);
    logger.info({ frontEnds: fronts.map((f) => f.name) }, 'bot started');
  }

  let stopping: Promise<void> | null = null;
  const shutdown = (reason: string) =>
    (stopping ??= (async () => {
      logger.info({ reason }, 'shutting down');
      await Promise.allSettled(fronts.map((f) => f.stop()));
      await engine.close();
      process.off('exit', killOnExit);
    })());
  const onSignal = (signal: NodeJS.Signals) => void shutdown(signal);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await Promise.race(fronts.map((f) => f.done));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await shutdown('front end ended');
  }
}
