/** The first message a fresh run sends the agent: the card, the operator's words, the contract. */
import type { Card } from './types.js';

export interface PromptContext {
  runId: string;
  token: string;
  branch: string | null;
  worktreePath: string | null;
}

export function buildPrompt(card: Card, instructions: string | undefined, ctx: PromptContext): string {
  const parts = [`# Card ${card.id}: ${card.title}`];
  if (card.body.trim()) parts.push(card.body.trim());
  if (instructions?.trim()) parts.push(`## Instructions from the operator\n\n${instructions.trim()}`);
  const where = ctx.branch
    ? `You are working in a git worktree at ${ctx.worktreePath} on the branch \`${ctx.branch}\`, created for this run. Stay on this branch; do not switch, rebase or push other branches.`
    : 'You are working directly in the repository checkout; do not switch branches.';
  parts.push(
    [
      '## How to work',
      '',
      `- ${where}`,
      '- Make the change the card asks for, and check it as far as you can (build, tests).',
      '- Commit your work with git (`git add -A && git commit -m "<card id>: <what changed>"`) before you finish; uncommitted changes are reported as a warning.',
      '- The operator may send you more messages while you work; follow them.',
      '- End with a short summary (a few lines) of what you changed, what you checked, and anything left open.',
      '',
      `Run id: ${ctx.runId}. Run token (for calls back to the orchestrator, keep it out of commits): ${ctx.token}.`,
    ].join('\n'),
  );
  return parts.join('\n\n');
}

/** What a refinement sends: the feedback, or a request to review and improve. */
export function refinementPrompt(feedback: string | undefined): string {
  const text = feedback?.trim();
  return text || 'No specific changes were requested: review the work so far on this branch, improve it, commit, and summarize.';
}
