/**
 * The chat contract's driver for Discord: the world of discord-e2e-support.ts (fake Discord,
 * real engine, real Discord receiver and hub) seen through the platform-neutral PlatformDriver.
 */
import { expect } from 'vitest';
import { channelIdOf } from '../../../src/bots/discord/refs.js';
import type { Run } from '../../../src/core/types.js';
import { MockLlm } from '../../support/mock-llm.js';
import type { StoredMessage } from '../../support/fake-discord/index.js';
import { AGENT_WAIT, botMessages, runCommand, startWorld, type World } from '../discord/discord-e2e-support.js';
import { contractEnv, type ChatUser, type CommandHandle, type Control, type PlatformDriver, type Post, type PrivateAnswer, type ThreadRef } from './chat-contract.js';

const EMOJI: Record<Control, string> = { stop: '🛑', refine: '🔁', playtest: '🎮', capture: '📸', stopPlaytest: '⏹️' };
const CONTROL_OF = new Map(Object.entries(EMOJI).map(([control, emoji]) => [emoji, control as Control]));

const post = (m: StoredMessage): Post => ({ id: m.id, text: m.content, edits: m.edits.length });
const privateAnswer = (m: StoredMessage): PrivateAnswer => ({ text: m.content, private: (m.flags & 64) === 64 });

export interface DiscordDriver extends PlatformDriver {
  readonly w: World;
}

export async function makeDiscordDriver(): Promise<DiscordDriver> {
  const llm = await MockLlm.start();
  const w = await startWorld(llm, { env: contractEnv() });
  const { fake } = w;
  const botId = fake.botUser.id;
  const options = (card: string, prompt?: string): Record<string, string> => (prompt ? { card, prompt } : { card });
  const threadOfRun = (run: Run): ThreadRef => ({ id: channelIdOf(w.h.engine.store.chatThreads.threadOfRun(run.id)!.thread!) });

  return {
    name: 'Discord',
    w,
    h: w.h,
    llm,
    ackWithinMs: 3_000,
    ackEmoji: { steer: '👀', later: '📨' },

    command(card, prompt, user = 'alice'): CommandHandle {
      const cmd = fake.sendCommand({ name: 'run', options: options(card, prompt), user });
      return {
        ack: cmd.ack,
        answer: async (match = () => true) => privateAnswer(await cmd.waitForOriginal((m) => m.content.length > 0 && match(m.content), AGENT_WAIT)),
      };
    },
    async startRun(card = 'card-1', prompt, user = 'alice') {
      const { run, answer } = await runCommand(w, options(card, prompt), user);
      return { run, thread: threadOfRun(run), answer: privateAnswer(answer) };
    },
    threadOfRun,
    reply: (thread, text, user) => ({ id: fake.userMessage({ channelId: thread.id, content: text, user }).id }),
    ownMessage: (thread, text) => ({ id: fake.userMessage({ channelId: thread.id, content: text, user: fake.botUser }).id }),
    react(thread, on, control, user, added = true) {
      // A thread started from a message has the message's id: the header's id is the thread's.
      const messageId = on === 'header' ? thread.id : botMessages(fake, thread.id).at(-1)!.id;
      if (added) fake.addReaction({ messageId, emoji: EMOJI[control], user });
      else fake.removeReaction({ messageId, emoji: EMOJI[control], user });
    },
    reactionsOn: (thread, messageId) =>
      fake
        .reactions(thread.id, messageId)
        .filter((r) => r.userIds.includes(botId))
        .map((r) => r.emoji.name),

    header: (thread) => post(fake.message(thread.id)!),
    controlReactions: true,
    privateRefusals: false,
    seenBy: (thread) => botMessages(fake, thread.id).map((m) => m.content),
    headerControls: (thread) => fake.reactions(fake.channels.general, thread.id).map((r) => CONTROL_OF.get(r.emoji.name)!),
    threadPosts: (thread) => botMessages(fake, thread.id).map(post),
    threadFiles: (thread) => botMessages(fake, thread.id).flatMap((m) => m.attachments.map((a) => ({ name: a.filename, bytes: a.data }))),
    threadCount: () => fake.threads().length,
    channelMessageCount: () => fake.messages(fake.channels.general).length,
    threadLink: (thread) => `https://discord.com/channels/${fake.guildId}/${thread.id}`,
    notifyTexts: () => botMessages(fake, fake.channels.notify).map((m) => m.content),
    displayName: (user: ChatUser) => fake.user(user).globalName!,
    userRef: (user: ChatUser) => `discord:${fake.user(user).id}`,
    bold: (text) => `**${text}**`,

    waitFor: (predicate, description) => fake.waitFor(predicate, { description, ...AGENT_WAIT }),
    idle: () => w.bot.idle(),
    assertNoMentions(marker) {
      // Discord's way: allowed_mentions {parse: []} on every create and edit; @everyone also defused in the text.
      const digest = [fake.channels.general, ...fake.threads().map((t) => t.id)].flatMap((id) => botMessages(fake, id)).find((m) => m.content.includes(marker))!;
      expect(digest.content).not.toMatch(/(^|[^\u200b])@everyone/);
      expect(digest.content).not.toMatch(/(^|[^\u200b])@here/);
      const created = [fake.channels.general, fake.channels.notify, ...fake.threads().map((t) => t.id)]
        .flatMap((id) => botMessages(fake, id))
        .filter((m) => m.source === 'rest');
      // Not vacuous: at least a header, a status, the digest and a notification (many more after the whole contract).
      expect(created.length).toBeGreaterThanOrEqual(4);
      for (const m of created) {
        expect(m.allowedMentions, `create ${m.id}: ${m.content.slice(0, 40)}`).toEqual({ parse: [] });
        for (const e of m.edits) expect(e.allowedMentions, `edit of ${m.id}`).toEqual({ parse: [] });
      }
      expect(created.some((m) => m.edits.length > 0)).toBe(true);
    },
    rateLimitHits: () => fake.rateLimitHits,
    async close() {
      await w.close();
      await llm.close();
    },
  };
}
