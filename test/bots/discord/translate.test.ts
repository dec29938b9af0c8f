/** Discord data → ChatEvent, from JSON fixtures (pure functions, no client). */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../../src/bots/discord/commands.js';
import { DISCORD_LIMITS } from '../../../src/bots/discord/limits.js';
import { scaleLimits } from '../../../src/bots/hub/pacing.js';
import { channelIdOf, messageIdsOf, permalinkOf } from '../../../src/bots/discord/refs.js';
import {
  commandEvent, flattenOptions, focusedOption, messageEvent, reactionEvent,
  type CommandData, type DiscordUserData, type MessageData, type ReactionData,
} from '../../../src/bots/discord/translate.js';

interface Case<I> { name: string; input: I; expected: Record<string, unknown> | null }
type WithUser<T, K extends string> = Omit<T, K> & Record<K, string>;

const fixtures = JSON.parse(fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'translate.json'), 'utf8')) as {
  botUserId: string;
  users: Record<string, DiscordUserData>;
  commands: Case<WithUser<CommandData, 'user'>>[];
  messages: Case<WithUser<MessageData, 'author'>>[];
  reactions: Case<WithUser<ReactionData, 'user'>>[];
};
const u = (name: string): DiscordUserData => fixtures.users[name]!;

describe('translate: slash commands', () => {
  for (const c of fixtures.commands) {
    it(`turns ${c.name} into a command event`, async () => {
      const said: string[] = [];
      const event = commandEvent({ ...c.input, user: u(c.input.user) }, async (t) => void said.push(t));
      expect(event).toMatchObject(c.expected!);
      expect(event.raw).toMatchObject({ interactionId: c.input.interactionId });
      await event.respond('ok');
      expect(said).toEqual(['ok']);
    });
  }

  it('finds the focused option of an autocomplete, also inside a subcommand', () => {
    expect(focusedOption([{ name: 'card', type: 3, value: 'car', focused: true }])).toEqual({ name: 'card', value: 'car' });
    expect(focusedOption([{ name: 'show', type: 1, options: [{ name: 'id', type: 3, value: '', focused: true }] }])).toEqual({ name: 'id', value: '' });
    expect(focusedOption([{ name: 'card', type: 3, value: 'x' }])).toBeNull();
    expect(flattenOptions([{ name: 'flag', type: 5, value: true }, { name: 'n', type: 4, value: 3 }])).toEqual({ flag: 'true', n: '3' });
  });
});

describe('translate: messages', () => {
  for (const c of fixtures.messages) {
    it(`${c.name}`, () => {
      const event = messageEvent({ ...c.input, author: u(c.input.author) }, fixtures.botUserId);
      if (c.expected === null) expect(event).toBeNull();
      else expect(event).toMatchObject(c.expected);
    });
  }
});

describe('translate: reactions', () => {
  for (const c of fixtures.reactions) {
    it(`${c.name}`, () => {
      const event = reactionEvent({ ...c.input, user: u(c.input.user) }, fixtures.botUserId);
      if (c.expected === null) expect(event).toBeNull();
      else expect(event).toMatchObject(c.expected);
    });
  }

  it('keys a reaction by message, user, emoji and action alone, so one read back after a restart has the key it had live', () => {
    const base = fixtures.reactions[0]!.input;
    const live = reactionEvent({ ...base, user: u('alice') }, fixtures.botUserId);
    const readBack = reactionEvent({ ...base, user: u('alice') }, fixtures.botUserId);
    const removed = reactionEvent({ ...base, user: u('alice'), added: false }, fixtures.botUserId);
    expect(readBack?.dedupeKey).toBe(live?.dedupeKey);
    expect(removed?.dedupeKey).not.toBe(live?.dedupeKey);
  });
});

describe('refs, limits and command definitions', () => {
  it('round-trips refs and builds permalinks', () => {
    expect(channelIdOf('discord:123456789012345678')).toBe('123456789012345678');
    expect(messageIdsOf('discord:1:2')).toEqual({ channelId: '1', messageId: '2' });
    expect(() => channelIdOf('slack:C1')).toThrow(/not a Discord channel ref/);
    expect(() => messageIdsOf('discord:1')).toThrow(/not a Discord message ref/);
    expect(permalinkOf('10', '20', '30')).toBe('https://discord.com/channels/10/20/30');
    expect(permalinkOf('10', '20')).toBe('https://discord.com/channels/10/20');
  });

  it('keeps Discord ratios when scaling the pacing windows', () => {
    const s = scaleLimits(DISCORD_LIMITS, 0.1);
    expect(s.posts).toEqual({ count: 5, windowMs: 525 });
    expect(s.edits).toBe('posts');
    expect(s.statusEditMinIntervalMs).toBe(150);
    expect(s.reactions).toEqual({ count: 1, windowMs: 35 });
    expect(s.postScope).toBe('thread');
    expect(DISCORD_LIMITS.maxMessageChars - DISCORD_LIMITS.messageHeadroom).toBe(1_900);
  });

  it('defines /run with an autocompleted card, /runs, /card add|list|show and /help', () => {
    expect(COMMANDS.map((c) => c.name)).toEqual(['run', 'runs', 'card', 'help']);
    const run = COMMANDS[0]!;
    expect(run.options?.map((o) => [o.name, 'autocomplete' in o ? o.autocomplete : undefined])).toEqual([['card', true], ['prompt', undefined]]);
    expect(COMMANDS[2]!.options?.map((o) => o.name)).toEqual(['add', 'list', 'show']);
  });
});
