/**
 * Slash commands and autocomplete. A command is ACKNOWLEDGED FIRST (an ephemeral deferred reply,
 * before any database, git, worktree or process work), then handed to the controller, whose
 * private answers edit that reply (and follow up if there is more). Autocomplete is answered at
 * once from the card list: Discord gives it 3 s and no deferral.
 */
import { MessageFlags, type AutocompleteInteraction, type ChatInputCommandInteraction } from 'discord.js';
import type { Logger } from 'pino';
import type { EventSink } from '../hub/hub.js';
import { splitMessage } from '../hub/split-message.js';
import { commandData } from './inbound.js';
import { AUTOCOMPLETE_MAX_CHOICES, CHOICE_NAME_MAX_CHARS, MAX_MESSAGE_CHARS, MESSAGE_HEADROOM } from './limits.js';
import { chatUser, commandEvent, focusedOption } from './translate.js';

const NO_MENTIONS = { parse: [] as never[], repliedUser: false };

/**
 * Acknowledgements before work, across interactions too: when many commands arrive at once, the
 * work of the first (git, worktree, process starts, all on this event loop) must not delay the
 * acknowledgement of the last past Discord's 3 s. A command's work starts once no
 * acknowledgement is in flight.
 */
export class AckFirst {
  private inFlight = 0;
  private waiters: (() => void)[] = [];

  async ack<T>(send: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await send();
    } finally {
      if (--this.inFlight === 0) for (const resolve of this.waiters.splice(0)) resolve();
    }
  }

  /** Resolves when no acknowledgement is in flight. */
  clear(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}

/** Options that autocomplete over card ids: `/run card`, `/card show id`. */
function completesCards(commandName: string, option: string): boolean {
  return (commandName === 'run' && option === 'card') || (commandName === 'card' && option === 'id');
}

export async function handleCommand(i: ChatInputCommandInteraction, chat: Pick<EventSink, 'handle'>, acks: AckFirst, logger: Logger): Promise<void> {
  const log = logger.child({ interactionId: i.id, command: i.commandName, userId: i.user.id });
  const receivedAt = Date.now();
  try {
    await acks.ack(() => i.deferReply({ flags: MessageFlags.Ephemeral }));
  } catch (err) {
    // Too late (10062) or already answered: the user saw a failure, so do nothing they did not see.
    log.warn({ err, ageMs: receivedAt - i.createdTimestamp }, 'could not acknowledge a command; ignoring it');
    return;
  }
  log.debug({ ackMs: Date.now() - receivedAt }, 'command acknowledged');
  await acks.clear();
  let answered = false;
  const respond = async (text: string): Promise<void> => {
    if (!text.trim()) return;
    for (const part of splitMessage(text, MAX_MESSAGE_CHARS - MESSAGE_HEADROOM)) {
      if (!answered) {
        answered = true;
        await i.editReply({ content: part, allowedMentions: NO_MENTIONS });
      } else {
        await i.followUp({ content: part, flags: MessageFlags.Ephemeral, allowedMentions: NO_MENTIONS });
      }
    }
  };
  await chat.handle(commandEvent(commandData(i), respond));
  if (!answered) {
    // Nothing to say (e.g. a redelivered interaction): do not leave "thinking…" behind.
    await i.deleteReply().catch((err: unknown) => log.debug({ err }, 'could not delete an unused deferred reply'));
  }
}

export async function handleAutocomplete(i: AutocompleteInteraction, chat: Pick<EventSink, 'autocompleteCards'>, acks: AckFirst, logger: Logger): Promise<void> {
  const data = commandData(i);
  const focused = focusedOption(data.options);
  const choices =
    focused && completesCards(i.commandName, focused.name)
      ? chat
          .autocompleteCards(focused.value, chatUser(data.user, data.roleIds))
          .slice(0, AUTOCOMPLETE_MAX_CHOICES)
          .map((c) => ({ name: c.label.slice(0, CHOICE_NAME_MAX_CHARS), value: c.value.slice(0, CHOICE_NAME_MAX_CHARS) }))
      : [];
  try {
    await acks.ack(() => i.respond(choices));
  } catch (err) {
    logger.warn({ err, interactionId: i.id }, 'could not answer autocomplete');
  }
}
