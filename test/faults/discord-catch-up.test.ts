/** Catch-up after downtime on Discord: the real discord.js bot restarted against the fake Discord (catch-up-contract.ts). */
import { describeCatchUp } from '../bots/contract/catch-up-contract.js';
import { makeDiscordDriver } from '../bots/contract/discord-driver.js';

describeCatchUp('Discord', async () => {
  const d = await makeDiscordDriver();
  const { w } = d;
  return Object.assign(d, {
    async restart(whileDown: () => void) {
      await w.bot.stop();
      whileDown();
      w.bot = w.newBot();
      await w.bot.start();
      await w.bot.hub.catchUp();
    },
    async catchUpAgain() {
      await w.bot.hub.catchUp();
    },
  });
});
