/**
 * The Discord adapter's entry points for app wiring and the CLI:
 *
 *   const receiver = new DiscordReceiver({ discord: config.discord, logger });
 *   await hub.start([receiver]);
 *
 *   await registerCommands(config.discord, logger);   // `chatops register-commands`
 */
export { registerCommands, COMMANDS } from './commands.js';
export { DiscordReceiver, createDiscordClient, type DiscordReceiverOptions } from './discord-receiver.js';
export { DiscordPort, classifyDiscordError } from './discord-port.js';
export { DISCORD_LIMITS } from './limits.js';
