/** SQL for inbound dedupe: every command, reply and reaction is recorded once before it is acted on. */
import type { Db } from './database.js';

export class InboundRepo {
  constructor(private readonly db: Db) {}

  /** Records a platform event key; false when it was seen before (a redelivery). */
  record(platformKey: string, now: string): boolean {
    const info = this.db.prepare('INSERT OR IGNORE INTO inbound_events (platform_key, received_at) VALUES (?, ?)').run(platformKey, now);
    return info.changes === 1;
  }

  /** Forgets keys older than `before` (retention). Returns how many were deleted. */
  prune(before: string): number {
    return this.db.prepare('DELETE FROM inbound_events WHERE received_at < ?').run(before).changes;
  }
}
