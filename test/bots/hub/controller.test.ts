import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChatHub } from '../../../src/bots/hub/hub.js';
import { Redactor } from '../../../src/core/redact.js';
import type { ChatUser, CommandEvent, ReactionEvent, ReplyEvent } from '../../../src/bots/hub/chat-types.js';
import type { AuthConfig } from '../../../src/config.js';
import { silentLogger } from '../../../src/logger.js';
import { makeHarness, type Harness } from '../../support/engine-harness.js';
import { MockLlm, transcript, type Responder } from '../../support/mock-llm.js';
import { makeTempDir, useTempDirs } from '../../support/temp.js';
import { portReceiver, RecordingPort } from './recording-port.js';

useTempDirs();

let llm: MockLlm;
const cleanups: (() => Promise<void>)[] = [];
beforeAll(async () => {
  llm = await MockLlm.start();
});
afterAll(async () => {
  await llm.close();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  llm.reset();
});

const ada: ChatUser = { id: 'test:ada', displayName: 'Ada', roleIds: [], isBot: false };
const eve: ChatUser = { id: 'test:eve', displayName: 'Eve', roleIds: [], isBot: false };
const ALLOW_ADA: AuthConfig = { allowedUsers: ['test:ada'], allowedRoles: [], allowAll: false };

let n = 0;
const key = () => `evt-${++n}`;

