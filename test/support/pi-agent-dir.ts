/**
 * A temporary PI_CODING_AGENT_DIR that points pi at the mock LLM server (docs/pi-rpc.md §4.2, §12):
 * provider `mock` (OpenAI Chat Completions), model `mock-model`, a dummy key read from an env var,
 * quiet start-up, no telemetry, and fast retries that only pi performs (the SDK's own are off).
 */
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir } from './temp.js';

export const MOCK_PROVIDER = 'mock';
export const MOCK_MODEL = 'mock-model';
export const MOCK_KEY_VAR = 'MOCK_LLM_API_KEY';

export interface PiAgentDirOptions {
  /** The mock's base URL including `/v1`. */
  baseUrl: string;
  /** pi's own retries after a retryable error (default 2). */
  maxRetries?: number;
  /** First retry delay in ms (default 20; doubles per attempt). */
  baseDelayMs?: number;
  /** Omit the provider's apiKey: the model then counts as not configured and pi rejects prompts. */
  withoutApiKey?: boolean;
  /** Extra settings.json keys. */
  settings?: Record<string, unknown>;
  /** The model's price in USD per million tokens (pi's models.json `cost`); default none (free). */
  cost?: { input: number; output: number; cacheRead?: number; cacheWrite?: number };
}

export interface PiAgentDir {
  dir: string;
  /** Variables the agent needs besides PI_CODING_AGENT_DIR (the dummy key). */
  env: Record<string, string>;
  provider: string;
  model: string;
}

export function makePiAgentDir(options: PiAgentDirOptions): PiAgentDir {
  const dir = makeTempDir('chatops-pi-agent-');
  const models = {
    providers: {
      [MOCK_PROVIDER]: {
        baseUrl: options.baseUrl,
        api: 'openai-completions',
        ...(options.withoutApiKey ? {} : { apiKey: MOCK_KEY_VAR }),
        compat: { supportsDeveloperRole: false, supportsReasoningEffort: false, supportsStore: false },
        models: [
          {
            id: MOCK_MODEL,
            name: 'Mock model',
            contextWindow: 128000,
            maxTokens: 4096,
            ...(options.cost ? { cost: { cacheRead: 0, cacheWrite: 0, ...options.cost } } : {}),
          },
        ],
      },
    },
  };
  const settings = {
    defaultProvider: MOCK_PROVIDER,
    defaultModel: MOCK_MODEL,
    quietStartup: true,
    enableInstallTelemetry: false,
    retry: { enabled: true, maxRetries: options.maxRetries ?? 2, baseDelayMs: options.baseDelayMs ?? 20, provider: { maxRetries: 0 } },
    ...options.settings,
  };
  fs.writeFileSync(path.join(dir, 'models.json'), `${JSON.stringify(models, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, 'settings.json'), `${JSON.stringify(settings, null, 2)}\n`);
  return { dir, env: { [MOCK_KEY_VAR]: 'dummy-key-for-tests' }, provider: MOCK_PROVIDER, model: MOCK_MODEL };
}
