import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runConsoleMode } from '../../../src/bots/console/console-mode.js';
import { silentLogger } from '../../../src/logger.js';
import { makeHarness } from '../../support/engine-harness.js';
import { MockLlm, transcript } from '../../support/mock-llm.js';
import { makeTempDir, useTempDirs } from '../../support/temp.js';

useTempDirs();

let llm: MockLlm;
beforeAll(async () => {
  llm = await MockLlm.start();
});
afterAll(async () => {
  await llm.close();
});

/** Collects what the console prints; `waitFor` resolves once the output matches. */
class Screen {
  text = '';
  private waiters: { re: RegExp; from: number; resolve: (m: RegExpMatchArray) => void }[] = [];
  constructor(stream: PassThrough) {
    stream.on('data', (chunk: Buffer) => {
      this.text += chunk.toString('utf8');
      this.waiters = this.waiters.filter((w) => {
        const m = this.text.slice(w.from).match(w.re);
        if (m) w.resolve(m);
        return !m;
      });
    });
  }
  /** Waits for `re` in output printed after the current point (or from `from`). */
  waitFor(re: RegExp, from = this.text.length): Promise<RegExpMatchArray> {
    const m = this.text.slice(from).match(re);
    if (m) return Promise.resolve(m);
    return new Promise((resolve) => this.waiters.push({ re, from, resolve }));
  }
}

describe('console mode', () => {
  it('runs a card, steers it, shows the result, refines it with a plain line, and quits', async () => {
    const h = await makeHarness(llm);
    h.engine.cards.add({ id: 'card-1', title: 'Add a jump button', body: 'Space makes the player jump.' });
    const input = new PassThrough();
    const output = new PassThrough();
    const screen = new Screen(output);
    const done = runConsoleMode({
      store: h.engine.store,
      manager: h.engine.manager,
      auth: { allowedUsers: [], allowedRoles: [], allowAll: false },
      logger: silentLogger(),
      input,
      output,
      isTTY: false,
      userName: 'ada',
    });
    const type = (line: string) => input.write(`${line}\n`);

    type('/card add card-2 Make it rain');
    await screen.waitFor(/» 🗂️ Added card-2/);

    const go = path.join(makeTempDir(), 'go');
    llm.respond((req) =>
      req.messages.at(-1)?.role === 'tool'
        ? { text: 'Jump added.' }
        : { toolCalls: [{ name: 'bash', arguments: { command: `${llm.signalCommand('busy')}; while [ ! -f '${go}' ]; do sleep 0.05; done; echo ok` } }] },
    );
    let mark = screen.text.length;
    type('/run card-1 keep it simple');
    const [, label] = (await screen.waitFor(/── thread (card-1 \w{8}) opened/, mark)) as RegExpMatchArray;
    await screen.waitFor(/» ▶️ Started run \w{8} on card-1/, mark);
    await llm.waitForSignal('busy');

    type('use a spring, not a teleport');
    await screen.waitFor(/👀 sent to the agent/);
    mark = screen.text.length;
    fs.writeFileSync(go, '');
    await screen.waitFor(new RegExp(`\\[${label}\\] ✅ \\*\\*Run \\w{8} succeeded\\*\\*`), mark);
    expect(llm.requests.some((r) => transcript(r).join('\n').includes('use a spring, not a teleport'))).toBe(true);
    expect(screen.text).toContain(`[${label}] 🔧 bash:`);
    expect(screen.text).toContain('Jump added.');

    llm.respond(null);
    mark = screen.text.length;
    type('now make it higher');
    await screen.waitFor(/🔁 Refinement \w{8} of run \w{8} started by ada/, mark);
    await screen.waitFor(new RegExp(`\\[${label}\\] ✅ \\*\\*Run \\w{8} succeeded\\*\\*`), mark);
    const refinement = h.engine.manager.list().find((r) => r.parentRunId !== null)!;
    expect(refinement.prompt).toContain('now make it higher');

    type(':quit');
    await done;
    // Nothing was printed twice.
    expect(screen.text.match(/── thread .* opened/g)).toHaveLength(1);
    await h.engine.close();
  });

  it('explains what to do when there is no run yet', async () => {
    const h = await makeHarness(llm);
    const input = new PassThrough();
    const output = new PassThrough();
    const screen = new Screen(output);
    const done = runConsoleMode({ store: h.engine.store, manager: h.engine.manager, auth: { allowedUsers: [], allowedRoles: [], allowAll: false }, logger: silentLogger(), input, output, isTTY: false });
    input.write('hello?\n:stop\n/run card-9\n');
    await screen.waitFor(/» unknown card "card-9"/);
    expect(screen.text).toContain('No run yet: start one with /run card-123');
    input.end();
    await done;
    await h.engine.close();
  });
});
