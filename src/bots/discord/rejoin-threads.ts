/**
 * After a restart: join again the threads of runs that are still going (or were cut off by the
 * restart and may be refined), so their replies and reactions keep arriving. The chat store
 * knows which thread shows which run; archived threads are reopened first (joining an archived
 * thread fails with 50083).
 */
import type { Client } from 'discord.js';
import type { Logger } from 'pino';
import type { Run } from '../../core/types.js';
import type { Store } from '../../store/index.js';
import { channelIdOf, PLATFORM } from './refs.js';

/** How many recent runs to look at for threads to rejoin. */
const RECENT_RUNS = 50;

export function threadsToRejoin(store: Store, recentRuns: Run[]): string[] {
  const refs = new Set<string>();
  const add = (ref: string | null | undefined) => {
    if (ref?.startsWith(`${PLATFORM}:`)) refs.add(ref);
  };
  for (const binding of store.chatThreads.listUnfinished()) {
    const t = store.chatThreads.getThread(binding.threadKey);
    if (t?.platform === PLATFORM) add(t.thread);
  }
  for (const run of recentRuns.slice(0, RECENT_RUNS)) {
    if (run.status !== 'running' && run.status !== 'interrupted') continue;
    const t = store.chatThreads.threadOfRun(run.id);
    if (t?.platform === PLATFORM) add(t.thread);
  }
  return [...refs].map(channelIdOf);
}

/** Joins each thread (one at a time: discord.js paces them); returns the ids joined. */
export async function rejoinThreads(client: Client, threadIds: string[], logger: Logger): Promise<string[]> {
  const joined: string[] = [];
  for (const id of threadIds) {
    try {
      const channel = await client.channels.fetch(id);
      if (!channel?.isThread()) continue;
      if (channel.archived && !channel.locked) await channel.setArchived(false, 'a run in this thread is still active');
      if (!channel.joined) await channel.join();
      joined.push(id);
    } catch (err) {
      logger.warn({ err, threadId: id }, 'could not rejoin a run thread');
    }
  }
  if (threadIds.length > 0) logger.info({ joined: joined.length, of: threadIds.length }, 'rejoined run threads');
  return joined;
}
