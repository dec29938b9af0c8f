/** Pure Slack translation, escaping, limits and error classes on plain JSON payloads (no network). */
import { describe, expect, it } from 'vitest';
import { slackText, toSlackMarkdown } from '../../../src/bots/slack/escape.js';
import { statusEditIntervalMs } from '../../../src/bots/hub/pacing.js';
import { SLACK_LIMITS } from '../../../src/bots/slack/limits.js';
import { permalinkOf } from '../../../src/bots/slack/refs.js';
import { classifySlackError } from '../../../src/bots/slack/slack-port.js';
import { commandEvent, emojiOfReaction, messageEvent, plainText, reactionEvent, reactionName } from '../../../src/bots/slack/translate.js';

const me = { userId: 'UBOT', botId: 'BBOT', teamId: 'T1' };
const reply = (event: Record<string, unknown>) => messageEvent({ event_id: 'Ev1', event: { type: 'message', channel: 'C1', user: 'U1', ts: '2.0', thread_ts: '1.0', text: 'hi', ...event } }, me, 'Ada');

describe('Slack translate', () => {
  it('a human thread reply becomes a reply keyed by channel and ts (the same live, redelivered or read back after a restart), with Slack entities and links decoded', () => {
    expect(reply({ text: 'use &lt;b&gt; &amp; see <https://x.dev|docs> <@U2>' })).toMatchObject({
      kind: 'reply', dedupeKey: 'C1:2.0', thread: 'slack:C1:1.0', message: 'slack:C1:2.0', channel: 'slack:C1',
      user: { id: 'slack:U1', displayName: 'Ada', isBot: false }, text: 'use <b> & see docs (https://x.dev) @U2',
    });
    expect(reply({ subtype: 'file_share' })?.kind).toBe('reply');
  });

  it('drops the bot’s own messages and edits; edits, deletions, other bots, subtypes and top-level messages are unsupported', () => {
    expect(reply({ user: 'UBOT' })).toBeNull();
    expect(reply({ user: undefined, bot_id: 'BBOT', subtype: 'bot_message' })).toBeNull();
    expect(reply({ subtype: 'message_changed', user: undefined, message: { user: 'UBOT', bot_id: 'BBOT' } })).toBeNull();
    expect(reply({ subtype: 'message_changed', user: undefined, message: { user: 'U1' } })).toMatchObject({ kind: 'unsupported' });
    expect(reply({ subtype: 'message_deleted', user: undefined, previous_message: { user: 'U1' } })).toMatchObject({ kind: 'unsupported' });
    expect(reply({ bot_id: 'BOTHER' })).toMatchObject({ kind: 'unsupported', reason: 'message from another bot' });
    expect(reply({ subtype: 'channel_join' })).toMatchObject({ kind: 'unsupported' });
    expect(reply({ thread_ts: undefined })).toMatchObject({ kind: 'unsupported', reason: 'message outside a thread' });
    expect(reply({ thread_ts: '2.0' })).toMatchObject({ kind: 'unsupported' });
  });

  it('reactions map names to the control emoji both ways; the bot’s own reactions are dropped', () => {
    const ev = (type: string, user = 'U1', reaction = 'octagonal_sign') =>
      reactionEvent({ event_id: 'Ev9', event: { type, user, reaction, item: { type: 'message', channel: 'C1', ts: '1.0' } } }, me);
    expect(ev('reaction_added')).toMatchObject({ kind: 'reaction', emoji: '🛑', added: true, message: 'slack:C1:1.0', thread: null, dedupeKey: 'C1:1.0:U1:octagonal_sign:add' });
    expect(ev('reaction_removed', 'U1', 'video_game')).toMatchObject({ emoji: '🎮', added: false });
    expect(ev('reaction_added', 'UBOT')).toBeNull();
    expect(['🛑', '🔁', '🎮', '⏹️'].map(reactionName)).toEqual(['octagonal_sign', 'repeat', 'video_game', 'stop_button']);
    expect(emojiOfReaction('repeat')).toBe('🔁');
    expect(emojiOfReaction('thumbsup::skin-tone-2')).toBe(':thumbsup:');
  });

  it('a slash command keeps its free text and is keyed by trigger_id', () => {
    const e = commandEvent({ command: '/run', text: 'card-1 go', user_id: 'U1', user_name: 'ada', channel_id: 'C1', trigger_id: 'T.1' }, async () => {});
    expect(e).toMatchObject({ kind: 'command', name: 'run', text: 'card-1 go', dedupeKey: 'T.1', channel: 'slack:C1', thread: null, options: {} });
  });

  it('plainText spells out special mentions instead of keeping their markup', () => {
    expect(plainText('<!channel> <!subteam^S1|@devs> hi')).toBe('@channel @subteam hi');
  });
});

describe('Slack escaping', () => {
  it('escapes & < > everywhere so <!channel>, <!here> and <@U…> cannot notify', () => {
    expect(slackText('<!channel> & <@U1> <!here>')).toBe('&lt;!channel&gt; &amp; &lt;@U1&gt; &lt;!here&gt;');
  });

  it('turns **bold** and ~~strike~~ into Slack mrkdwn outside code', () => {
    expect(toSlackMarkdown('**Run** ok ~~old~~ `**x**`\n```\n**y**\n```')).toBe('*Run* ok ~old~ `**x**`\n```\n**y**\n```');
  });
});

describe('Slack limits, permalinks and error classes', () => {
  it('the live status edit interval is max(3 s, 60 s × live runs / 40): runs share the workspace edit tier', () => {
    expect(statusEditIntervalMs(SLACK_LIMITS, 1)).toBe(3_000);
    expect(statusEditIntervalMs(SLACK_LIMITS, 10)).toBe(15_000);
    expect(statusEditIntervalMs(SLACK_LIMITS, 40)).toBe(60_000);
    expect(SLACK_LIMITS).toMatchObject({ postScope: 'channel', posts: { count: 3, windowMs: 3_300 }, edits: { count: 40, windowMs: 60_000 }, controlReactions: false });
    expect(SLACK_LIMITS.maxMessageChars - SLACK_LIMITS.messageHeadroom).toBe(3_500);
  });

  it('permalinks use the archives form, with thread_ts for replies', () => {
    expect(permalinkOf('https://acme.slack.com/', 'C1', '1700.000100')).toBe('https://acme.slack.com/archives/C1/p1700000100');
    expect(permalinkOf('https://acme.slack.com/', 'C1', '1701.000200', '1700.000100')).toBe(
      'https://acme.slack.com/archives/C1/p1701000200?thread_ts=1700.000100&cid=C1',
    );
  });

  it('classifies SDK errors: rate limited → Retry-After, network and 5xx → transient, others → permanent with a hint', () => {
    expect(classifySlackError({ code: 'slack_webapi_rate_limited_error', retryAfter: 3 })).toEqual({ kind: 'rate_limited', retryAfterMs: 3_000 });
    expect(classifySlackError({ code: 'slack_webapi_request_error', original: new Error('socket hang up') })).toEqual({ kind: 'transient' });
    expect(classifySlackError({ code: 'slack_webapi_http_error', statusCode: 503 })).toEqual({ kind: 'transient' });
    expect(classifySlackError({ code: 'slack_webapi_platform_error', data: { error: 'internal_error' } })).toEqual({ kind: 'transient' });
    expect(classifySlackError({ code: 'slack_webapi_platform_error', data: { error: 'not_in_channel' } })).toMatchObject({ kind: 'permanent', reason: expect.stringContaining('/invite') });
    expect(classifySlackError(new Error('boom'))).toMatchObject({ kind: 'permanent' });
  });
});
