/**
 * Versioned schema migrations. Each entry runs once, in order, inside a transaction; the
 * applied version is kept in `PRAGMA user_version`. Never edit a shipped migration: add one.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'cards, runs and run events',
    sql: `
      CREATE TABLE cards (
        id          TEXT PRIMARY KEY,
        title       TEXT NOT NULL,
        body        TEXT NOT NULL DEFAULT '',
        status      TEXT NOT NULL DEFAULT 'todo',
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
      );

      CREATE TABLE agent_runs (
        id             TEXT PRIMARY KEY,
        card_id        TEXT NOT NULL REFERENCES cards(id),
        status         TEXT NOT NULL CHECK (status IN ('running','succeeded','failed','stopped','interrupted')),
        use_worktree   INTEGER NOT NULL,
        owns_worktree  INTEGER NOT NULL,
        branch         TEXT,
        worktree_path  TEXT,
        session_file   TEXT,
        prompt         TEXT NOT NULL,
        token_hash     TEXT NOT NULL UNIQUE,
        summary        TEXT,
        commit_sha     TEXT,
        error          TEXT,
        started_by     TEXT NOT NULL,
        parent_run_id  TEXT REFERENCES agent_runs(id) ON DELETE SET NULL,
        tokens_input   INTEGER NOT NULL DEFAULT 0,
        tokens_output  INTEGER NOT NULL DEFAULT 0,
        tokens_total   INTEGER NOT NULL DEFAULT 0,
        cost_usd       REAL NOT NULL DEFAULT 0,
        created_at     TEXT NOT NULL,
        started_at     TEXT,
        finished_at    TEXT
      );
      CREATE INDEX agent_runs_card ON agent_runs(card_id, created_at);
      CREATE INDEX agent_runs_status ON agent_runs(status);
      CREATE INDEX agent_runs_worktree ON agent_runs(worktree_path);

      CREATE TABLE agent_run_events (
        run_id      TEXT NOT NULL REFERENCES agent_runs(id) ON DELETE CASCADE,
        seq         INTEGER NOT NULL,
        type        TEXT NOT NULL,
        data        TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
      ) WITHOUT ROWID;
    `,
  },
];
