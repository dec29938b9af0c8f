/**
 * The command grammar, from platform options (Discord) or free text (Slack, console):
 *   run card:<id> [prompt:<text>]   or   run <card-id> [instructions…]
 *   runs
 *   card add <id> <title…>   card list   card show <id>
 *   help
 * A single umbrella command (`/chatops run card-1`) works too: its first word is the command.
 */

export type ParsedCommand =
  | { kind: 'run'; cardId: string; prompt: string | undefined }
  | { kind: 'runs' }
  | { kind: 'card-add'; id: string; title: string; body: string }
  | { kind: 'card-list' }
  | { kind: 'card-show'; id: string }
  | { kind: 'help' }
  | { kind: 'bad'; message: string };

const UMBRELLA = new Set(['chatops', 'bot', 'agent']);

function firstWord(text: string): [string, string] {
  const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(text);
  return m ? [m[1]!, m[2]!.trim()] : ['', ''];
}

export function parseCommand(name: string, options: Record<string, string>, text: string): ParsedCommand {
  let cmd = name.replace(/^\//, '').toLowerCase();
  let rest = text.trim();
  if (UMBRELLA.has(cmd)) [cmd, rest] = firstWord(rest).map((s, i) => (i === 0 ? s.toLowerCase() : s)) as [string, string];
  switch (cmd) {
    case 'run':
      return parseRun(options, rest);
    case 'runs':
      return { kind: 'runs' };
    case 'card':
    case 'cards':
      return parseCard(options, rest);
    case 'help':
    case '':
      return { kind: 'help' };
    default:
      return { kind: 'bad', message: `Unknown command "${cmd}". Try /help.` };
  }
}

function parseRun(options: Record<string, string>, rest: string): ParsedCommand {
  let cardId = options.card?.trim();
  let prompt = options.prompt?.trim();
  if (!cardId) {
    const keyed = /^card:(\S+)\s*(?:prompt:\s*([\s\S]*))?$/.exec(rest);
    if (keyed) {
      cardId = keyed[1];
      prompt = keyed[2]?.trim();
    } else {
      const [id, more] = firstWord(rest);
      cardId = id;
      prompt = more.replace(/^prompt:\s*/, '');
    }
  }
  if (!cardId) return { kind: 'bad', message: 'Which card? Use /run card-123 [extra instructions].' };
  return { kind: 'run', cardId, prompt: prompt ? prompt : undefined };
}

function parseCard(options: Record<string, string>, rest: string): ParsedCommand {
  let sub = options.sub ?? options.subcommand;
  let args = rest;
  if (!sub) [sub, args] = firstWord(rest);
  sub = (sub ?? '').toLowerCase();
  if (sub === 'list' || sub === '') return { kind: 'card-list' };
  if (sub === 'show') {
    const id = options.id ?? firstWord(args)[0];
    return id ? { kind: 'card-show', id } : { kind: 'bad', message: 'Which card? Use /card show card-123.' };
  }
  if (sub === 'add') {
    let id = options.id;
    let title = options.title;
    if (!id) [id, title] = firstWord(args);
    if (!id || !title?.trim()) return { kind: 'bad', message: 'Use /card add card-123 A short title.' };
    return { kind: 'card-add', id, title: title.trim(), body: options.body ?? '' };
  }
  return { kind: 'bad', message: `Unknown card command "${sub}": use /card add, /card list or /card show.` };
}

export const HELP_TEXT = [
  '**Commands**',
  '• `/run card-123 [extra instructions]` — start the coding agent on a card, in a new thread',
  '• `/runs` — recent runs',
  '• `/card add card-123 A short title` · `/card list` · `/card show card-123`',
  '• `/help` — this text',
  '**In a run’s thread**',
  '• reply — steer the agent while it works (delivered before its next step)',
  '• reply starting with `later:` — a follow-up, delivered when the agent would otherwise stop',
  '• reply after the run finished — start a refinement with your text as feedback',
  '• react 🛑 stop · 🔁 refine · 🎮 playtest · 📸 screenshots of the running playtest · ⏹️ (or remove 🎮) stop the playtest',
].join('\n');
