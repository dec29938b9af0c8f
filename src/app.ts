/**
 * `npm start`: the run engine plus every configured chat front end. Discord and/or Slack when
 * their tokens are set; otherwise the local console mode in this terminal. Takes the DATA_DIR
 * lock first (a second bot on the same folder stops at once). Shuts down on SIGINT/SIGTERM within
 * a bound (src/bot-shutdown.ts: active runs become `interrupted`, refinable later) and, if the
 * process exits any other way, still kills agent and playtest process trees on the way out.
 */
import path from 'node:path';
import { allowAllUsersWarning, scrubBotSecrets, type Config } from './config.js';
import { ConsoleReceiver, withConsoleOperator } from './bots/console/console-mode.js';
import { ChatHub, type Receiver } from './bots/hub/hub.js';
import { shutdownWithin } from './bot-shutdown.js';
import { createRunEngine, type RunEngine } from './core/engine.js';
import { Redactor } from './core/redact.js';
import { createFileLogger, createLogger, type Logger } from './logger.js';

export interface BotIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** The receivers of every configured platform (each imported only when configured). */
async function platformReceivers(config: Config, logger: Logger): Promise<Receiver[]> {
  const receivers: Receiver[] = [];
  if (config.discord) {
    const { DiscordReceiver } = await import('./bots/discord/index.js');
    receivers.push(new DiscordReceiver({ discord: config.discord, logger: logger.child({ platform: 'discord' }) }));
  }
  if (config.slack) {
    const { SlackReceiver } = await import('./bots/slack/index.js');
    receivers.push(await SlackReceiver.connect({ slack: config.slack, logger: logger.child({ platform: 'slack' }) }));
  }
  return receivers;
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
  // The long-running bot prunes old worktrees and data at start-up and daily (logs only).
  const engine = await createRunEngine(config, logger, { housekeeping: true, lock: true });
  const allowAll = allowAllUsersWarning(config);
  if (allowAll) logger.warn(allowAll);
  const killOnExit = () => engine.killAllSync();
  process.on('exit', killOnExit);

  const hub = new ChatHub({
    store: engine.store,
    manager: engine.manager,
    auth: consoleMode ? withConsoleOperator(config.auth) : config.auth,
    logger,
    redact: engine.redact,
  });
  let stopping: Promise<void> | null = null;
  // Until every receiver started there is nothing to flush (a receiver that failed to start made
  // the hub stop the ones already started).
  let hubStarted = false;
  let signalled!: () => void;
  const stopRequested = new Promise<void>((resolve) => (signalled = resolve));
  const shutdown = (reason: string) =>
    (stopping ??= (async () => {
      logger.info({ reason }, 'shutting down');
      await shutdownWithin({ hub: hubStarted ? hub : null, engine, logger });
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
    let receivers: Receiver[];
    if (consoleMode) {
      io.stderr.write(`No DISCORD_TOKEN or SLACK_BOT_TOKEN set: starting the console mode (logs: ${logFile}).\n`);
      receivers = [new ConsoleReceiver({ input: io.stdin, output: io.stdout })];
    } else {
      receivers = await platformReceivers(config, logger);
    }
    await hub.start(receivers);
    hubStarted = true;
    if (stopping) {
      // A signal during start-up: its shutdown did not know the receivers yet; start nothing more.
      await hub.stop();
    } else {
      // Runs a previous process left queued wait here again, in their order.
      engine.manager.resumeQueue();
      // Then what was said in the threads of recent runs while the bot was down (in the background).
      void hub.catchUp();
      logger.info({ platforms: receivers.map((r) => r.platform) }, 'bot started');
    }
    // Until a receiver ends by itself (console :quit, Discord session lost) or a signal comes.
    await Promise.race([hub.done, stopRequested]);
  } finally {
    await shutdown('front end ended');
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
