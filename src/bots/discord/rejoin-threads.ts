/**
 * After a restart: join again the threads of runs that are still going (or were cut off by the
 * restart and may be refined), so their replies and reactions keep arriving. The hub knows which
 * threads those are (`EventSink.threadsInUse`); archived threads are reopened first (joining an
 * archived thread fails with 50083).
 */
import type { Client } from 'discord.js';
import type { Logger } from 'pino';

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
