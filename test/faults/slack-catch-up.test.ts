/** Catch-up after downtime on Slack: the real Bolt bot restarted against the fake Slack (catch-up-contract.ts). */
import { describeCatchUp } from '../bots/contract/catch-up-contract.js';
import { makeSlackDriver } from '../bots/contract/slack-driver.js';

describeCatchUp('Slack', async () => {
  const d = await makeSlackDriver();
  const { w } = d;
  return Object.assign(d, {
    async restart(whileDown: () => void) {
      await w.bot.stop();
      whileDown();
      // Down longer than Slack keeps redelivering: the events never arrive.
      w.slack.giveUpRedelivery();
      w.bot = await w.newBot();
      await w.bot.hub.catchUp();
    },
    async catchUpAgain() {
      await w.bot.hub.catchUp();
    },
  });
});
