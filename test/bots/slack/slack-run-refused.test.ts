/**
 * /run in a Slack channel the bot was never invited to: the header is refused (`not_in_channel`),
 * so the run is stopped and the command's own (ephemeral) answer says to invite the bot. Real
 * Bolt app and write client against the fake Slack, real engine.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MockLlm } from '../../support/mock-llm.js';
import { useTempDirs } from '../../support/temp.js';
import { startWorld, type World } from './slack-e2e-support.js';

useTempDirs();

let llm: MockLlm;
let w: World;

beforeAll(async () => {
  llm = await MockLlm.start();
  w = await startWorld(llm);
});

afterAll(async () => {
  await w?.close();
  await llm?.close();
});

it('/run in a channel the bot is not in stops the run and answers privately: invite the bot', async () => {
  const cmd = w.slack.slashCommand({ command: '/run', text: 'card-1', channel: 'random' });
  const answer = await cmd.waitForResponse((r) => String(r.body.text ?? '').includes('⛔'), { timeoutMs: 30_000 });
  const text = String(answer.body.text);
  expect(text).toMatch(/was stopped: its thread could not be opened in this channel/);
  expect(text).toContain('/invite @');
  expect(text).not.toMatch(/channel log/);
  const [run] = w.h.engine.manager.list();
  expect((await w.h.engine.manager.waitForSettled(run!.id)).status).toBe('stopped');
  await w.bot.idle();
  expect(w.slack.botPosts('random')).toEqual([]);
  // The header was refused once and its note once: nothing retried, nothing else attempted there.
  expect(w.slack.calls('chat.postMessage').filter((c) => c.error === 'not_in_channel')).toHaveLength(2);
});
