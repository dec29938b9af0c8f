/**
 * The chat contract's driver for Slack (Socket Mode): the world of slack-e2e-support.ts (fake
 * Slack, real engine, real SlackBot) seen through the platform-neutral PlatformDriver.
 */
import { expect } from 'vitest';
import { messageIdsOf } from '../../../src/bots/slack/refs.js';
import type { Run } from '../../../src/core/types.js';
import { MockLlm } from '../../support/mock-llm.js';
import type { ResponseUrlPost, StoredMessage } from '../../support/fake-slack/index.js';
import { botPosts, runCommand, startWorld, threadPosts, type World } from '../slack/slack-e2e-support.js';
import { contractEnv, type ChatUser, type CommandHandle, type Control, type PlatformDriver, type Post, type PrivateAnswer, type ThreadRef } from './chat-contract.js';

const NAME: Record<Control, string> = { stop: 'octagonal_sign', refine: 'repeat', playtest: 'video_game', capture: 'camera_with_flash', stopPlaytest: 'stop_button' };
const CONTROL_OF = new Map(Object.entries(NAME).map(([control, name]) => [name, control as Control]));
/** Ceiling for waits on the agent's progress; waits end on the signal. */
const LONG = { timeoutMs: 100_000 };

const post = (m: StoredMessage): Post => ({ id: m.ts, text: m.text, edits: m.edits.length });
const privateAnswer = (r: ResponseUrlPost): PrivateAnswer => ({ text: String(r.body.text), private: r.body.response_type === 'ephemeral' });

export interface SlackDriver extends PlatformDriver {
  readonly w: World;
}

export async function makeSlackDriver(): Promise<SlackDriver> {
  const llm = await MockLlm.start();
  const w = await startWorld(llm, { env: contractEnv() });
  const { slack } = w;
  const text = (card: string, prompt?: string) => (prompt ? `${card} ${prompt}` : card);
  const threadOfRun = (run: Run): ThreadRef => ({ id: messageIdsOf(w.h.engine.store.chatThreads.threadOfRun(run.id)!.thread!).ts });

  return {
    name: 'Slack',
    w,
    h: w.h,
    llm,
    ackWithinMs: 3_000,
    ackEmoji: { steer: 'eyes', later: 'incoming_envelope' },

    command(card, prompt, user = 'alice'): CommandHandle {
      const cmd = slack.slashCommand({ command: '/run', text: text(card, prompt), user });
      return {
        ack: cmd.ack,
        answer: async (match = () => true) => privateAnswer(await cmd.waitForResponse((r) => match(String(r.body.text)), LONG)),
      };
    },
    async startRun(card = 'card-1', prompt, user = 'alice') {
      const { cmd, run } = await runCommand(w, text(card, prompt), user);
      const answer = cmd.responses().find((r) => String(r.body.text).includes('Started run'))!;
      return { run, thread: threadOfRun(run), answer: privateAnswer(answer) };
    },
    threadOfRun,
    reply: (thread, body, user) => ({ id: slack.userMessage({ channel: 'general', thread_ts: thread.id, text: body, user }).ts }),
    ownMessage(thread, body) {
      // What Slack sends for the bot's own post: a message event with the bot's user and bot_id.
      const own = slack.seedMessage({ channel: 'general', thread_ts: thread.id, text: body });
      slack.dispatch({ type: 'message', channel: slack.channels.general, user: slack.botUserId, bot_id: slack.botId, text: own.text, ts: own.ts, thread_ts: thread.id, channel_type: 'channel' });
      return { id: own.ts };
    },
    react(thread, on, control, user, added = true) {
      const ts = on === 'header' ? thread.id : threadPosts(slack, thread.id).at(-1)!.ts;
      if (added) slack.addReaction({ channel: 'general', ts, name: NAME[control], user });
      else slack.removeReaction({ channel: 'general', ts, name: NAME[control], user });
    },
    reactionsOn: (_thread, ts) =>
      slack
        .message('general', ts)!
        .reactions.filter((r) => r.users.includes(slack.botUserId))
        .map((r) => r.name),

    header: (thread) => post(slack.message('general', thread.id)!),
    controlReactions: false,
    privateRefusals: true,
    seenBy: (thread, user) => slack.ephemerals.filter((e) => e.user === slack.users[user] && e.threadTs === thread.id).map((e) => e.text),
    headerControls: (thread) => slack.message('general', thread.id)!.reactions.map((r) => CONTROL_OF.get(r.name)!),
    threadPosts: (thread) => threadPosts(slack, thread.id).map(post),
    threadFiles: (thread) => {
      const uploaded = new Map(slack.uploadedFiles().map((f) => [f.id, f.data!]));
      return threadPosts(slack, thread.id).flatMap((m) => (m.files ?? []).map((f) => ({ name: f.name, bytes: uploaded.get(f.id)! })));
    },
    threadCount: () => botPosts(slack).filter((m) => !m.threadTs).length,
    channelMessageCount: () => slack.messages('general').length,
    threadLink: (thread) => `https://fake-workspace.slack.com/archives/${slack.channels.general}/p${thread.id.replace('.', '')}`,
    notifyTexts: () => botPosts(slack, 'notify').map((m) => m.text),
    displayName: (user: ChatUser) => user, // Slack's display name of the fake's users
    userRef: (user: ChatUser) => `slack:${slack.users[user]}`,
    bold: (body) => `*${body}*`,

    waitFor: (predicate, description) => slack.waitFor(predicate, { description, ...LONG }),
    idle: () => w.bot.idle(),
    assertNoMentions(marker) {
      // Slack's way: & < > escaped in everything posted or edited (no <!channel>, <!here>, <@U…>, links), link_names never sent.
      const digest = botPosts(slack).find((m) => m.text.includes(marker))!;
      expect(digest.text).toContain('&lt;');
      expect(digest.text).not.toContain('<!channel>');
      const texts = [...botPosts(slack), ...botPosts(slack, 'notify')].flatMap((m) => [m.text, ...m.edits.map((e) => e.text)]);
      // Not vacuous: at least a header, a status, the digest and a notification (many more after the whole contract).
      expect(texts.length).toBeGreaterThanOrEqual(4);
      for (const t of texts) {
        expect(t).not.toMatch(/[<>]/);
        expect(t).not.toMatch(/&(?!amp;|lt;|gt;)/);
      }
      for (const m of [...botPosts(slack), ...botPosts(slack, 'notify')]) expect(m.linkNames).toBeUndefined();
    },
    rateLimitHits: () => slack.rateLimitHits,
    async close() {
      await w.close();
      await llm.close();
    },
  };
}
