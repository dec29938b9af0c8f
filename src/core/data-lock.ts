/**
 * One bot per data folder. A bot takes a lock row in its own SQLite database (pid, start time,
 * host, since) in one IMMEDIATE transaction before it recovers anything; a second bot on the same
 * DATA_DIR finds a live holder and stops with what to do. A holder that is gone (its pid no longer
 * runs, or runs with another start time: a reused pid) is taken over. CLI commands share the
 * database without the lock: they are not bots.
 *
 * Why a row and not a lock file (O_EXCL, proper-lockfile): the row is taken atomically with
 * SQLite's own locking, on the same file every process already opens; stale detection uses the
 * exact process identity instead of a file's age (proper-lockfile's mtime heartbeat calls a busy
 * but live bot stale once its event loop stalls past the threshold); and no dependency is added.
 */
import os from 'node:os';
import type { DataLockRepo, LockHolder } from '../store/process-records-repo.js';
import { UserError } from './errors.js';
import { isSameProcess, ownStartTime } from './process-identity.js';

export interface DataLock {
  /** The previous holder whose lock was taken over (it had died), or null. */
  tookOverFrom: LockHolder | null;
  release(): void;
}

/** Takes the DATA_DIR lock for this process, or throws DATA_DIR_IN_USE naming the live holder. */
export function acquireDataLock(repo: DataLockRepo, dataDir: string, now: () => Date = () => new Date()): DataLock {
  const me: LockHolder = { pid: process.pid, startTime: ownStartTime(), host: os.hostname(), since: now().toISOString() };
  // The start time includes the boot id: a holder from before a reboot never counts as alive.
  // (Two machines or containers with separate pid namespaces sharing one DATA_DIR cannot see each
  // other's processes; SQLite does not support such sharing either.)
  const result = repo.acquire(me, (holder) => isSameProcess(holder.pid, holder.startTime));
  if (!result.acquired) {
    const h = result.holder;
    const where = h.host === me.host ? `pid ${h.pid}` : `pid ${h.pid} on ${h.host}`;
    throw new UserError(
      'DATA_DIR_IN_USE',
      `DATA_DIR ${dataDir} is in use by ${where} since ${h.since}: another bot ("chatops start" or "npm start") already serves it. ` +
        `Stop that bot first (e.g. kill ${h.pid}), or give this one its own DATA_DIR. Commands like "chatops cards add" and "chatops runs" work next to it.`,
    );
  }
  return { tookOverFrom: result.tookOverFrom, release: () => repo.release(me) };
}
