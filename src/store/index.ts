/** The store: one SQLite database and the repositories over it. The only place with SQL. */
import { CardsRepo } from './cards-repo.js';
import { CatchUpRepo } from './catch-up-repo.js';
import { ChatThreadsRepo } from './chat-threads-repo.js';
import { openDatabase, type Db } from './database.js';
import { InboundRepo } from './inbound-repo.js';
import { OutboxRepo } from './outbox-repo.js';
import { OutboxUploadsRepo } from './outbox-uploads-repo.js';
import { DataLockRepo, ProcessRecordsRepo } from './process-records-repo.js';
import { RetentionRepo } from './retention-repo.js';
import { RunEventsRepo } from './run-events-repo.js';
import { RunSettleRepo } from './run-settle-repo.js';
import { RunsRepo } from './runs-repo.js';

export interface Store {
  db: Db;
  cards: CardsRepo;
  runs: RunsRepo;
  events: RunEventsRepo;
  /** A run's final row and its `run_settled` event, in one transaction. */
  settle: RunSettleRepo;
  chatThreads: ChatThreadsRepo;
  outbox: OutboxRepo;
  /** The files of upload rows (playtest screenshots and clips). */
  uploads: OutboxUploadsRepo;
  inbound: InboundRepo;
  catchUp: CatchUpRepo;
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
  const runs = new RunsRepo(db, redact);
  const events = new RunEventsRepo(db);
  return {
    db,
    cards: new CardsRepo(db),
    runs,
    events,
    settle: new RunSettleRepo(db, runs, events),
    chatThreads: new ChatThreadsRepo(db),
    outbox: new OutboxRepo(db, redact),
    uploads: new OutboxUploadsRepo(db),
    inbound: new InboundRepo(db),
    catchUp: new CatchUpRepo(db),
    retention: new RetentionRepo(db),
    processes: new ProcessRecordsRepo(db),
    dataLock: new DataLockRepo(db),
    close: () => db.close(),
  };
}

export type { Db } from './database.js';
