/** The store: one SQLite database and the repositories over it. The only place with SQL. */
import { CardsRepo } from './cards-repo.js';
import { ChatThreadsRepo } from './chat-threads-repo.js';
import { openDatabase, type Db } from './database.js';
import { InboundRepo } from './inbound-repo.js';
import { OutboxRepo } from './outbox-repo.js';
import { RetentionRepo } from './retention-repo.js';
import { RunEventsRepo } from './run-events-repo.js';
import { RunsRepo } from './runs-repo.js';

export interface Store {
  db: Db;
  cards: CardsRepo;
  runs: RunsRepo;
  events: RunEventsRepo;
  chatThreads: ChatThreadsRepo;
  outbox: OutboxRepo;
  inbound: InboundRepo;
  retention: RetentionRepo;
  close(): void;
}

export function openStore(file: string): Store {
  const db = openDatabase(file);
  return {
    db,
    cards: new CardsRepo(db),
    runs: new RunsRepo(db),
    events: new RunEventsRepo(db),
    chatThreads: new ChatThreadsRepo(db),
    outbox: new OutboxRepo(db),
    inbound: new InboundRepo(db),
    retention: new RetentionRepo(db),
    close: () => db.close(),
  };
}

export type { Db } from './database.js';
