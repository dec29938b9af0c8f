/** The kanban cards a run works on: validated ids, clear errors, atomic imports. */
import type { CardsRepo } from '../store/cards-repo.js';
import { assertCardId } from './card-ids.js';
import type { CardInput } from './card-import.js';
import { NotFoundError, UserError } from './errors.js';
import type { Card } from './types.js';

export class Cards {
  constructor(
    private readonly repo: CardsRepo,
    private readonly now: () => Date = () => new Date(),
  ) {}

  add(input: { id: string; title: string; body?: string }): Card {
    const id = assertCardId(input.id.trim());
    const title = input.title.trim();
    if (!title) throw new UserError('BAD_COMMAND', `card ${id} needs a title, e.g. --title "Add a jump button"`);
    if (!this.repo.insert({ id, title, body: (input.body ?? '').trim() }, this.now().toISOString())) {
      throw new UserError('CARD_EXISTS', `card ${id} already exists; pick another id or see it with "cards show ${id}"`);
    }
    return this.repo.get(id)!;
  }

  /** Creates or updates every card in one transaction. */
  import(cards: CardInput[]): { created: number; updated: number } {
    return this.repo.upsertMany(cards, this.now().toISOString());
  }

  get(id: string): Card | undefined {
    return this.repo.get(id);
  }

  /** The card, or a NotFoundError that says how to add it. */
  require(id: string): Card {
    assertCardId(id);
    const card = this.repo.get(id);
    if (!card) {
      throw new NotFoundError('CARD_NOT_FOUND', `unknown card "${id}": add it first (chat: /card add, terminal: chatops cards add ${id} --title "...")`);
    }
    return card;
  }

  list(): Card[] {
    return this.repo.list();
  }

  search(query: string, limit = 25): Card[] {
    return this.repo.search(query, limit);
  }
}
