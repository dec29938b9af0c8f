/**
 * A reply that races the end of a run is never lost (issue 10 §7): when it arrives while the run
 * is settling (the agent has finished, its outcome is being recorded), it cannot be a steer any
 * more; it becomes the feedback of a refinement in the same thread, and the thread says so. The
 * race is held open by a gate: a fixture agent (test/fixtures/agents/slow-to-settle.mjs) answers
 * the bot's settle-time query only once the test opens it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatHub } from '../../../src/bots/hub/hub.js';
import type { ChatUser, CommandEvent, ReplyEvent } from '../../../src/bots/hub/chat-types.js';
import { silentLogger } from '../../../src/logger.js';
import { eventsOf, makeHarness } from '../../support/engine-harness.js';
import { MockLlm } from '../../support/mock-llm.js';
import { makeTempDir, useTempDirs } from '../../support/temp.js';
import { portReceiver, RecordingPort } from './recording-port.js';

useTempDirs();

const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/agents/slow-to-settle.mjs');
const ada: ChatUser = { id: 'test:ada', displayName: 'Ada', roleIds: [], isBot: false };

let llm: MockLlm;
beforeAll(async () => {
  llm = await MockLlm.start();
});
afterAll(async () => {
  await llm.close();
});

describe('a reply racing the end of a run', () => {
  it('arriving while the run settles becomes the feedback of a refinement in the same thread, and the thread says so', async () => {
    const gate = path.join(makeTempDir(), 'settle');
    const h = await makeHarness(llm, {
      env: {
        AGENT_COMMAND: `'${process.execPath}' '${FIXTURE}'`,
        FIXTURE_GATE: gate,
        FIXTURE_SIGNAL_URL: `http://127.0.0.1:${llm.port}/signal/settling`,
      },
    });
    h.engine.cards.add({ id: 'card-1', title: 'Jump', body: '' });
    const port = new RecordingPort();
    const bot = new ChatHub({ store: h.engine.store, manager: h.engine.manager, auth: { allowedUsers: [ada.id], allowedRoles: [], allowAll: false }, logger: silentLogger() });
    await bot.start([portReceiver(port, 'test:team')]);
    try {
      const run: CommandEvent = { kind: 'command', platform: 'test', dedupeKey: 'cmd-1', user: ada, channel: 'test:chan', raw: null, name: 'run', options: {}, text: 'card-1', thread: null, respond: async () => {} };
      await bot.handle(run);
      await llm.waitForSignal('settling');
      const first = h.engine.manager.list()[0]!;
      expect(h.engine.manager.isActive(first.id)).toBe(true);
      await bot.idle();
      const thread = port.calls.find((c) => c.op === 'createThread')!.ref!;

      const reply: ReplyEvent = { kind: 'reply', platform: 'test', dedupeKey: 'reply-1', user: ada, channel: 'test:chan', raw: null, thread, message: 'test:user-msg-1', text: 'make it blue' };
      const handled = bot.handle(reply);
      // The reply is handled up to where it waits for the settle (no I/O on the way), then the gate opens.
      await new Promise((resolve) => setImmediate(resolve));
      fs.writeFileSync(gate, '');
      await handled;

      expect((await h.engine.manager.waitForSettled(first.id)).status).toBe('succeeded');
      const refinement = h.engine.manager.list().find((r) => r.parentRunId === first.id)!;
      expect(refinement.prompt).toContain('make it blue');
      await h.engine.manager.waitForSettled(refinement.id);
      await bot.idle();
      expect(h.engine.store.chatThreads.threadOfRun(refinement.id)!.thread).toBe(thread);
      expect(port.posts(thread).map((p) => p.body)).toContainEqual(expect.stringMatching(/🔁 Refinement \w{8} of run \w{8} started by Ada with your feedback/));
      // Not a steer: never acknowledged as one, never recorded on the first run.
      expect(port.calls.some((c) => c.op === 'react' && c.message === reply.message)).toBe(false);
      expect(eventsOf(h.engine, first, 'user_message')).toEqual([]);
    } finally {
      fs.writeFileSync(gate, '');
      await bot.stop();
      await h.engine.close();
    }
  });
});
