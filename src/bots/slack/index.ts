/**
 * The Slack adapter's entry point for app wiring:
 *
 *   const bot = await startSlackBot({ config, slack: config.slack, engine, logger });
 *   await bot.done;      // or: await bot.stop();
 *
 * Socket Mode with `SLACK_APP_TOKEN`; HTTP mode when `SLACK_SIGNING_SECRET` and `PORT` are set.
 * The app's scopes, events and commands are in slack-app-manifest.yml at the repository root.
 */
import type { Logger } from 'pino';
import type { Config, SlackConfig } from '../../config.js';
import type { RunEngine } from '../../core/engine.js';
import { SlackBot, type SlackBotOptions } from './slack-bot.js';

export { SlackBot, SLASH_COMMANDS, createWriteClient, type SlackBotOptions } from './slack-bot.js';
export { SlackPort, classifySlackError } from './slack-port.js';
export { slackLimits, editIntervalMs } from './limits.js';
export { slackText, escapeSlack, toSlackMarkdown } from './escape.js';

export interface StartSlackBotOptions {
  config: Pick<Config, 'auth'>;
  slack: SlackConfig;
  engine: Pick<RunEngine, 'store' | 'manager'>;
  logger: Logger;
  /** Test knobs (limits, chat-layer timing, HTTP host, Socket Mode reconnect delay). */
  overrides?: Pick<SlackBotOptions, 'limits' | 'chat' | 'httpHost' | 'clientPingTimeoutMs'>;
}

export interface RunningSlackBot {
  name: 'slack';
  bot: SlackBot;
  /** Resolves when the bot stops. */
  done: Promise<void>;
  stop(): Promise<void>;
}

/** Connects to Slack and serves the workspace until stopped. Rejects when the token is refused or the API is unreachable. */
export async function startSlackBot(opts: StartSlackBotOptions): Promise<RunningSlackBot> {
  const bot = await SlackBot.connect({
    slack: opts.slack,
    auth: opts.config.auth,
    store: opts.engine.store,
    runs: opts.engine.manager,
    logger: opts.logger,
    ...opts.overrides,
  });
  await bot.start();
  return { name: 'slack', bot, done: bot.done, stop: () => bot.stop() };
}
