/**
 * Versioned schema migrations. Each entry runs once, in order, inside a transaction; the
 * applied version is kept in `PRAGMA user_version`. Never edit a shipped migration: add one.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
  /**
   * Rebuilds a table other tables reference (SQLite cannot change a CHECK in place): foreign keys
   * are switched off around the migration, so dropping the old table cascades nothing, and
   * checked (`foreign_key_check`) before it commits.
   */
  rebuildsTables?: boolean;
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
        base_sha       TEXT,
        session_file   TEXT,
        prompt         TEXT NOT NULL,
        token_hash     TEXT NOT NULL UNIQUE,
        summary        TEXT,
        commit_sha     TEXT,
        error          TEXT,
        started_by     TEXT NOT NULL,
        owner_pid      INTEGER,
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
  {
    version: 2,
    name: 'chat threads, outbox and inbound dedupe',
    sql: `
      -- A chat thread that shows a run and its refinements. thread is NULL until delivery created it.
      CREATE TABLE run_threads (
        thread_key        TEXT PRIMARY KEY,
        platform          TEXT NOT NULL,
        channel           TEXT NOT NULL,
        thread            TEXT,
        header_outbox_id  INTEGER,
        created_at        TEXT NOT NULL
      );
      CREATE UNIQUE INDEX run_threads_thread ON run_threads(thread) WHERE thread IS NOT NULL;

      -- Which run shows in which thread, its live status message, and the render cursor.
      CREATE TABLE run_thread_runs (
        run_id            TEXT PRIMARY KEY REFERENCES agent_runs(id) ON DELETE CASCADE,
        thread_key        TEXT NOT NULL REFERENCES run_threads(thread_key) ON DELETE CASCADE,
        status_outbox_id  INTEGER,
        rendered_seq      INTEGER NOT NULL DEFAULT 0,
        created_at        TEXT NOT NULL
      );
      CREATE INDEX run_thread_runs_thread ON run_thread_runs(thread_key, created_at);

      -- Everything the bot says, in order per thread (the lane), until the platform took it.
      CREATE TABLE outbox (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        thread_key    TEXT NOT NULL,
        run_id        TEXT,
        op            TEXT NOT NULL CHECK (op IN ('create','edit','react','thread')),
        channel       TEXT NOT NULL,
        in_thread     INTEGER NOT NULL,
        target_id     INTEGER REFERENCES outbox(id),
        target_ref    TEXT,
        body          TEXT NOT NULL,
        link_thread   INTEGER NOT NULL DEFAULT 0,
        dedupe_key    TEXT UNIQUE,
        status        TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','inflight','sent','dead','superseded')),
        attempts      INTEGER NOT NULL DEFAULT 0,
        not_before    INTEGER NOT NULL DEFAULT 0,
        platform_msg  TEXT,
        error         TEXT,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
      );
      CREATE INDEX outbox_lane ON outbox(thread_key, status, id);
      CREATE INDEX outbox_status ON outbox(status, not_before);
      CREATE INDEX outbox_platform_msg ON outbox(platform_msg) WHERE platform_msg IS NOT NULL;
      CREATE INDEX outbox_target ON outbox(target_id) WHERE target_id IS NOT NULL;

      -- Inbound dedupe: a platform event id seen once is never acted on again.
      CREATE TABLE inbound_events (
        platform_key  TEXT PRIMARY KEY,
        received_at   TEXT NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    name: 'outbox streams, priorities and gates',
    sql: `
      -- A stream is sent one row at a time in id order: a thread's content, the edits of one
      -- message, the reactions on one message, a notification channel. Streams go side by side.
      ALTER TABLE outbox ADD COLUMN stream TEXT;
      UPDATE outbox SET stream = thread_key;
      -- Who goes first where streams share a budget (0 first); see src/bots/hub/pacing.ts.
      ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 5;
      -- The row waits until this one is no longer pending (e.g. control reactions after the first content).
      ALTER TABLE outbox ADD COLUMN after_id INTEGER REFERENCES outbox(id);
      -- Digests that may be merged into one post when several wait (coalescing under backlog).
      ALTER TABLE outbox ADD COLUMN mergeable INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX outbox_stream ON outbox(stream, status, id);
      CREATE INDEX outbox_after ON outbox(after_id) WHERE after_id IS NOT NULL;
    `,
  },
  {
    version: 4,
    name: 'queued runs',
    rebuildsTables: true,
    sql: `
      CREATE TABLE agent_runs_v4 (
        id             TEXT PRIMARY KEY,
        card_id        TEXT NOT NULL REFERENCES cards(id),
        status         TEXT NOT NULL CHECK (status IN ('queued','running','succeeded','failed','stopped','interrupted')),
        use_worktree   INTEGER NOT NULL,
        owns_worktree  INTEGER NOT NULL,
        branch         TEXT,
        worktree_path  TEXT,
        base_sha       TEXT,
        session_file   TEXT,
        prompt         TEXT NOT NULL,
        token_hash     TEXT NOT NULL UNIQUE,
        summary        TEXT,
        commit_sha     TEXT,
        error          TEXT,
        started_by     TEXT NOT NULL,
        owner_pid      INTEGER,
        parent_run_id  TEXT REFERENCES agent_runs(id) ON DELETE SET NULL,
        tokens_input   INTEGER NOT NULL DEFAULT 0,
        tokens_output  INTEGER NOT NULL DEFAULT 0,
        tokens_total   INTEGER NOT NULL DEFAULT 0,
        cost_usd       REAL NOT NULL DEFAULT 0,
        created_at     TEXT NOT NULL,
        started_at     TEXT,
        finished_at    TEXT
      );
      INSERT INTO agent_runs_v4 SELECT id, card_id, status, use_worktree, owns_worktree, branch, worktree_path, base_sha,
        session_file, prompt, token_hash, summary, commit_sha, error, started_by, owner_pid, parent_run_id, tokens_input,
        tokens_output, tokens_total, cost_usd, created_at, started_at, finished_at FROM agent_runs;
      DROP TABLE agent_runs;
      ALTER TABLE agent_runs_v4 RENAME TO agent_runs;
      CREATE INDEX agent_runs_card ON agent_runs(card_id, created_at);
      CREATE INDEX agent_runs_status ON agent_runs(status, created_at);
      CREATE INDEX agent_runs_worktree ON agent_runs(worktree_path);
    `,
  },
  {
    version: 5,
    name: 'indexes for data retention',
    sql: `
      -- DATA_RETENTION finds old runs by their end and their outbox rows by run.
      CREATE INDEX agent_runs_finished ON agent_runs(finished_at) WHERE finished_at IS NOT NULL;
      CREATE INDEX outbox_run ON outbox(run_id) WHERE run_id IS NOT NULL;
    `,
  },
  {
    version: 6,
    name: 'process identities: run owners, recorded processes, the data folder lock',
    sql: `
      -- The owner's start time next to its pid: a reused pid is never taken for the owner.
      ALTER TABLE agent_runs ADD COLUMN owner_start TEXT;

      -- Every agent and playtest process while it runs (src/core/process-records.ts): a bot that
      -- crashed leaves these behind and the next start kills what still runs of them.
      CREATE TABLE run_processes (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id       TEXT NOT NULL,
        kind         TEXT NOT NULL CHECK (kind IN ('agent','playtest')),
        pid          INTEGER NOT NULL,
        pgid         INTEGER NOT NULL,
        start_time   TEXT NOT NULL,
        cwd          TEXT NOT NULL,
        owner_pid    INTEGER NOT NULL,
        owner_start  TEXT NOT NULL,
        created_at   TEXT NOT NULL
      );
      CREATE INDEX run_processes_run ON run_processes(run_id);

      -- One bot per DATA_DIR (src/core/data-lock.ts): the holder's pid and start time.
      CREATE TABLE data_dir_lock (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        pid         INTEGER NOT NULL,
        start_time  TEXT NOT NULL,
        host        TEXT NOT NULL,
        since       TEXT NOT NULL
      );
    `,
  },
  {
    version: 7,
    name: 'catch-up after downtime',
    sql: `
      -- What the bot has seen of each run thread, so a restart reads only what it missed
      -- (src/bots/hub/catch-up.ts). last_message: the newest message ref seen (a reply handled,
      -- or the newest one a catch-up read). baseline = 1: the thread is older than catch-up, and
      -- its first read is taken as seen without acting on it (its old replies and reactions were
      -- handled live under other keys).
      CREATE TABLE thread_reads (
        thread_key    TEXT PRIMARY KEY REFERENCES run_threads(thread_key) ON DELETE CASCADE,
        last_message  TEXT,
        baseline      INTEGER NOT NULL DEFAULT 0,
        updated_at    TEXT NOT NULL
      );
      INSERT INTO thread_reads (thread_key, baseline, updated_at) SELECT thread_key, 1, created_at FROM run_threads;

      -- Whether a person's reaction is on a message, as the bot last knew it: an add is acted on
      -- only when it was not there (live, or read back by catch-up), so a reaction seen live and
      -- again after a restart counts once. generation numbers each change (a unique dedupe key).
      CREATE TABLE reaction_states (
        message     TEXT NOT NULL,
        user_id     TEXT NOT NULL,
        emoji       TEXT NOT NULL,
        present     INTEGER NOT NULL,
        generation  INTEGER NOT NULL,
        updated_at  TEXT NOT NULL,
        PRIMARY KEY (message, user_id, emoji)
      ) WITHOUT ROWID;

      -- A reply missed while the bot was down that would have started a refinement: the thread
      -- was asked to confirm it with 🔁 on the question (the outbox row note_key).
      CREATE TABLE catch_up_questions (
        note_key       TEXT PRIMARY KEY,
        thread_key     TEXT NOT NULL REFERENCES run_threads(thread_key) ON DELETE CASCADE,
        reply_message  TEXT NOT NULL,
        user_id        TEXT NOT NULL,
        feedback       TEXT NOT NULL,
        created_at     TEXT NOT NULL,
        answered_at    TEXT
      );
    `,
  },
  {
    version: 8,
    name: 'outbox uploads',
    sql: `
      -- The files an outbox row posts as attachments (playtest screenshots and clips): a create row
      -- with a row here is an upload. JSON array of {path, name, contentType, bytes}; the bytes are
      -- read from the paths when the row is sent. Goes with its row.
      CREATE TABLE outbox_uploads (
        outbox_id  INTEGER PRIMARY KEY REFERENCES outbox(id) ON DELETE CASCADE,
        files      TEXT NOT NULL
      );
    `,
  },
];
