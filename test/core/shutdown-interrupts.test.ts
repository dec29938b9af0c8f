/**
 * A shutdown interrupts only the runs it had to stop: a run that finished on its own while the
 * bot was shutting down keeps its outcome. Fixture agent (test/fixtures/agents/finishes-on-gate.mjs)
 * gated on files, real engine and SQLite.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeHarness, useScriptedModel } from '../support/engine-harness.js';
import { until } from '../support/poll.js';
import { makeTempDir, useTempDirs } from '../support/temp.js';

useTempDirs();
const model = useScriptedModel();

describe('shutdown', () => {
  it('marks only the runs it stopped interrupted; a run that finished during the shutdown keeps its outcome', async () => {
    const gate = path.join(makeTempDir(), 'gate');
    const fixture = path.resolve('test/fixtures/agents/finishes-on-gate.mjs');
    const h = await makeHarness(model.llm, { env: { AGENT_COMMAND: `'${process.execPath}' '${fixture}'`, FIXTURE_GATE: gate } });
    const m = h.engine.manager;
    h.engine.cards.add({ id: 'card-1', title: 'Finish', body: 'finish the work' });
    h.engine.cards.add({ id: 'card-2', title: 'Hang', body: 'HANG-FOREVER until stopped' });
    try {
      const hanging = await m.start({ cardId: 'card-2', startedBy: 't' });
      const finishing = await m.start({ cardId: 'card-1', startedBy: 't' });
      // The finishing run's agent has answered and the bot is settling it (asking for its usage).
      await until(() => fs.existsSync(`${gate}.asked`), 'the finishing run is settling', 30_000);

      const closing = h.engine.stopRuns();
      // The shutdown stopped the hanging run; the finishing one is still settling meanwhile.
      await until(() => m.get(hanging.id)!.status === 'interrupted', 'the stopped run is interrupted', 30_000);
      expect(m.get(finishing.id)!.status).toBe('running');
      fs.writeFileSync(gate, '');
      await closing;

      expect(m.get(finishing.id)!.status).toBe('succeeded');
      expect(m.get(hanging.id)!.status).toBe('interrupted');
      expect(m.get(hanging.id)!.error).toMatch(/shut down/);
    } finally {
      fs.writeFileSync(gate, '');
      await h.engine.close();
    }
  });
});
