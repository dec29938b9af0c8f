/**
 * Slash commands: `run`, `runs`, `card add|list|show`, `help`. Answers go privately to the
 * invoker through `respond`; a started run gets its header, thread and controls via the outbox.
 */
import type { CommandEvent } from './chat-types.js';
import { HELP_TEXT, parseCommand } from './command-parse.js';
import { authorize } from './authorize.js';
import { chatMessage, type ControllerContext } from './controller-context.js';
import { threadRefusal } from './thread-writer.js';
import { formatDuration, neutralizeMentions, shortRunId, statusIcon, truncate } from './render-format.js';

const NOT_IN_A_THREAD = '⛔ /run opens a new thread for the run, and a thread cannot hold another: run /run in a channel, not in a thread.';

/** The answer for a run stopped because its thread could not be opened. */
function refusedText(shortId: string, cardId: string, reason: string): string {
  return `⛔ Run ${shortId} on ${cardId} was stopped: its thread could not be opened in this channel, so nobody could follow, steer or stop it. ${reason}. Fix that and run /run ${cardId} again.`;
}

export class CommandHandlers {
  constructor(private readonly ctx: ControllerContext) {}

  async handle(e: CommandEvent): Promise<void> {
    const cmd = parseCommand(e.name, e.options, e.text);
    if (cmd.kind === 'help') return e.respond(HELP_TEXT);
    if (cmd.kind === 'bad') return e.respond(cmd.message);
    // Everything else (reads included: runs and cards show what the team works on) needs permission.
    const auth = authorize(e.user, this.ctx.auth);
    if (!auth.ok) return e.respond(auth.message);
    switch (cmd.kind) {
      case 'runs':
        return e.respond(this.listRuns());
      case 'card-list':
        return e.respond(this.listCards());
      case 'card-show':
        return e.respond(this.showCard(cmd.id));
      case 'card-add': {
        const card = this.ctx.manager.cards.add({ id: cmd.id, title: cmd.title, body: cmd.body });
        return e.respond(`🗂️ Added ${card.id} — ${neutralizeMentions(card.title)}. Start it with /run ${card.id}.`);
      }
      case 'run':
        return this.run(e, cmd.cardId, cmd.prompt);
    }
  }

