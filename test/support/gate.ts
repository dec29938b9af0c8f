/**
 * File gates for tests (no timing windows): a tool command that tells the test it runs, then
 * blocks until a file exists. The test acts while the tool is surely running, then opens the
 * gate; `openAllGates` (after each test) frees whatever a failed test left blocked, including
 * tools orphaned by a killed agent.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach } from 'vitest';
import type { MockLlm } from './mock-llm.js';
import { makeTempDir } from './temp.js';

const closed = new Set<string>();

export interface Gate {
  /** The path whose existence opens the gate. */
  readonly file: string;
  /** The shell command: signal `signal` to the scripted model server, then wait for the file. */
  command(llm: MockLlm, signal: string): string;
  open(): void;
}

export function gate(): Gate {
  const file = path.join(makeTempDir('chatops-gate-'), 'open');
  closed.add(file);
  return {
    file,
    command: (llm, signal) => `${llm.signalCommand(signal)}; while [ ! -f '${file}' ]; do sleep 0.05; done; echo released`,
    open: () => {
      closed.delete(file);
      fs.writeFileSync(file, '');
    },
  };
}

export function openAllGates(): void {
  for (const file of [...closed]) {
    closed.delete(file);
    if (fs.existsSync(path.dirname(file))) fs.writeFileSync(file, '');
  }
}

/** Opens every gate after each test of the file. */
export function useGates(): void {
  afterEach(() => openAllGates());
}
