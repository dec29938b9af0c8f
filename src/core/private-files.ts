/**
 * The bot's folders and files are private to its user: data folder, sessions, logs and pi's
 * config folder 0700, the database and log files 0600. Other users of the machine (and, without
 * the sandbox, nothing else) cannot read transcripts, keys in pi's auth.json, or the database.
 */
import fs from 'node:fs';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Creates `dir` (and missing parents) and makes it 0700, also when it already existed. */
export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  fs.chmodSync(dir, PRIVATE_DIR_MODE);
}
