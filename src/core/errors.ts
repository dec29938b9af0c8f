/**
 * A small error hierarchy with stable codes. A `UserError` carries a message that is safe to
 * show in chat or on a terminal and says what to do next; everything else is an operator error
 * whose details go to the log.
 */

export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'CARD_NOT_FOUND'
  | 'CARD_ID_INVALID'
  | 'CARD_EXISTS'
  | 'CARD_IMPORT_INVALID'
  | 'RUN_NOT_FOUND'
  | 'RUN_NOT_ACTIVE'
  | 'RUN_ACTIVE'
  | 'REFINE_PRECONDITION'
  | 'WORKTREE_BUSY'
  | 'WORKTREE_CONFLICT'
  | 'NOT_A_GIT_REPO'
  | 'AGENT_START_FAILED'
  | 'STOPPED_BEFORE_START'
  | 'RUN_STOPPED'
  | 'SHUTTING_DOWN'
  | 'RUN_LIMIT'
  | 'RUN_QUEUED'
  | 'AGENT_PROTOCOL'
  | 'PLAYTEST'
  | 'DISK_LOW'
  | 'DATA_DIR_IN_USE'
  | 'UNAUTHORIZED'
  | 'BAD_COMMAND'
  | 'INTERNAL';

export class AppError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An error caused by the user's input; its message is shown to them as is. */
export class UserError extends AppError {}

export class NotFoundError extends UserError {}

/** The safe text to show a user for any thrown value. Non-user errors get a generic line. */
export function userMessage(err: unknown): string {
  if (err instanceof UserError) return err.message;
  return 'Something went wrong on the bot side; the operator can find the details in the log.';
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
