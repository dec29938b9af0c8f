/**
 * The `chatops` command line: cards, foreground runs and refinements, run listings, and
 * `start` (the bot: Discord/Slack when configured, else the local console mode).
 */
import fs from 'node:fs';
import { Command, CommanderError } from 'commander';
import { loadConfig, loadDotEnv, type Config } from '../config.js';
import { parseCardsFile } from '../core/card-import.js';
import { createRunEngine, type RunEngine } from '../core/engine.js';
import { UserError, errorText } from '../core/errors.js';
import { Redactor } from '../core/redact.js';
import type { Card, Run } from '../core/types.js';
import { createLogger, type Logger } from '../logger.js';
import { formatEvent } from './format-event.js';
import { runInForeground } from './foreground-run.js';
import { registerWorktreeCommands } from './worktrees-command.js';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Defaults to the process environment (read only by `loadConfig`). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

function print(io: CliIo, text: string): void {
  io.stdout.write(`${text}\n`);
}

function runLine(r: Run, positions: Map<string, number> = new Map()): string {
  const when = r.createdAt.slice(0, 16).replace('T', ' ');
  const parent = r.parentRunId ? ` (refines ${r.parentRunId.slice(0, 8)})` : '';
  const place = positions.get(r.id);
  const status = r.status === 'queued' && place ? `queued #${place}` : r.status;
  return `${r.id.slice(0, 8)}  ${status.padEnd(11)} ${r.cardId.padEnd(16)} ${when}  ${r.branch ?? '-'}${parent}`;
}

function cardLine(c: Card): string {
  return `${c.id.padEnd(16)} ${c.title}`;
}

