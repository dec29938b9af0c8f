/**
 * `chatops doctor` for Slack: the bot token is accepted (`auth.test`), it carries the scopes the
 * bot uses (Slack's `x-oauth-scopes`), the app-level token opens Socket Mode when that is the
 * transport, and the bot is a member of the notification channel. Read-only Web API calls.
 */
import { webApi } from '@slack/bolt';
import { fail, pass, type CheckResult } from '../../cli/check-result.js';
import type { SlackConfig } from '../../config.js';
import { errorText } from '../../core/errors.js';

/** The bot scopes of slack-app-manifest.yml. */
export const NEEDED_SCOPES = ['chat:write', 'channels:history', 'groups:history', 'reactions:read', 'reactions:write', 'commands', 'users:read', 'files:write'];

const slackError = (err: unknown): string => (err as { data?: { error?: string } }).data?.error ?? errorText(err);

export async function slackDoctorChecks(config: SlackConfig): Promise<CheckResult[]> {
  const options = { ...(config.apiUrl ? { slackApiUrl: config.apiUrl } : {}), retryConfig: { retries: 0 }, attachOriginalToWebAPIRequestError: false };
  const client = new webApi.WebClient(config.botToken, options);
  const out: CheckResult[] = [];
  let scopes: string[] | undefined;
  try {
    const auth = await client.auth.test();
    scopes = auth.response_metadata?.scopes;
    out.push(pass('Slack bot token', `accepted: ${auth.user ?? 'the bot'} in ${auth.team ?? 'the workspace'}`));
  } catch (err) {
    return [fail('Slack bot token', `rejected: ${slackError(err)}`, 'api.slack.com/apps → your app → Install App → copy the Bot User OAuth Token (xoxb-…) into SLACK_BOT_TOKEN')];
  }
  const missing = NEEDED_SCOPES.filter((s) => !(scopes ?? []).includes(s));
  out.push(
    scopes && missing.length === 0
      ? pass('Slack scopes', 'the bot token has every scope the bot uses')
      : fail('Slack scopes', scopes ? `missing: ${missing.join(', ')}` : 'Slack did not report the token\'s scopes', 'add the missing bot scopes (OAuth & Permissions, or recreate the app from slack-app-manifest.yml) and reinstall the app'),
  );
  if (config.appToken) {
    try {
      await new webApi.WebClient(config.appToken, options).apps.connections.open();
      out.push(pass('Slack app token', 'opens a Socket Mode connection'));
    } catch (err) {
      out.push(fail('Slack app token', `rejected: ${slackError(err)}`, 'Basic Information → App-Level Tokens: a token with connections:write, into SLACK_APP_TOKEN'));
    }
  }
  if (config.notifyChannel) {
    try {
      const info = await client.conversations.info({ channel: config.notifyChannel });
      out.push(
        info.channel?.is_member
          ? pass('Slack notification channel', `the bot is a member of ${info.channel.name ?? config.notifyChannel}`)
          : fail('Slack notification channel', `the bot is not in ${info.channel?.name ?? config.notifyChannel}`, `invite it: /invite @<bot> in that channel`),
      );
    } catch (err) {
      out.push(fail('Slack notification channel', `${config.notifyChannel}: ${slackError(err)}`, 'set SLACK_NOTIFY_CHANNEL to a channel id (channel details, at the bottom) and invite the bot there'));
    }
  }
  return out;
}
