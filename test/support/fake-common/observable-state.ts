/**
 * Base of a fake's in-memory model: `changed()` signals that something observable happened and
 * `waitFor(predicate)` re-checks on every such signal (no polling), rejecting on timeout with the
 * subclass's `describe()` dump of the current state.
 */
import { EventEmitter } from 'node:events';

export interface WaitOptions {
  timeoutMs?: number;
  description?: string;
}

export abstract class ObservableState extends EventEmitter {
  /** @param fakeName prefix of timeout errors, e.g. `fake-discord`. */
  protected constructor(private readonly fakeName: string) {
    super();
    this.setMaxListeners(0);
  }

  /** Signal that something observable changed; waiters re-check their predicates. */
  changed(): void {
    this.emit('change');
  }

  /**
   * Resolve with the first truthy value of `predicate`, re-evaluated on every state change
   * (no polling). Rejects after `timeoutMs` with a dump of the current state.
   */
  waitFor<T>(predicate: () => T | undefined | null | false, options: WaitOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? 5_000;
    let lastError: unknown;
    const check = (): T | undefined => {
      try {
        const value = predicate();
        return value ? value : undefined;
      } catch (error) {
        lastError = error;
        return undefined;
      }
    };
    const first = check();
    if (first !== undefined) return Promise.resolve(first);
    return new Promise<T>((resolve, reject) => {
      const onChange = (): void => {
        const value = check();
        if (value === undefined) return;
        cleanup();
        resolve(value);
      };
      const timer = setTimeout(() => {
        cleanup();
        const why = lastError instanceof Error ? `\nLast predicate error: ${lastError.message}` : '';
        reject(
          new Error(
            `${this.fakeName} waitFor timed out after ${timeoutMs} ms: ${options.description ?? predicate.toString()}${why}\n${this.describe()}`,
          ),
        );
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('change', onChange);
      };
      this.on('change', onChange);
    });
  }

  /** Human-readable dump used in timeout errors. */
  abstract describe(): string;
}
