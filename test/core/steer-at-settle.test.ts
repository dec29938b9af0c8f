/**
 * Steers are never lost at settle (issue 10 §7), with the real pi and the scripted model. The
 * race is made deterministic by a gate, not a timing window: the model's answer to the last
 * call is held until the test's steer was accepted by pi (queued), then that answer is a 400,
 * after which pi 0.73 ends its loop without looking at its queue again (docs/pi-rpc.md §8.1).
 * A follow-up queued when a run is stopped: run-manager.test.ts (the stop test).
 */
import { describe, expect, it } from 'vitest';
import type { RunEngine } from '../../src/core/engine.js';
import { FLUSH_PROMPT } from '../../src/core/agent/pi-queue.js';
import { eventsOf, makeHarness, useScriptedModel } from '../support/engine-harness.js';
import { messageText, transcript } from '../support/mock-llm.js';
import { useTempDirs } from '../support/temp.js';

useTempDirs();

const model = useScriptedModel();

async function engine(): Promise<RunEngine> {
  const e = model.track((await makeHarness(model.llm)).engine);
  e.cards.add({ id: 'card-1', title: 'Jump', body: '' });
  return e;
}

/** A promise the model's first answer waits on (opened by the test). */
function heldAnswer(): { open: () => void; wait: Promise<void> } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { open, wait };
}

describe('a steer losing the race with settle', () => {
  it('is delivered with a prompt, a follow-up after it, and the thread says the delivery was late', async () => {
    const e = await engine();
    const held = heldAnswer();
    model.llm.respond(async (req, index) => {
      if (index === 0) {
        await held.wait;
        return { status: 400, message: 'mock refusal of the last call' };
      }
      return { text: `answer to: ${messageText(req.messages.at(-1))}` };
    });
    const run = await e.manager.start({ cardId: 'card-1', prompt: 'say hi', startedBy: 'test' });
    await model.llm.waitForRequests(1);
    // Both accepted (queued) by pi while its last model call is outstanding.
    await e.manager.steer(run.id, 'use the blue sprite', 'discord:42');
    await e.manager.followUp(run.id, 'then update the changelog', 'discord:42');
    held.open();
    const done = await e.manager.waitForSettled(run.id);

    expect(done.status).toBe('succeeded');
    // The flush prompt's loop took the steer before its first model call, the follow-up when it would stop.
    expect(transcript(model.llm.requests[1]!).slice(-2)).toEqual([`user: ${FLUSH_PROMPT}`, 'user: use the blue sprite']);
    expect(transcript(model.llm.requests[2]!).slice(-1)).toEqual(['user: then update the changelog']);
    expect(done.summary).toBe('answer to: then update the changelog');
    const warnings = eventsOf(e, run, 'warning').map((w) => w.message);
    expect(warnings).toEqual([expect.stringMatching(/^Delivered late: “use the blue sprite”, “then update the changelog” reached the agent as it was finishing/)]);
    // Who sent them is recorded once, when they were sent; the bot's prompt is not shown as a person's.
    expect(eventsOf(e, run, 'user_message').map((m) => [m.kind, m.by])).toEqual([
      ['steer', 'discord:42'],
      ['follow_up', 'discord:42'],
    ]);
  });
});
