/** SQL for the kanban cards. */
import type { Card } from '../core/types.js';
import type { Db } from './database.js';

interface CardRow {
  id: string;
  title: string;
  body: string;
  status: string;
  created_at: string;
  updated_at: string;
}

function toCard(r: CardRow): Card {
  return { id: r.id, title: r.title, body: r.body, status: r.status, createdAt: r.created_at, updatedAt: r.updated_at };
}

export class CardsRepo {
  constructor(private readonly db: Db) {}

  get(id: string): Card | undefined {
    const row = this.db.prepare('SELECT * FROM cards WHERE id = ?').get(id) as CardRow | undefined;
    return row && toCard(row);
  }

  list(): Card[] {
    return (this.db.prepare('SELECT * FROM cards ORDER BY created_at, id').all() as CardRow[]).map(toCard);
  }

  /** Cards whose id or title contains `query` (case-insensitive), for autocomplete. */
  search(query: string, limit = 25): Card[] {
    const like = `%${query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const rows = this.db
      .prepare("SELECT * FROM cards WHERE id LIKE ? ESCAPE '\\' OR title LIKE ? ESCAPE '\\' ORDER BY updated_at DESC LIMIT ?")
      .all(like, like, limit) as CardRow[];
    return rows.map(toCard);
  }

  /** Inserts a card; returns false when the id is taken. */
  insert(card: { id: string; title: string; body: string }, now: string): boolean {
    const info = this.db
      .prepare('INSERT OR IGNORE INTO cards (id, title, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?)')
      .run(card.id, card.title, card.body, now, now);
    return info.changes === 1;
  }

  /** Inserts or updates many cards in one transaction; returns how many were new. */
  upsertMany(cards: { id: string; title: string; body: string }[], now: string): { created: number; updated: number } {
    const insert = this.db.prepare('INSERT OR IGNORE INTO cards (id, title, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?)');
    const update = this.db.prepare('UPDATE cards SET title = ?, body = ?, updated_at = ? WHERE id = ?');
    return this.db.transaction(() => {
      let created = 0;
      let updated = 0;
      for (const c of cards) {
        if (insert.run(c.id, c.title, c.body, now, now).changes === 1) created++;
        else if (update.run(c.title, c.body, now, c.id).changes === 1) updated++;
      }
      return { created, updated };
    })();
  }
}
