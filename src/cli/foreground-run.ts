/**
 * A run in the terminal: prints the run id first, then its events as they come, and turns
 * Ctrl-C (SIGINT/SIGTERM) into a clean stop through the agent's stop sequence. The agent runs
 * in its own process group, so the terminal's signal reaches only us, not the agent.
 */
import type { RunManager } from '../core/run-manager.js';
import type { Run, RunEvent } from '../core/types.js';
import type { CliIo } from './main.js';
import { formatEvent } from './format-event.js';

export async function runInForeground(manager: RunManager, io: CliIo, begin: (m: RunManager) => Promise<Run>): Promise<Run> {
  let runId: string | null = null;
  const early: RunEvent[] = [];
  const unsubscribe = manager.subscribe((event) => {
    if (runId === null) early.push(event);
    else if (event.runId === runId) io.stdout.write(`${formatEvent(event)}\n`);
  });
  let stopping = false;
  const onSignal = () => {
    if (!runId) {
      // Still starting: stop as soon as the run exists.
      stopping = true;
      io.stderr.write('\nwill stop the run as soon as it has started...\n');
      return;
    }
    if (stopping) {
      io.stderr.write('still stopping the agent (abort, then SIGTERM, then SIGKILL)...\n');
      return;
    }
    stopping = true;
    io.stderr.write(`\nstopping run ${runId.slice(0, 8)}...\n`);
    void manager.stop(runId, 'cli');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const run = await begin(manager);
    runId = run.id;
    io.stdout.write(`run ${run.id}\n`);
    for (const event of early) if (event.runId === run.id) io.stdout.write(`${formatEvent(event)}\n`);
    early.length = 0;
    if (stopping) void manager.stop(run.id, 'cli');
    const settled = await manager.waitForSettled(run.id);
    manager.events(run.id); // flushes anything still batched before we stop listening
    return settled;
  } finally {
    unsubscribe();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
