/**
 * Who may use the bot on Slack, end to end (real Bolt app against the fake Slack): with
 * ALLOW_ALL_USERS every member may, but guests and Slack Connect users from other organizations
 * only when listed by id; commands from another workspace are ignored. No agent is started.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockLlm } from '../../support/mock-llm.js';
import { useTempDirs } from '../../support/temp.js';
import { startWorld, type World } from './slack-e2e-support.js';

useTempDirs();

const WAIT = { timeoutMs: 30_000 };
let llm: MockLlm;
let w: World;

beforeAll(async () => {
  llm = await MockLlm.start();
  // Everyone, plus xena (a Slack Connect user) by id; gina is a guest.
  w = await startWorld(llm, { auth: (slack) => ({ allowAll: true, allowedUsers: [`slack:${slack.users.xena}`], allowedRoles: [] }) });
});

afterAll(async () => {
  await w?.close();
  await llm?.close();
});

const answerTo = async (user: string) => {
  const cmd = w.slack.slashCommand({ command: '/runs', text: '', user });
  return String((await cmd.waitForResponse(() => true, WAIT)).body.text);
};

describe('Slack authorization', () => {
  it('ALLOW_ALL_USERS lets members in, but a guest only when listed by id', async () => {
    expect(await answerTo('bob')).toMatch(/No runs yet|Recent runs/);
    const guest = await answerTo('gina');
    expect(guest).toMatch(/Guests and people from other organizations/);
    expect(guest).toContain(`slack:${w.slack.users.gina}`);
  });

  it('a Slack Connect user of another organization is let in only because they are listed by id', async () => {
    expect(await answerTo('xena')).toMatch(/No runs yet|Recent runs/);
  });

  it('ignores a command from another workspace', async () => {
    const foreign = w.slack.slashCommand({ command: '/runs', text: '', user: 'bob', teamId: 'TOTHERTEAM' });
    await foreign.ack;
    // Commands are handled in order of arrival: once a later one is answered, the foreign one was seen.
    await answerTo('bob');
    await w.bot.idle();
    expect(foreign.responses()).toEqual([]);
  });
});
