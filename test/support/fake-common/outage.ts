/**
 * Platform outages a test schedules on a fake, on the fake's clock (so a test with a scaled or
 * manual clock can have "ten minutes" of trouble without waiting ten minutes):
 * - `error`: every matching request is answered with an HTTP error (default 503) and not performed;
 * - `hang`: the request is read and never answered (the client's own timeout gives up on it);
 * - `lost`: the request is performed, then the connection is destroyed before the answer (a
 *   response lost on the way: the client cannot know the message exists).
 * A window runs from `from` (default: now) until `until`, or for `times` requests.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from './clock.js';

export type OutageKind = 'error' | 'hang' | 'lost';

export interface OutageSpec {
  kind: OutageKind;
  /** Which requests (`POST /channels/1/messages`, `chat.postMessage`); default all. */
  match?: RegExp;
  /** HTTP status of `error` answers (default 503). */
  status?: number;
  /** Fake-clock ms; default now. */
  from?: number;
  /** Fake-clock ms; default: never ends by time (use `times` or `end()`). */
  until?: number;
  /** Ends after this many matching requests. */
  times?: number;
}

interface Window extends OutageSpec {
  left: number;
  ended: boolean;
}

export type OutageVerdict = { kind: 'pass' } | { kind: 'error'; status: number } | { kind: 'hang' } | { kind: 'lost' };

export class Outages {
  private readonly windows: Window[] = [];
  private readonly hung = new Set<ServerResponse>();
  /** Requests each kind of outage took, for assertions. */
  readonly hits: Record<OutageKind, number> = { error: 0, hang: 0, lost: 0 };

  constructor(private readonly clock: Clock) {}

  /** Schedules an outage; the returned function ends it at once. */
  add(spec: OutageSpec): () => void {
    const w: Window = { ...spec, from: spec.from ?? this.clock.now(), left: spec.times ?? Number.POSITIVE_INFINITY, ended: false };
    this.windows.push(w);
    return () => {
      w.ended = true;
      this.releaseHung();
    };
  }

  /** What to do with a request named `what` (e.g. `POST /channels/1/messages`) arriving now. */
  verdict(what: string): OutageVerdict {
    const now = this.clock.now();
    const w = this.windows.find((x) => !x.ended && x.left > 0 && now >= x.from! && (x.until === undefined || now < x.until) && (!x.match || x.match.test(what)));
    if (!w) {
      this.releaseHung();
      return { kind: 'pass' };
    }
    w.left -= 1;
    this.hits[w.kind] += 1;
    return w.kind === 'error' ? { kind: 'error', status: w.status ?? 503 } : { kind: w.kind };
  }

  /** Holds a request unanswered; it is destroyed when the outage is over or the server closes. */
  hang(req: IncomingMessage, res: ServerResponse): void {
    this.hung.add(res);
    res.on('close', () => this.hung.delete(res));
    req.socket.setTimeout(0);
  }

  /** Ends the connections of hung requests (nothing was performed for them). */
  releaseHung(): void {
    for (const res of this.hung) res.destroy();
    this.hung.clear();
  }
}
