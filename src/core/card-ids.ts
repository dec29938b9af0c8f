/** Card ids become branch and folder names, so they are kept to a safe alphabet. */
import { UserError } from './errors.js';

export const CARD_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Returns the id unchanged, or throws a UserError that says what a valid id looks like. */
export function assertCardId(id: string): string {
  if (!CARD_ID_PATTERN.test(id)) {
    const shown = id.length > 70 ? `${id.slice(0, 67)}...` : id;
    throw new UserError(
      'CARD_ID_INVALID',
      `"${shown}" is not a valid card id: use letters, digits, "-" and "_" (at most 64, starting with a letter or digit), e.g. card-123`,
    );
  }
  return id;
}
