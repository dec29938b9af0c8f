/**
 * SQL for upload rows: the files an outbox row posts as attachments (playtest screenshots and
 * clips). A `create` row with files here is an upload; its body is the comment that goes with
 * them. Written in the same transaction as the row (the relay's), deleted with it (cascade).
 */
import type { Db } from './database.js';

/** One file of an upload, as the relay chose it (sizes checked against the platform's limits). */
export interface OutboxFile {
  /** Absolute path on the bot's machine; read when the row is sent. */
  path: string;
  /** The name the platform shows. */
  name: string;
  contentType: string;
  bytes: number;
}

export class OutboxUploadsRepo {
  constructor(private readonly db: Db) {}

  /** Attaches files to an outbox row (once: a re-render of the same row keeps the first set). */
  attach(outboxId: number, files: OutboxFile[]): void {
    this.db.prepare('INSERT OR IGNORE INTO outbox_uploads (outbox_id, files) VALUES (?, ?)').run(outboxId, JSON.stringify(files));
  }

  /** The files of an upload row, or undefined for a row that is not an upload. */
  filesOf(outboxId: number): OutboxFile[] | undefined {
    const row = this.db.prepare('SELECT files FROM outbox_uploads WHERE outbox_id = ?').get(outboxId) as { files: string } | undefined;
    return row ? (JSON.parse(row.files) as OutboxFile[]) : undefined;
  }
}
