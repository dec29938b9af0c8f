/** The store: one SQLite database and the repositories over it. The only place with SQL. */
import { CardsRepo } from './cards-repo.js';
import { openDatabase, type Db } from './database.js';
import { RunEventsRepo } from './run-events-repo.js';
import { RunsRepo } from './runs-repo.js';

export interface Store {
  db: Db;
  cards: CardsRepo;
  runs: RunsRepo;
  events: RunEventsRepo;
  close(): void;
}

export function openStore(file: string): Store {
  const db = openDatabase(file);
  return {
    db,
    cards: new CardsRepo(db),
    runs: new RunsRepo(db),
    events: new RunEventsRepo(db),
    close: () => db.close(),
  };
}

export type { Db } from './database.js';