export function buildProgram(io: CliIo, setExitCode: (code: number) => void): Command {
  let config: Config | null = null;
  let logger: Logger | null = null;
  const getConfig = () => (config ??= loadConfig(io.env, io.cwd));
  const getLogger = () => (logger ??= createLogger(getConfig().logLevel, io.stderr, new Redactor(getConfig().secretValues)));
  const withEngine = async <T>(fn: (engine: RunEngine) => Promise<T>): Promise<T> => {
    const engine = await createRunEngine(getConfig(), getLogger());
    try {
      return await fn(engine);
    } finally {
      await engine.close();
    }
  };

  const program = new Command('chatops')
    .description('Run the pi coding agent on kanban cards in isolated git worktrees.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });

  const cards = program.command('cards').description('manage the kanban cards runs work on');
  cards
    .command('add <id>')
    .description('add a card (id: letters, digits, - and _, at most 64)')
    .requiredOption('--title <title>', 'one-line title')
    .option('--body <body>', 'description of the task', '')
    .action((id: string, opts: { title: string; body: string }) =>
      withEngine(async (e) => print(io, `added ${cardLine(e.cards.add({ id, title: opts.title, body: opts.body }))}`)),
    );
  cards
    .command('list')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) =>
      withEngine(async (e) => {
        const list = e.cards.list();
        if (opts.json) print(io, JSON.stringify(list, null, 2));
        else print(io, list.length ? list.map(cardLine).join('\n') : 'no cards yet: add one with "chatops cards add card-1 --title ..."');
      }),
    );
  cards.command('show <id>').action((id: string) =>
    withEngine(async (e) => {
      const c = e.cards.require(id);
      const runs = e.manager.listForCard(c.id);
      print(io, `${c.id}: ${c.title}\nstatus: ${c.status}\n\n${c.body || '(no description)'}`);
      if (runs.length) print(io, `\nruns:\n${runs.map((r) => runLine(r)).join('\n')}`);
    }),
  );
  cards
    .command('import <file>')
    .description('import cards from a JSON array of {id,title,body} or Markdown with "## <id>: <title>" headings')
    .action((file: string) =>
      withEngine(async (e) => {
        let text: string;
        try {
          text = fs.readFileSync(file, 'utf8');
        } catch (err) {
          throw new UserError('CARD_IMPORT_INVALID', `cannot read ${file}: ${errorText(err)}`);
        }
        const { created, updated } = e.cards.import(parseCardsFile(file, text));
        print(io, `imported ${created + updated} cards (${created} new, ${updated} updated)`);
      }),
    );

  program
    .command('run <card>')
    .description('run the agent on a card in the foreground; Ctrl-C stops it cleanly')
    .option('--prompt <text>', 'extra instructions for the agent')
    .option('--no-worktree', 'work in the repository checkout instead of a new worktree')
    .action((cardId: string, opts: { prompt?: string; worktree: boolean }) =>
      withEngine(async (e) => {
        const run = await runInForeground(e.manager, io, (m) =>
          m.start({ cardId, prompt: opts.prompt, useWorktree: opts.worktree, startedBy: 'cli' }),
        );
        setExitCode(run.status === 'succeeded' ? 0 : 1);
      }),
    );
  program
    .command('refine <run-id>')
    .description('continue a settled run in its worktree and agent session')
    .option('--prompt <text>', 'feedback for the agent')
    .action((runId: string, opts: { prompt?: string }) =>
      withEngine(async (e) => {
        const run = await runInForeground(e.manager, io, (m) => m.refine({ runId, prompt: opts.prompt, startedBy: 'cli' }));
        setExitCode(run.status === 'succeeded' ? 0 : 1);
      }),
    );

  const runs = program
    .command('runs')
    .description('list recent runs')
    .option('--card <id>', 'only runs of this card')
    .option('--json', 'print JSON')
    .option('--limit <n>', 'how many', '30')
    .action((opts: { card?: string; json?: boolean; limit: string }) =>
      withEngine(async (e) => {
        const list = opts.card ? e.manager.listForCard(e.cards.require(opts.card).id) : e.manager.list(Number(opts.limit) || 30);
        const positions = e.manager.queuePositions();
        if (opts.json) print(io, JSON.stringify(list.map((r) => ({ ...r, queuePosition: positions.get(r.id) ?? null })), null, 2));
        else print(io, list.length ? list.map((r) => runLine(r, positions)).join('\n') : 'no runs yet: start one with "chatops run <card>"');
      }),
    );
  runs
    .command('show <run-id>')
    .description("a run's details and events")
    .option('--json', 'print JSON')
    .action((runId: string, opts: { json?: boolean }) =>
      withEngine(async (e) => {
        const run = e.manager.require(runId);
        const events = e.manager.events(run.id);
        if (opts.json) return print(io, JSON.stringify({ run, events }, null, 2));
        print(io, `${runLine(run)}\nworktree: ${run.worktreePath ?? '-'}\ncommit: ${run.commitSha ?? '-'}${run.error ? `\nerror: ${run.error}` : ''}\n`);
        for (const ev of events) print(io, formatEvent(ev));
      }),
    );
  runs
    .command('remove <run-id>')
    .description('delete a settled run and its events; its worktree too once no other run uses it (the branch is kept)')
    .action((runId: string) =>
      withEngine(async (e) => {
        const run = e.manager.require(runId);
        const { worktreeRemoved } = await e.manager.remove(run.id);
        print(io, `removed run ${run.id.slice(0, 8)}${worktreeRemoved ? ` and its worktree (branch ${run.branch} kept)` : ''}`);
      }),
    );

  registerWorktreeCommands(program, { withEngine, print: (text) => print(io, text), setExitCode });

  program
    .command('start')
    .description('start the bot: Discord and/or Slack when their tokens are set, else the local console mode')
    .action(async () => {
      const { startBot } = await import('../app.js');
      await startBot(getConfig());
    });

  program
    .command('doctor')
    .description('check the configuration, repository, data folder, sandbox, agent and chat platforms; prints the fix for each ✗')
    .action(async () => {
      const { runChecks, formatResults } = await import('./doctor.js');
      const results = await runChecks(io.env, io.cwd);
      print(io, formatResults(results));
      setExitCode(results.every((r) => r.ok) ? 0 : 1);
    });

  program
    .command('register-commands')
    .description('register the Discord slash commands in DISCORD_GUILD_ID (also done at every start)')
    .action(async () => {
      const config = getConfig();
      if (!config.discord) throw new UserError('CONFIG_INVALID', 'set DISCORD_TOKEN and DISCORD_GUILD_ID first (see .env.example)');
      const { registerCommands } = await import('../bots/discord/index.js');
      const done = await registerCommands(config.discord, getLogger());
      print(io, `registered /${done.names.join(', /')} in guild ${done.guildId} for application ${done.applicationId}`);
    });

  return program;
}

/** Runs the CLI; resolves with the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => (code = c));
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof UserError) {
      io.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    io.stderr.write(`error: ${errorText(err)}\n`);
    return 1;
  }
}

export async function main(argv: string[]): Promise<void> {
  loadDotEnv();
  process.exitCode = await runCli(argv, { stdout: process.stdout, stderr: process.stderr });
}
