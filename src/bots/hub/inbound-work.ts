/**
 * The inbound handlers the receivers are running: taken only between `open()` and `close()`,
 * each caught and logged (an inbound handler never rejects), and awaited by `settled()` so
 * shutdown and tests can wait for them.
 */
import type { Logger } from 'pino';

export class InboundWork {
  private readonly pending = new Set<Promise<void>>();
  private accepting = false;

  constructor(private readonly logger: Logger) {}

  open(): void {
    this.accepting = true;
  }

  /** Runs `fn` in the background; dropped (and logged) once closing. */
  track(kind: string, fn: () => Promise<void>): void {
    if (!this.accepting) {
      this.logger.warn({ kind }, 'an event arrived while the bot is stopping; ignored');
      return;
    }
    const work = fn().catch((err: unknown) => this.logger.error({ err, kind }, 'handling an inbound event failed'));
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  /** Resolves when every handler started so far (and any they started) has finished. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Stops taking events and waits for the ones in hand. */
  async close(): Promise<void> {
    this.accepting = false;
    await this.settled();
  }
}
