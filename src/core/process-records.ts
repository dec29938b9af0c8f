/**
 * Records every agent and playtest process in the database while it runs (pid, process group,
 * start time, working directory, and which bot process started it), so that after a crash the
 * next start can find and end what is left of them (src/core/run-recovery.ts), and so that any
 * process sharing the database can tell that a run still has a live process (src/core/run-removal.ts).
 */
import type { Logger } from 'pino';
import type { ProcessKind, ProcessRecordsRepo } from '../store/process-records-repo.js';
import type { AgentDriver, AgentStartOptions, AgentSession } from './agent/agent-driver.js';
import { errorText } from './errors.js';
import { ownStartTime, procStat, startTimeOf } from './process-identity.js';

export class ProcessRecorder {
  private readonly ids = new Map<string, number>();

  constructor(
    private readonly repo: ProcessRecordsRepo,
    private readonly logger: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Records a process that has just started; a failure is logged (the run goes on). */
  record(runId: string, kind: ProcessKind, pid: number | undefined, cwd: string): void {
    if (!pid) return;
    try {
      const start = startTimeOf(pid);
      if (start === null) return; // already gone
      const id = this.repo.insert({
        runId,
        kind,
        pid,
        pgid: procStat(pid)?.pgid ?? pid,
        startTime: start,
        cwd,
        ownerPid: process.pid,
        ownerStart: ownStartTime(),
        createdAt: this.now().toISOString(),
      });
      this.ids.set(key(runId, kind, pid), id);
    } catch (err) {
      this.logger.warn({ runId, kind, pid, err: errorText(err) }, 'could not record a run process; a crash now would leave it running');
    }
  }

  /** Forgets a process once it has ended. */
  forget(runId: string, kind: ProcessKind, pid: number | undefined): void {
    if (!pid) return;
    const id = this.ids.get(key(runId, kind, pid));
    if (id === undefined) return;
    this.ids.delete(key(runId, kind, pid));
    try {
      this.repo.delete(id);
    } catch (err) {
      this.logger.warn({ runId, kind, pid, err: errorText(err) }, 'could not forget an ended run process (the next start skips it: its pid is gone)');
    }
  }
}

function key(runId: string, kind: ProcessKind, pid: number): string {
  return `${kind}:${runId}:${pid}`;
}

/** The agent driver with every agent process recorded from its start until it has exited. */
export function recordingAgent(inner: AgentDriver, recorder: ProcessRecorder): AgentDriver {
  return {
    async start(options: AgentStartOptions): Promise<AgentSession> {
      const session = await inner.start(options);
      recorder.record(options.runId, 'agent', session.pid, options.cwd);
      void session.done.finally(() => recorder.forget(options.runId, 'agent', session.pid));
      return session;
    },
  };
}