  /**
   * Starts a run. Its header and thread go out as soon as the run's row exists, before the
   * worktree and the agent (content first); the invoker's answer links the thread. A run whose
   * thread the platform refuses (the bot cannot write in the channel) would be neither visible
   * nor controllable: it is stopped, before its agent starts when the refusal comes first, and
   * the answer says why and what to fix.
   */
  private async run(e: CommandEvent, cardId: string, prompt: string | undefined): Promise<void> {
    const { manager, writer, delivery, relay, logger } = this.ctx;
    if (e.thread && this.ctx.portOf(e.platform)?.limits.nestedThreads === false) return e.respond(NOT_IN_A_THREAD);
    let opened: { threadKey: string; threadOpId: number } | null = null;
    let refusal: string | null = null;
    const refuse = (runId: string, reason: string) => {
      refusal ??= reason;
      manager.stop(runId, null).catch((err: unknown) => logger.warn({ err, runId }, 'could not stop a run whose thread was refused'));
    };
    let queued!: (position: number) => void;
    const waiting = new Promise<number>((resolve) => (queued = resolve));
    const starting = manager.start({
      cardId,
      prompt,
      startedBy: e.user.id,
      onCreated: (created) => {
        const thread = writer.openRunThread(created, manager.cards.get(created.cardId), e.platform, e.channel, e.user.displayName);
        opened = thread;
        relay.attach(created.id);
        void delivery.waitFor(thread.threadOpId).then((row) => {
          const reason = row?.status === 'dead' ? threadRefusal(this.ctx.store, thread.threadKey) : null;
          if (reason) refuse(created.id, reason);
        });
      },
      onQueued: queued,
    });
    // The answer comes when the agent runs, or at once when the run has to wait in the queue.
    const first = await Promise.race([
      starting.then(
        (run) => ({ run, position: null }),
        (err: unknown) => ({ err }),
      ),
      waiting.then((position) => ({ run: null, position })),
    ]);
    if ('err' in first) {
      const code = (first.err as { code?: string }).code;
      const stopped = opened as { threadKey: string } | null;
      if (refusal && stopped) return e.respond(refusedText(shortRunId(stopped.threadKey), cardId, refusal));
      const hint = code === 'CARD_NOT_FOUND' || code === 'CARD_ID_INVALID' ? `\n${this.cardHint()}` : '';
      logger.info({ err: first.err, cardId }, 'run did not start');
      return e.respond(`${chatMessage(first.err)}${hint}`);
    }
    if (first.position !== null) {
      // It starts by itself when its turn comes; its thread shows that and everything after.
      starting.catch((err: unknown) => logger.info({ err, cardId }, 'a queued run did not start'));
    }
    // `onCreated` has run by now (before the agent started, or before the run was queued), and
    // opened the thread; a new run's thread key is its id.
    const { threadKey, threadOpId } = opened!;
    const run = first.run ?? manager.get(threadKey)!;
    const row = await this.waitUpTo(delivery.waitFor(threadOpId), this.ctx.threadLinkWaitMs ?? 10_000);
    const reason = refusal ?? (row?.status === 'dead' ? threadRefusal(this.ctx.store, threadKey) : null);
    if (reason) {
      refuse(run.id, reason);
      return e.respond(refusedText(shortRunId(run.id), run.cardId, reason));
    }
    const link = this.threadLink(threadKey);
    const where = link ? `: ${link}` : ' — its thread is opening';
    const state = first.position !== null ? `🕒 Queued run ${shortRunId(run.id)} (position ${first.position}; it starts when a slot is free)` : `▶️ Started run ${shortRunId(run.id)}`;
    await e.respond(`${state} on ${run.cardId}${run.branch ? ` (branch \`${run.branch}\`)` : ''}${where}`);
  }

  /** A link to a run thread, on the thread's own platform. */
  private threadLink(threadKey: string): string | null {
    const t = this.ctx.store.chatThreads.getThread(threadKey);
    if (!t?.thread) return null;
    return this.ctx.portOf(t.platform)?.permalink?.(t.channel, t.thread, null) ?? null;
  }

  private cardHint(): string {
    const cards = this.ctx.manager.cards.list().slice(0, 10);
    const known = cards.length ? `Known cards: ${cards.map((c) => c.id).join(', ')}.` : 'There are no cards yet.';
    return `${known} Add one with \`/card add card-123 A short title\`; see them with \`/card list\`.`;
  }

  private listRuns(): string {
    const runs = this.ctx.manager.list(10);
    if (runs.length === 0) return 'No runs yet. Start one with /run card-123.';
    const now = this.ctx.clock.now();
    const positions = this.ctx.manager.queuePositions();
    const lines = runs.map((r) => {
      const t = this.ctx.store.chatThreads.threadOfRun(r.id);
      const link = t ? this.threadLink(t.threadKey) : null;
      const age = formatDuration(now - Date.parse(r.createdAt));
      const refines = r.parentRunId ? ` (refines ${shortRunId(r.parentRunId)})` : '';
      const place = positions.get(r.id);
      const status = r.status === 'queued' && place ? `queued (position ${place})` : r.status;
      return `${statusIcon(r.status)} \`${shortRunId(r.id)}\` ${status} · ${r.cardId}${refines} · by ${this.ctx.nameOf(r.startedBy)} · ${age} ago${link ? ` · ${link}` : ''}`;
    });
    return neutralizeMentions(['**Recent runs**', ...lines].join('\n'));
  }

  private listCards(): string {
    const cards = this.ctx.manager.cards.list();
    if (cards.length === 0) return 'No cards yet. Add one with `/card add card-123 A short title`.';
    const shown = cards.slice(0, 30).map((c) => `• \`${c.id}\` — ${truncate(c.title, 100)} (${c.status})`);
    const more = cards.length > 30 ? [`… and ${cards.length - 30} more`] : [];
    return neutralizeMentions(['**Cards**', ...shown, ...more].join('\n'));
  }

  private showCard(id: string): string {
    const card = this.ctx.manager.cards.get(id);
    if (!card) return `No card "${id}". ${this.cardHint()}`;
    const runs = this.ctx.store.runs.listForCard(card.id).slice(0, 5);
    const lines = [`**${card.id}** — ${card.title} (${card.status})`];
    if (card.body.trim()) lines.push(truncate(card.body.trim(), 1200));
    if (runs.length) lines.push(`Recent runs: ${runs.map((r) => `${statusIcon(r.status)} \`${shortRunId(r.id)}\``).join(' ')}`);
    return neutralizeMentions(lines.join('\n'));
  }

  private waitUpTo<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
    return new Promise((resolve) => {
      const timer = this.ctx.clock.setTimeout(() => resolve(undefined), ms);
      void promise.then(
        (v) => {
          this.ctx.clock.clearTimeout(timer);
          resolve(v);
        },
        () => {
          this.ctx.clock.clearTimeout(timer);
          resolve(undefined);
        },
      );
    });
  }
}
