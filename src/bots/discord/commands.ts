/**
 * The slash commands, as Discord's JSON, registered as GUILD commands (they appear at once,
 * unlike global ones) by one bulk overwrite: at start-up, and from `chatops register-commands`.
 *
 *   /run card:<id, autocomplete> [prompt:<text>]
 *   /runs
 *   /card add id:<id> title:<text> [body:<text>] | /card list | /card show id:<id, autocomplete>
 *   /help
 *
 * Option names are the ones the controller's command parser reads (`card`, `prompt`, `sub`,
 * `id`, `title`, `body`).
 */
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  InteractionContextType,
  REST,
  Routes,
  type APIApplication,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { Logger } from 'pino';
import type { DiscordConfig } from '../../config.js';

const guildOnly = { contexts: [InteractionContextType.Guild], type: ApplicationCommandType.ChatInput as const };

export const COMMANDS: RESTPostAPIChatInputApplicationCommandsJSONBody[] = [
  {
    ...guildOnly,
    name: 'run',
    description: 'Start the coding agent on a card, in a new thread',
    options: [
      { type: ApplicationCommandOptionType.String, name: 'card', description: 'The card id, e.g. card-123', required: true, autocomplete: true, max_length: 100 },
      { type: ApplicationCommandOptionType.String, name: 'prompt', description: 'Extra instructions for the agent', required: false, max_length: 1_500 },
    ],
  },
  { ...guildOnly, name: 'runs', description: 'Recent runs and their threads' },
  {
    ...guildOnly,
    name: 'card',
    description: 'Add, list or show cards',
    options: [
      {
        type: ApplicationCommandOptionType.Subcommand,
        name: 'add',
        description: 'Add a card',
        options: [
          { type: ApplicationCommandOptionType.String, name: 'id', description: 'The new card id, e.g. card-123', required: true, max_length: 100 },
          { type: ApplicationCommandOptionType.String, name: 'title', description: 'A short title', required: true, max_length: 200 },
          { type: ApplicationCommandOptionType.String, name: 'body', description: 'What the agent should do', required: false, max_length: 4_000 },
        ],
      },
      { type: ApplicationCommandOptionType.Subcommand, name: 'list', description: 'List the cards' },
      {
        type: ApplicationCommandOptionType.Subcommand,
        name: 'show',
        description: 'Show a card and its recent runs',
        options: [{ type: ApplicationCommandOptionType.String, name: 'id', description: 'The card id', required: true, autocomplete: true, max_length: 100 }],
      },
    ],
  },
  { ...guildOnly, name: 'help', description: 'How to use the bot' },
];

/** The REST calls registration needs (a discord.js `REST`, or a client's `rest`). */
export type CommandRest = Pick<REST, 'put' | 'get'>;

/** Replaces the guild's commands with ours (bulk overwrite: stale ones disappear). Returns their names. */
export async function putGuildCommands(rest: CommandRest, applicationId: string, guildId: string): Promise<string[]> {
  const registered = (await rest.put(Routes.applicationGuildCommands(applicationId, guildId), { body: COMMANDS })) as { name: string }[];
  return registered.map((c) => c.name);
}

/**
 * For `chatops register-commands`: registers the commands in `config.guildId` without
 * connecting to the gateway, and returns what was registered.
 */
export async function registerCommands(config: DiscordConfig, logger: Logger): Promise<{ guildId: string; applicationId: string; names: string[] }> {
  const rest = new REST(config.apiBase ? { api: config.apiBase } : {}).setToken(config.token);
  const app = (await rest.get(Routes.currentApplication())) as APIApplication;
  const names = await putGuildCommands(rest, app.id, config.guildId);
  logger.info({ guildId: config.guildId, applicationId: app.id, commands: names }, 'registered Discord guild commands');
  return { guildId: config.guildId, applicationId: app.id, names };
}
