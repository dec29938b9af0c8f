/**
 * Catch-up after downtime (issue 10 §5), written once against the platform-neutral driver and run
 * by each adapter (discord-catch-up.test.ts, slack-catch-up.test.ts): the real bot against its
 * fake platform, the real engine with the real pi agent and the scripted model. The chat side
 * stops while runs go on; what people do in the threads meanwhile never arrives as an event; the
 * bot starts again and reads it back.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '../../../src/core/types.js';
import { transcript } from '../../support/mock-llm.js';
import { makeTempDir, useTempDirs } from '../../support/temp.js';
import type { PlatformDriver, ThreadRef } from './chat-contract.js';

export interface CatchUpDriver extends PlatformDriver {
  /**
   * Stops the bot's chat side (runs go on), runs `whileDown` (events then reach no bot, and the
   * platform does not redeliver them), starts a new bot and resolves when its catch-up finished.
   */
  restart(whileDown: () => void): Promise<void>;
  /** Runs the running bot's catch-up again; resolves when it finished. */
  catchUpAgain(): Promise<void>;
}

export function describeCatchUp(name: string, makeDriver: () => Promise<CatchUpDriver>): void {
  useTempDirs();
  let d: CatchUpDriver;
  let gate = '';
  const texts = (thread: ThreadRef) => d.threadPosts(thread).map((p) => p.text);
  const count = (thread: ThreadRef, re: RegExp) => texts(thread).filter((t) => re.test(t)).length;
  const note = (thread: ThreadRef, re: RegExp) => d.waitFor(() => texts(thread).find((t) => re.test(t)), `note ${re} in ${d.name}`);
  const steers = (run: Run) =>
    d.h.engine.store.events
      .list(run.id)
      .flatMap((e) => (e.data.type === 'user_message' && e.data.kind === 'steer' ? [e.data.text] : []));

  describe(`catch-up after downtime: ${name}`, { timeout: 180_000 }, () => {
    beforeAll(async () => {
      d = await makeDriver();
    }, 120_000);

    afterAll(async () => {
      if (gate) fs.writeFileSync(gate, '');
      await d?.close();
    });

    it('handles once, in order, what was said while the bot was down: a missed steer reaches the running agent, a missed 🛑 stops its run, a missed reply to a settled run asks to confirm with 🔁 (and 🔁 on the question refines with it); what was seen live is not handled again', async () => {
      const { llm } = d;
      const manager = d.h.engine.manager;
      gate = `${makeTempDir()}/go`;
      // "task alpha" and "task beta" block in a tool until the gate opens; anything else answers at once.
      llm.respond((req) => {
        if (req.messages.some((m) => m.role === 'tool')) return { text: 'finished' };
        const busy = /task (alpha|beta)/.exec(transcript(req).join('\n'));
        if (!busy) return { text: 'done' };
        return { toolCalls: [{ name: 'bash', arguments: { command: `${llm.signalCommand(busy[1]!)}; while [ ! -f '${gate}' ]; do sleep 0.05; done; echo released` } }] };
      });
      // Three runs at once (each real pi start costs seconds): C settles at once, A and B block.
      const commands = ['gamma', 'alpha', 'beta'].map((task) => d.command('card-1', `task ${task}`, 'alice'));
      await Promise.all(commands.map((cmd) => cmd.answer((t) => t.includes('Started run'))));
      const started = (task: string) => {
        const run = manager.list(100).find((r) => r.prompt.includes(`task ${task}`))!;
        return { run, thread: d.threadOfRun(run) };
      };
      const [c, a, b] = [started('gamma'), started('alpha'), started('beta')];
      await Promise.all([manager.waitForSettled(c.run.id), llm.waitForSignal('alpha'), llm.waitForSignal('beta')]);

      // Seen live before the stop: a steer of A, and a 🛑 on settled C's header.
      const live = d.reply(a.thread, 'first steer', 'alice');
      await d.waitFor(() => d.reactionsOn(a.thread, live.id).includes(d.ackEmoji.steer), 'the live steer acknowledged');
      d.react(c.thread, 'header', 'stop', 'alice');
      await note(c.thread, /nothing to stop/);
      await d.idle();

      let missed = { id: '' };
      await d.restart(() => {
        missed = d.reply(a.thread, 'use the blue button', 'alice');
        d.react(b.thread, 'header', 'stop', 'alice');
        d.reply(c.thread, 'also add a test', 'alice');
      });

      expect((await manager.waitForSettled(b.run.id)).status).toBe('stopped');
      await d.idle();
      expect(count(b.thread, /stopped by/)).toBe(1);
      expect(steers(a.run)).toEqual(['first steer', 'use the blue button']);
      expect(d.reactionsOn(a.thread, missed.id)).toContain(d.ackEmoji.steer);
      expect(count(c.thread, /While the bot was down, .* replied: “also add a test”/)).toBe(1);
      // Where the bot offers controls as reactions (Discord), the question carries its 🔁 to click.
      const question = d.threadPosts(c.thread).at(-1)!;
      expect(question.text).toMatch(/While the bot was down/);
      if (d.controlReactions) expect(d.reactionsOn(c.thread, question.id)).toEqual(['🔁']);
      expect(manager.list(100).filter((r) => r.parentRunId === c.run.id)).toEqual([]);

      // Read back a second time: nothing is handled twice.
      await d.catchUpAgain();
      await d.idle();
      expect(steers(a.run)).toEqual(['first steer', 'use the blue button']);
      expect(count(b.thread, /stopped by/)).toBe(1);
      expect(count(c.thread, /nothing to stop/)).toBe(1);
      expect(count(c.thread, /While the bot was down/)).toBe(1);
      // Even read from each thread's start again, nothing counts twice: the keys are the live ones.
      d.h.engine.store.db.prepare('UPDATE thread_reads SET last_message = NULL').run();
      await d.catchUpAgain();
      await d.idle();
      expect(steers(a.run)).toEqual(['first steer', 'use the blue button']);
      expect(count(c.thread, /While the bot was down/)).toBe(1);

      // 🔁 on the question, itself made while the bot was down again: read back too, it starts the
      // refinement with the missed reply as its feedback.
      await d.restart(() => d.react(c.thread, 'last', 'refine', 'alice'));
      await note(c.thread, /Refinement \S+ of run \S+ started by .* with your feedback/);
      const refinement = manager.list(100).find((r) => r.parentRunId === c.run.id)!;
      expect(refinement.prompt).toContain('also add a test');

      fs.writeFileSync(gate, '');
      await Promise.all([manager.waitForSettled(refinement.id), manager.waitForSettled(a.run.id)]);
      expect(llm.requests.some((r) => transcript(r).join('\n').includes('use the blue button'))).toBe(true);
      await d.idle();
    });
  });
}
