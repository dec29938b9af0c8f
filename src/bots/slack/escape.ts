/**
 * Text for Slack's `text` field. Slack reads `<!channel>`, `<!here>`, `<@U…>` and `<url|label>`
 * in raw text, so every `&`, `<` and `>` is escaped: agent output (and anything else the chat
 * layer renders) can then never ping anyone or forge a link; Slack shows the characters as typed.
 * The chat layer writes Discord-style Markdown; `**bold**` becomes Slack's `*bold*` and
 * `~~strike~~` its `~strike~`, outside code spans and fences (which stay verbatim).
 */

/** `&` → `&amp;`, `<` → `&lt;`, `>` → `&gt;` (the three characters Slack requires escaped). */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Discord/CommonMark emphasis → Slack mrkdwn, leaving inline code and fenced blocks untouched. */
export function toSlackMarkdown(text: string): string {
  return splitCode(text)
    .map((part) => (part.code ? part.text : part.text.replace(/\*\*(?=\S)([^*\n]+?)\*\*/g, '*$1*').replace(/~~(?=\S)([^~\n]+?)~~/g, '~$1~')))
    .join('');
}

/** What the Slack port sends for a chat-layer body: Markdown converted, then escaped. */
export function slackText(body: string): string {
  return escapeSlack(toSlackMarkdown(body));
}

interface Part {
  text: string;
  code: boolean;
}

/** Splits on ``` fences and `inline code` so formatting never changes code. Unclosed fences run to the end. */
function splitCode(text: string): Part[] {
  const parts: Part[] = [];
  const re = /```[\s\S]*?(?:```|$)|`[^`\n]+`/g;
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > last) parts.push({ text: text.slice(last, m.index), code: false });
    parts.push({ text: m[0], code: true });
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push({ text: text.slice(last), code: false });
  return parts;
}
