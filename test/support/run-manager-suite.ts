/**
 * The shared set-up of the RunManager test files: one scripted model server per file, engines
 * closed after each test, a harness with `card-1` in it.
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { RunEngine } from '../../src/core/engine.js';
import { makeHarness, type Harness } from './engine-harness.js';
import { MockLlm, type Responder } from './mock-llm.js';
import { useGates } from './gate.js';
import { useTempDirs } from './temp.js';

export interface RunManagerSuite {
  /** The file's scripted model server (set once `beforeAll` ran). */
  readonly llm: MockLlm;
  harness(options?: Parameters<typeof makeHarness>[1]): Promise<Harness>;
}

export function useRunManagerSuite(): RunManagerSuite {
  useTempDirs();
  useGates();
  let llm: MockLlm | null = null;
  const open: RunEngine[] = [];
  beforeAll(async () => {
    llm = await MockLlm.start();
  });
  afterAll(async () => {
    await llm?.close();
  });
  afterEach(async () => {
    for (const e of open.splice(0)) await e.close();
    llm?.reset();
  });
  return {
    get llm() {
      if (!llm) throw new Error('the model server starts in beforeAll');
      return llm;
    },
    async harness(options = {}) {
      const h = await makeHarness(this.llm, options);
      open.push(h.engine);
      if (!h.engine.cards.get('card-1')) h.engine.cards.add({ id: 'card-1', title: 'Add a jump button', body: 'Space makes the player jump.' });
      return h;
    },
  };
}

/** First request: run `command` with bash; then answer the tool result with a fixed text. */
export function toolThenText(command: string, text = 'All done.'): Responder {
  return (req) => (req.messages.at(-1)?.role === 'tool' ? { text } : { toolCalls: [{ name: 'bash', arguments: { command } }] });
}
