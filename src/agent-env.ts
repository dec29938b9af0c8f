/**
 * The environment handed to agent and playtest processes: an allowlist, never "the bot's minus
 * some names". Called by `loadConfig` with the environment it was given (this module reads no
 * environment of its own).
 *
 * The agent gets PATH, HOME, LANG and TERM, the provider key variables pi reads for the
 * configured model, and the names listed in AGENT_ENV. Provider keys: with `--provider <name>`
 * (or `--model <name>/<model>`) in AGENT_ARGS only that provider's variables; otherwise every
 * well-known provider variable that is set. Custom providers in pi's models.json name their key
 * as an environment variable (`"apiKey": "MY_KEY"`, docs/pi-rpc.md §4.2): those names count too.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Always passed when set. */
export const BASE_AGENT_VARS = ['PATH', 'HOME', 'LANG', 'TERM'] as const;

/**
 * Provider → the variables pi 0.73 reads for its key (its pi-ai package's env-api-keys table,
 * copied here so the bot does not depend on pi's internals). Listed in .env.example.
 */
export const PROVIDER_KEY_VARS: Readonly<Record<string, readonly string[]>> = {
  anthropic: ['ANTHROPIC_OAUTH_TOKEN', 'ANTHROPIC_API_KEY'],
  openai: ['OPENAI_API_KEY'],
  'azure-openai-responses': ['AZURE_OPENAI_API_KEY'],
  deepseek: ['DEEPSEEK_API_KEY'],
  google: ['GEMINI_API_KEY'],
  'google-vertex': ['GOOGLE_CLOUD_API_KEY'],
  groq: ['GROQ_API_KEY'],
  cerebras: ['CEREBRAS_API_KEY'],
  xai: ['XAI_API_KEY'],
  openrouter: ['OPENROUTER_API_KEY'],
  'vercel-ai-gateway': ['AI_GATEWAY_API_KEY'],
  zai: ['ZAI_API_KEY'],
  mistral: ['MISTRAL_API_KEY'],
  minimax: ['MINIMAX_API_KEY'],
  moonshotai: ['MOONSHOT_API_KEY'],
  huggingface: ['HF_TOKEN'],
  fireworks: ['FIREWORKS_API_KEY'],
  'github-copilot': ['COPILOT_GITHUB_TOKEN', 'GH_TOKEN', 'GITHUB_TOKEN'],
};

/** Names that hold credentials: their values are redacted wherever the bot writes. */
const SECRET_NAME = /key|token|secret|passw|credential/i;

export function looksSecret(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** The provider named by `--provider x` / `--provider=x`, else by `--model x/y`, else null. */
export function providerOf(agentArgs: readonly string[]): string | null {
  let model: string | null = null;
  for (let i = 0; i < agentArgs.length; i += 1) {
    const arg = agentArgs[i]!;
    if (arg === '--provider' && agentArgs[i + 1]) return agentArgs[i + 1]!;
    if (arg.startsWith('--provider=')) return arg.slice('--provider='.length);
    if (arg === '--model' && agentArgs[i + 1]) model = agentArgs[i + 1]!;
    else if (arg.startsWith('--model=')) model = arg.slice('--model='.length);
  }
  if (model?.includes('/')) {
    const prefix = model.slice(0, model.indexOf('/'));
    if (PROVIDER_KEY_VARS[prefix]) return prefix;
  }
  return null;
}

/**
 * Variable names that pi's models.json (in `piAgentDir`) uses as keys or header values, per
 * provider. A file pi cannot parse either is skipped here; pi reports it when it starts.
 */
export function modelsJsonKeyVars(piAgentDir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(path.join(piAgentDir, 'models.json'), 'utf8'));
  } catch {
    return out;
  }
  const providers = (parsed as { providers?: Record<string, unknown> } | null)?.providers;
  if (!providers || typeof providers !== 'object') return out;
  for (const [name, value] of Object.entries(providers)) {
    const p = value as { apiKey?: unknown; headers?: Record<string, unknown> } | null;
    const candidates = [p?.apiKey, ...Object.values(p?.headers ?? {})];
    const names = candidates.filter((v): v is string => typeof v === 'string' && /^[A-Z_][A-Z0-9_]*$/.test(v));
    if (names.length > 0) out.set(name, names);
  }
  return out;
}

export interface AgentEnvOptions {
  agentArgs: readonly string[];
  piAgentDir: string;
  /** AGENT_ENV: more names to pass. */
  extraNames: readonly string[];
}

/** The names the agent may see (whether or not they are set). */
export function agentEnvNames(opts: AgentEnvOptions): string[] {
  const custom = modelsJsonKeyVars(opts.piAgentDir);
  const provider = providerOf(opts.agentArgs);
  const keys =
    provider !== null
      ? [...(PROVIDER_KEY_VARS[provider] ?? []), ...(custom.get(provider) ?? [])]
      : [...Object.values(PROVIDER_KEY_VARS).flat(), ...[...custom.values()].flat()];
  return [...new Set([...BASE_AGENT_VARS, ...keys, ...opts.extraNames])];
}

/** The allowlisted part of `env`. */
export function buildAgentEnv(env: NodeJS.ProcessEnv, opts: AgentEnvOptions): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of agentEnvNames(opts)) {
    const value = env[name];
    if (value !== undefined && value !== '') out[name] = value;
  }
  return out;
}
