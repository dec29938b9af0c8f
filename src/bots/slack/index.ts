/**
 * The Slack adapter's entry point for app wiring:
 *
 *   const receiver = await SlackReceiver.connect({ slack: config.slack, logger });
 *   await hub.start([receiver]);
 *
 * Socket Mode with `SLACK_APP_TOKEN`; HTTP mode when `SLACK_SIGNING_SECRET` and `PORT` are set.
 * The app's scopes, events and commands are in slack-app-manifest.yml at the repository root.
 */
export { SlackReceiver, SLASH_COMMANDS, createWriteClient, type SlackReceiverOptions } from './slack-receiver.js';
export { SlackPort, classifySlackError } from './slack-port.js';
export { SLACK_LIMITS } from './limits.js';
export { slackText, escapeSlack, toSlackMarkdown } from './escape.js';
