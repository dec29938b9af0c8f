/**
 * Start-up recovery after a crash (or `kill -9`), before anything else runs: end every process
 * the dead bot left behind (src/core/process-reaper.ts). The engine then marks its runs
 * `interrupted` with their settled events (RunManager.recoverInterrupted), so threads and the
 * team channel say so and a reply refines them. A run or process counts as the dead bot's only
 * when its recorded owner (pid AND start time) no longer runs: runs of a live bot or of a
 * `chatops run` in a terminal are left alone.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/index.js';
import type { ProcessRecord } from '../store/process-records-repo.js';
import { isEarlierOwnerAlive, isSameProcess, ownStartTime } from './process-identity.js';
import { reapOrphans, ticksAt, ticksOf, type ReapOptions, type SweepDir } from './process-reaper.js';
import { processTree } from './process-tree.js';

export interface RecoveryDeps {
  store: Pick<Store, 'runs' | 'processes'>;
  repoRoot: string;
  logger: Logger;
  reap?: Pick<ReapOptions, 'termMs' | 'killMs'>;
}

/** Ends the left-over processes of dead owners and forgets their records; resolves with the pids ended. */
export async function reapLeftovers(deps: RecoveryDeps): Promise<number[]> {
  const { store, logger } = deps;
  const records = store.processes.list();
  const dead = records.filter((r) => !isSameProcess(r.ownerPid, r.ownerStart));
  const orphanRuns = store.runs.orphansRunning(isEarlierOwnerAlive);
  const now = ownStartTime();
  const sweeps: SweepDir[] = [];
  const sweep = (dir: string | null, sinceTicks: number | null) => {
    if (dir && dir !== deps.repoRoot && sinceTicks !== null) sweeps.push({ dir, sinceTicks });
  };
  for (const r of dead) sweep(r.cwd, ticksOf(r.startTime, now));
  for (const id of orphanRuns) {
    const run = store.runs.get(id);
    if (!run?.worktreePath) continue;
    const agents = dead.filter((r) => r.runId === id && r.kind === 'agent');
    // No agent on record (the crash came as it started): what started in its worktree since the run did.
    if (agents.length === 0) sweep(run.worktreePath, ticksAt(Date.parse(run.startedAt ?? run.createdAt) - 1000));
  }
  const ended = dead.length > 0 || sweeps.length > 0 ? await reapOrphans(dead, sweeps, { logger, spare: liveTrees(records, store), ...deps.reap }) : [];
  for (const r of dead) store.processes.delete(r.id);
  if (ended.length > 0) logger.warn({ ended, runs: orphanRuns }, 'ended the processes a previous bot process left running');
  return ended;
}

/** Processes that belong to live owners (another bot, a CLI run, this process): never swept. */
function liveTrees(records: ProcessRecord[], store: Pick<Store, 'runs'>): Set<number> {
  const roots = new Set<number>([process.pid]);
  for (const r of records) {
    if (!isSameProcess(r.ownerPid, r.ownerStart)) continue;
    roots.add(r.ownerPid);
    if (isSameProcess(r.pid, r.startTime)) roots.add(r.pid);
  }
  for (const status of ['running', 'queued'] as const) {
    for (const run of store.runs.listByStatus(status)) {
      const owner = store.runs.ownerOf(run.id);
      if (owner?.pid && isEarlierOwnerAlive(owner.pid, owner.start)) roots.add(owner.pid);
    }
  }
  const out = new Set<number>();
  for (const root of roots) for (const pid of processTree(root)) out.add(pid);
  return out;
}
