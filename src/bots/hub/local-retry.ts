/**
 * Local writes that must not fail a delivery: after the platform took a request, what it answered
 * is written down however long the database stays busy or full (a local error, not the platform's).
 * The waits between tries are on the chat layer's clock and end at once on `stop()`.
 */
import type { Logger } from 'pino';
import type { Clock } from './clock.js';

/** How soon a failed local write is tried again (default). */
export const LOCAL_RETRY_MS = 1000;

export class LocalRetry {
  private readonly pauses = new Set<() => void>();
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly retryMs = LOCAL_RETRY_MS,
  ) {}

  /**
   * Runs `write` until it succeeds. False when stopped first: the caller leaves its row as it is
   * (`inflight`), and the next start reconciles it (resent with `mayExist`, never twice).
   */
  async run(what: Record<string, unknown>, write: () => void): Promise<boolean> {
    for (let tries = 1; ; tries++) {
      try {
        write();
        return true;
      } catch (err) {
        if (this.stopped) {
          this.logger.error({ err, ...what }, 'could not record a delivery before stopping; it is reconciled at the next start');
          return false;
        }
        this.logger.error({ err, ...what, tries }, 'could not record a delivery (local error); retrying');
        await this.pause();
      }
    }
  }

  stop(): void {
    this.stopped = true;
    for (const release of [...this.pauses]) release();
  }

  private pause(): Promise<void> {
    return new Promise((resolve) => {
      const release = () => {
        this.clock.clearTimeout(handle);
        this.pauses.delete(release);
        resolve();
      };
      const handle = this.clock.setTimeout(release, this.retryMs);
      this.pauses.add(release);
    });
  }
}
