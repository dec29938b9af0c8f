/** The store: one SQLite database and the repositories over it. The only place with SQL. */
import { CardsRepo } from './cards-repo.js';
import { ChatThreadsRepo } from './chat-threads-repo.js';
import { openDatabase, type Db } from './database.js';
import { InboundRepo } from './inbound-repo.js';
import { OutboxRepo } from './outbox-repo.js';
import { DataLockRepo, ProcessRecordsRepo } from './process-records-repo.js';
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
  /** Agent and playtest processes while they run (reaped after a crash). */
  processes: ProcessRecordsRepo;
  /** One bot per DATA_DIR. */
  dataLock: DataLockRepo;
  close(): void;
}

export interface StoreOptions {
  /**
   * Applied to every outbox body and to run summaries and errors before they are written (the
   * caller decides what is secret: src/core/redact.ts). Default: text is stored as given.
   */
  redact?: (text: string) => string;
}

export function openStore(file: string, options: StoreOptions = {}): Store {
  const db = openDatabase(file);
  const redact = options.redact ?? ((text: string) => text);
  return {
    db,
    cards: new CardsRepo(db),
    runs: new RunsRepo(db, redact),
    events: new RunEventsRepo(db),
    chatThreads: new ChatThreadsRepo(db),
    outbox: new OutboxRepo(db, redact),
    inbound: new InboundRepo(db),
    retention: new RetentionRepo(db),
    processes: new ProcessRecordsRepo(db),
    dataLock: new DataLockRepo(db),
    close: () => db.close(),
  };
}

export type { Db } from './database.js';
