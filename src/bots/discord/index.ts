/**
 * The Discord adapter's entry points for app wiring and the CLI:
 *
 *   const bot = await startDiscordBot({ config, discord: config.discord, engine, logger });
 *   await bot.done;      // or: await bot.stop();
 *
 *   await registerCommands(config.discord, logger);   // `chatops register-commands`
 */
import type { Logger } from 'pino';
import type { Config, DiscordConfig } from '../../config.js';
import type { RunEngine } from '../../core/engine.js';
import { DiscordBot, type DiscordBotOptions } from './discord-bot.js';

export { registerCommands, COMMANDS } from './commands.js';
export { DiscordBot, createDiscordClient, type DiscordBotOptions } from './discord-bot.js';
export { DiscordPort, classifyDiscordError } from './discord-port.js';
export { DISCORD_LIMITS, scaleLimits } from './limits.js';

export interface StartDiscordBotOptions {
  config: Pick<Config, 'auth'>;
  discord: DiscordConfig;
  engine: Pick<RunEngine, 'store' | 'manager'>;
  logger: Logger;
  /** Test knobs (limits, chat-layer timing). */
  overrides?: Pick<DiscordBotOptions, 'limits' | 'chat' | 'rejectRateLimitOverMs'>;
}

export interface RunningDiscordBot {
  name: 'discord';
  bot: DiscordBot;
  /** Resolves when the bot stops (after `stop()`, or when Discord invalidates the session). */
  done: Promise<void>;
  stop(): Promise<void>;
}

/** Connects to Discord and serves the guild until stopped. Rejects when login fails (bad token, unreachable API). */
export async function startDiscordBot(opts: StartDiscordBotOptions): Promise<RunningDiscordBot> {
  const bot = new DiscordBot({
    discord: opts.discord,
    auth: opts.config.auth,
    store: opts.engine.store,
    runs: opts.engine.manager,
    logger: opts.logger,
    ...opts.overrides,
  });
  await bot.start();
  return { name: 'discord', bot, done: bot.done, stop: () => bot.stop() };
}
