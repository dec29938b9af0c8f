/** The shared chat contract, run by the Discord adapter (real discord.js bot against the fake Discord). */
import { describeChatContract } from '../contract/chat-contract.js';
import { makeDiscordDriver } from '../contract/discord-driver.js';

describeChatContract('Discord', makeDiscordDriver);
