/** A real SQLite store with runs and events written the way the engine writes them, for relay tests. */
import path from 'node:path';
import type { RunEvent, RunEventData } from '../../../src/core/types.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { makeTempDir } from '../../support/temp.js';

export function tempStoreFile(): string {
  return path.join(makeTempDir('chatops-chat-'), 'chat.sqlite');
}

export function insertRun(store: Store, id: string, opts: { parentRunId?: string | null; startedBy?: string } = {}): void {
  if (!store.cards.get('card-1')) store.cards.insert({ id: 'card-1', title: 'Add a jump button', body: '' }, new Date().toISOString());
  store.runs.insert({
    id,
    cardId: 'card-1',
    useWorktree: true,
    ownsWorktree: !opts.parentRunId,
    branch: 'chatops/card-1-abc',
    worktreePath: '/tmp/wt/card-1',
    baseSha: null,
    sessionFile: null,
    prompt: 'do it',
    tokenHash: `hash-${id}`,
    startedBy: opts.startedBy ?? 'test:ada',
    parentRunId: opts.parentRunId ?? null,
    ownerPid: process.pid,
    now: new Date().toISOString(),
  });
}

/** Binds a run to a thread that already exists on the platform. */
export function bindThread(store: Store, runId: string, threadKey = runId): void {
  store.chatThreads.insertThread({ threadKey, platform: 'test', channel: 'test:chan', thread: `test:thread-${threadKey}`, now: new Date().toISOString() });
  store.chatThreads.bindRun(runId, threadKey, new Date().toISOString());
}

/** A source like RunManager.subscribe, fed by `append`. */
export class EventFeed {
  private listeners = new Set<(e: RunEvent) => void>();
  constructor(private readonly store: Store) {}
  subscribe(listener: (e: RunEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  append(runId: string, ...data: RunEventData[]): RunEvent[] {
    const written = this.store.events.append(
      runId,
      data.map((d) => ({ data: d, createdAt: new Date().toISOString() })),
    );
    for (const e of written) for (const l of this.listeners) l(e);
    return written;
  }
}

export const started: RunEventData = { type: 'run_started', cardId: 'card-1', branch: 'chatops/card-1-abc', worktreePath: '/tmp/wt/card-1', refinementOf: null };

export function settled(over: Partial<Extract<RunEventData, { type: 'run_settled' }>> = {}): RunEventData {
  return {
    type: 'run_settled',
    status: 'succeeded',
    summary: 'Added the jump button.',
    error: null,
    commitSha: 'abcdef1234567890',
    branch: 'chatops/card-1-abc',
    filesChanged: ['src/player.rs', 'src/input.rs'],
    durationMs: 125_000,
    costUsd: 0.0421,
    tokensTotal: 12_345,
    ...over,
  };
}

export { openStore };
