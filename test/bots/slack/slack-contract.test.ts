/** The shared chat contract, run by the Slack adapter (real Bolt app in Socket Mode against the fake Slack). */
import { describeChatContract } from '../contract/chat-contract.js';
import { makeSlackDriver } from '../contract/slack-driver.js';

describeChatContract('Slack', makeSlackDriver);