function command(text: string, user = ada, dedupeKey = key()): CommandEvent & { answers: string[] } {
  const answers: string[] = [];
  const [name, ...rest] = text.replace(/^\//, '').split(' ');
  return {
    kind: 'command', platform: 'test', dedupeKey, user, channel: 'test:chan', raw: null, name: name!, options: {}, text: rest.join(' '), thread: null,
    answers,
    respond: async (t) => void answers.push(t),
  };
}

function reply(thread: string, text: string, user = ada): ReplyEvent {
  return { kind: 'reply', platform: 'test', dedupeKey: key(), user, channel: 'test:chan', raw: null, thread, message: `test:user-msg-${n}`, text };
}

function reaction(message: string, emoji: string, added = true, user = ada, thread: string | null = null): ReactionEvent {
  return { kind: 'reaction', platform: 'test', dedupeKey: key(), user, channel: 'test:chan', raw: null, message, thread, emoji, added };
}

async function setup(auth: AuthConfig = ALLOW_ADA, env: Record<string, string> = {}): Promise<{ h: Harness; bot: ChatHub; port: RecordingPort }> {
  const h = await makeHarness(llm, { env });
  h.engine.cards.add({ id: 'card-1', title: 'Add a jump button', body: 'Space makes the player jump.' });
  const port = new RecordingPort();
  const bot = new ChatHub({ store: h.engine.store, manager: h.engine.manager, auth, logger: silentLogger() });
  await bot.start([portReceiver(port, 'test:team')]);
  cleanups.push(async () => {
    await bot.stop();
    await h.engine.close();
  });
  return { h, bot, port };
}

/** A bash tool that waits until the test creates `file` (the agent stays busy until then). */
function waitForFile(file: string, signal: string): Responder {
  return (req) =>
    req.messages.at(-1)?.role === 'tool'
      ? { text: 'finished' }
      : { toolCalls: [{ name: 'bash', arguments: { command: `${llm.signalCommand(signal)}; while [ ! -f '${file}' ]; do sleep 0.05; done; echo released` } }] };
}

describe('controller: authorization', () => {
  it('refuses everyone when no auth is configured, and says how to fix it', async () => {
    const { h, bot } = await setup({ allowedUsers: [], allowedRoles: [], allowAll: false });
    const c = command('/run card-1');
    await bot.handle(c);
    expect(c.answers[0]).toContain('ALLOWED_USERS=test:ada');
    expect(h.engine.manager.list()).toHaveLength(0);
  });

  it('refuses a user who is not allowed; allows by role and by ALLOW_ALL_USERS', async () => {
    const { h, bot } = await setup({ allowedUsers: ['test:ada'], allowedRoles: ['role-dev'], allowAll: false });
    const denied = command('/card add card-2 Something', eve);
    await bot.handle(denied);
    expect(denied.answers[0]).toMatch(/not allowed.*test:eve/);
    expect(h.engine.cards.get('card-2')).toBeUndefined();
    const byRole = command('/card add card-2 Something', { ...eve, roleIds: ['role-dev'] });
    await bot.handle(byRole);
    expect(byRole.answers[0]).toContain('Added card-2');
  });

  it('ignores events from bots, and a redelivered event does nothing the second time', async () => {
    const { h, bot } = await setup({ allowedUsers: [], allowedRoles: [], allowAll: true });
    const fromBot = command('/card add card-3 Bot card', { ...ada, isBot: true });
    await bot.handle(fromBot);
    expect(fromBot.answers).toEqual([]);
    const first = command('/card add card-3 Once', ada, 'same-key');
    const again = command('/card add card-3 Once', ada, 'same-key');
    await bot.handle(first);
    await bot.handle(again);
    expect(first.answers[0]).toContain('Added card-3');
    expect(again.answers).toEqual([]);
    expect(h.engine.cards.list().filter((c) => c.id === 'card-3')).toHaveLength(1);
  });
});

describe('controller: commands', () => {
  it('answers an unknown card privately with how to add cards, and starts nothing', async () => {
    const { h, bot, port } = await setup();
    const c = command('/run card-404');
    await bot.handle(c);
    expect(c.answers[0]).toMatch(/unknown card "card-404"/);
    expect(c.answers[0]).toContain('/card add card-123');
    expect(c.answers[0]).toContain('card-1');
    expect(h.engine.manager.list()).toHaveLength(0);
    expect(port.calls).toEqual([]);
  });

  it('lists cards, shows one, prints help, and autocompletes card ids', async () => {
    const { bot } = await setup();
    const list = command('/card list');
    const show = command('/card show card-1');
    const help = command('/help');
    await Promise.all([bot.handle(list), bot.handle(show), bot.handle(help)]);
    expect(list.answers[0]).toContain('`card-1` — Add a jump button');
    expect(show.answers[0]).toContain('Space makes the player jump.');
    expect(help.answers[0]).toContain('later:');
    expect(bot.autocompleteCards('jump', ada)).toEqual([{ value: 'card-1', label: 'card-1 — Add a jump button' }]);
    // Cards are the team's: someone who may not use the bot sees none, and cannot list or show them.
    expect(bot.autocompleteCards('jump', eve)).toEqual([]);
    const eveList = command('/card list', eve);
    const eveRuns = command('/runs', eve);
    await Promise.all([bot.handle(eveList), bot.handle(eveRuns)]);
    expect(eveList.answers[0]).toMatch(/not allowed/);
    expect(eveRuns.answers[0]).toMatch(/not allowed/);
    expect(eveList.answers.join('\n')).not.toContain('card-1');
  });

  it('/run opens a thread from a header with the controls, shows the run there, and reports in the team channel', async () => {
    const { h, bot, port } = await setup();
    const c = command('/run card-1 make it snappy');
    await bot.handle(c);
    const run = h.engine.manager.list()[0]!;
    await h.engine.manager.waitForSettled(run.id);
    await bot.idle();

    const header = port.calls[0]!;
    expect(header).toMatchObject({ op: 'post', channel: 'test:chan', thread: null });
    expect(header.body).toContain('card-1');
    expect(header.body).toContain(run.branch!);
    expect(header.body).toContain(run.worktreePath!);
    const thread = port.calls.find((c) => c.op === 'createThread')!;
    expect(thread.message).toBe(header.ref);
    const reactions = port.calls.filter((c) => c.op === 'react' && c.message === header.ref).map((c) => c.body);
    expect(reactions).toEqual(['🛑', '🔁', '🎮', '📸', '⏹️']);
    expect(c.answers).toEqual([expect.stringContaining(`https://chat.test/test:chan/${thread.ref}`)]);

    const inThread = port.posts(thread.ref).map((p) => p.body);
    expect(inThread.some((b) => b.includes('**Run') && b.includes('succeeded'))).toBe(true);
    expect(port.posts().filter((p) => p.channel === 'test:team')).toHaveLength(2);
    expect(transcript(llm.requests[0]!).join('\n')).toContain('make it snappy');
    const runs = command('/runs');
    await bot.handle(runs);
    expect(runs.answers[0]).toContain(run.id.slice(0, 8));
  });
});

describe('controller: secrets', () => {
  it('redacts known secrets from what it answers people directly, not only from what the outbox sends', async () => {
    const h = await makeHarness(llm);
    const secret = 'sk-live-0123456789abcdef';
    const bot = new ChatHub({ store: h.engine.store, manager: h.engine.manager, auth: ALLOW_ADA, logger: silentLogger(), redact: new Redactor([secret]).redact });
    await bot.start([portReceiver(new RecordingPort(), 'test:team')]);
    cleanups.push(async () => {
      await bot.stop();
      await h.engine.close();
    });
    const add = command(`/card add card-9 Rotate ${secret} today`);
    await bot.handle(add);
    expect(add.answers[0]).toContain('Rotate [redacted] today');
    expect(add.answers.join('\n')).not.toContain(secret);
  });
});

describe('controller: the run queue', () => {
  it('a /run beyond MAX_CONCURRENT_RUNS is answered at once as queued; its thread says where it stands and moves up', async () => {
    const { h, bot, port } = await setup(ALLOW_ADA, { MAX_CONCURRENT_RUNS: '1' });
    const go = path.join(makeTempDir(), 'go');
    llm.respond(waitForFile(go, 'first-busy'));
    const first = command('/run card-1');
    await bot.handle(first);
    await llm.waitForSignal('first-busy');
    const second = command('/run card-1 second');
    await bot.handle(second);
    expect(second.answers[0]).toMatch(/^🕒 Queued run \w{8} \(position 1; it starts when a slot is free\) on card-1/);
    const queued = h.engine.manager.list().find((r) => r.status === 'queued')!;
    await bot.idle();
    const thread = h.engine.store.chatThreads.threadOfRun(queued.id)!.thread!;
    expect(port.posts(thread)[0]!.body).toMatch(/🕒 \*\*queued\*\*[\s\S]*queued, position 1 \(at most 1 run at once\)/);
    const runs = command('/runs');
    await bot.handle(runs);
    expect(runs.answers[0]).toContain(`queued (position 1)`);

    fs.writeFileSync(go, '');
    expect((await h.engine.manager.waitForSettled(queued.id)).status).toBe('succeeded');
    await bot.idle();
    const status = port.calls.filter((c) => c.op === 'edit' && c.message === port.posts(thread)[0]!.ref).at(-1)!;
    expect(status.body).toMatch(/succeeded/);
  });
});

describe('controller: replies and reactions in a run thread', () => {
  it('steers an active run with a reply, acknowledges it, stops with 🛑 once, and refines with a later reply', async () => {
    const { h, bot, port } = await setup();
    const go = path.join(makeTempDir(), 'go');
    llm.respond(waitForFile(go, 'busy'));
    await bot.handle(command('/run card-1'));
    await llm.waitForSignal('busy');
    await bot.idle();
    const thread = port.calls.find((c) => c.op === 'createThread')!.ref!;
    const header = port.calls[0]!.ref!;
    const run = h.engine.manager.list()[0]!;

    // Someone not allowed: refused visibly, nothing reaches the agent.
    await bot.handle(reply(thread, 'do something else', eve));
    await bot.idle();
    expect(port.posts(thread).at(-1)!.body).toContain('⛔ Eve');

    const steer = reply(thread, 'also add a double jump');
    await bot.handle(steer);
    fs.writeFileSync(go, '');
    await h.engine.manager.waitForSettled(run.id);
    await bot.idle();
    const afterTool = llm.requests.find((r) => r.messages.at(-1)?.role !== 'tool' && transcript(r).join('\n').includes('also add a double jump'));
    expect(afterTool).toBeDefined();
    expect(port.calls.some((c) => c.op === 'react' && c.message === steer.message && c.body === '👀')).toBe(true);

    // 🛑 on the header of a settled run: idempotent, says so.
    await bot.handle(reaction(header, '🛑'));
    await bot.idle();
    expect(port.posts(thread).at(-1)!.body).toMatch(/is not running \(succeeded\); nothing to stop/);

    // A reply after the end: a refinement in the same thread.
    llm.respond(null);
    await bot.handle(reply(thread, 'make the jump higher'));
    const refinement = h.engine.manager.list().find((r) => r.parentRunId === run.id)!;
    expect(refinement).toBeDefined();
    await h.engine.manager.waitForSettled(refinement.id);
    await bot.idle();
    expect(h.engine.store.chatThreads.threadOfRun(refinement.id)!.thread).toBe(thread);
    const bodies = port.posts(thread).map((p) => p.body);
    expect(bodies.some((b) => b.includes(`🔁 Refinement ${refinement.id.slice(0, 8)}`))).toBe(true);
    expect(bodies.some((b) => b.includes(`**Run ${refinement.id.slice(0, 8)} succeeded**`))).toBe(true);
    expect(transcript(llm.requests.at(-1)!).join('\n')).toContain('make the jump higher');
  });

  it('stops an active run with 🛑 on any of its messages and answers in the thread', async () => {
    const { h, bot, port } = await setup();
    const go = path.join(makeTempDir(), 'never');
    llm.respond(waitForFile(go, 'stuck'));
    await bot.handle(command('/run card-1'));
    await llm.waitForSignal('stuck');
    await bot.idle();
    const thread = port.calls.find((c) => c.op === 'createThread')!.ref!;
    const status = port.posts(thread)[0]!.ref!;
    const run = h.engine.manager.list()[0]!;
    await bot.handle(reaction(status, '🛑️', true, ada, thread));
    await bot.idle();
    expect(h.engine.manager.get(run.id)!.status).toBe('stopped');
    const bodies = port.posts(thread).map((p) => p.body);
    expect(bodies).toContain(`🛑 Run ${run.id.slice(0, 8)} stopped by Ada.`);
    expect(bodies.some((b) => b.includes('**Run') && b.includes('stopped**'))).toBe(true);
  });
});
