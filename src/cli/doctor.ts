/**
 * `chatops doctor`: checks what a first deployment gets wrong and prints a ✓/✗ list with the fix
 * for each ✗. The config, the repository, the data folder (writable, private, disk space), the
 * sandbox, the agent and its model (pi is started and asked, no model request is made), and each
 * configured platform (src/bots/<platform>/doctor-checks.ts). Exit code 0 only when all pass.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../config.js';
import { PiDriver } from '../core/agent/pi-driver.js';
import { errorText } from '../core/errors.js';
import { Sandbox, sandboxLayout } from '../core/sandbox.js';
import { Worktrees } from '../core/worktrees.js';
import { fail, pass, type CheckResult } from './check-result.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';

export type { CheckResult } from './check-result.js';

/** Free space below which the data folder counts as too full (worktrees and Rust builds are large). */
export const MIN_FREE_BYTES = 2 * 1024 ** 3;

async function checkRepo(config: Config): Promise<CheckResult> {
  try {
    await new Worktrees({ repoRoot: config.repoRoot, worktreesDir: config.worktreesDir, baseBranch: config.baseBranch, logger: silentLogger() }).assertRepo();
    return pass('repository', `${config.repoRoot} is a git repository with a commit`);
  } catch (err) {
    return fail('repository', errorText(err), 'set REPO_ROOT to your game\'s git repository (with at least one commit)');
  }
}

function checkDataDir(config: Config): CheckResult[] {
  const dir = config.dataDir;
  const out: CheckResult[] = [];
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const probe = path.join(dir, `.doctor-${process.pid}`);
    fs.writeFileSync(probe, 'ok', { mode: 0o600 });
    fs.rmSync(probe);
    const mode = fs.statSync(dir).mode & 0o777;
    out.push(
      mode & 0o077
        ? fail('data folder', `${dir} is writable but readable by others (mode ${mode.toString(8)})`, `chmod 700 '${dir}' (the bot also does this at start)`)
        : pass('data folder', `${dir} is writable and private (mode ${mode.toString(8)})`),
    );
  } catch (err) {
    return [fail('data folder', `${dir}: ${errorText(err)}`, 'set DATA_DIR to a folder the bot\'s user can write')];
  }
  const stat = fs.statfsSync(dir);
  const free = stat.bavail * stat.bsize;
  const gib = (free / 1024 ** 3).toFixed(1);
  out.push(
    free >= MIN_FREE_BYTES
      ? pass('disk space', `${gib} GiB free for ${dir}`)
      : fail('disk space', `only ${gib} GiB free for ${dir}`, 'free disk space, or remove old runs with "chatops runs remove" (their worktrees go too)'),
  );
  return out;
}

async function checkSandbox(config: Config): Promise<CheckResult> {
  if (config.sandbox.mode === 'off') return pass('sandbox', 'off (AGENT_SANDBOX=off): the agent runs unconfined as the bot\'s user; see docs/threat-model.md');
  const problem = await Sandbox.probe();
  if (problem === null) return pass('sandbox', 'bubblewrap works: agents and playtests run sandboxed');
  return fail('sandbox', `${problem}; the agent would run WITHOUT a sandbox`, 'apt-get install bubblewrap (and allow unprivileged user namespaces), or set AGENT_SANDBOX=off to accept running unconfined');
}

async function checkAgent(config: Config, logger: Logger): Promise<CheckResult> {
  // Started as a run would start it: in the sandbox when one is used.
  const sandbox = config.sandbox.mode === 'off' || (await Sandbox.probe()) !== null ? null : new Sandbox({ ...sandboxLayout(config), bwrap: 'bwrap' });
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'chatops-doctor-'));
  try {
    const driver = new PiDriver({ command: config.agentCommand, args: config.agentArgs, agentDir: config.piAgentDir, env: config.agentEnv, logger, sandbox });
    const { model, available } = await driver.probeModels(scratch, path.join(scratch, 'probe.jsonl'));
    if (model === null || !available.includes(model)) {
      return fail(
        'agent and model',
        model === null ? 'pi started but has no model with a key' : `pi started; its model ${model} has no key (models with keys: ${available.join(', ') || 'none'})`,
        "set the provider's key (e.g. ANTHROPIC_API_KEY) and AGENT_ARGS (--provider … --model …), or models.json/settings.json in PI_CODING_AGENT_DIR; see .env.example",
      );
    }
    return pass('agent and model', `pi starts and uses ${model}`);
  } catch (err) {
    return fail('agent and model', errorText(err), 'see the error; AGENT_COMMAND/AGENT_ARGS/PI_CODING_AGENT_DIR in .env.example');
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

async function platformChecks(config: Config): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  if (config.discord) {
    const { discordDoctorChecks } = await import('../bots/discord/doctor-checks.js');
    out.push(...(await discordDoctorChecks(config.discord)));
  }
  if (config.slack) {
    const { slackDoctorChecks } = await import('../bots/slack/doctor-checks.js');
    out.push(...(await slackDoctorChecks(config.slack)));
  }
  return out;
}

/** Every check, in order; a config that does not validate stops the rest. */
export async function runChecks(env: NodeJS.ProcessEnv | undefined, cwd: string | undefined, logger: Logger = silentLogger()): Promise<CheckResult[]> {
  let config: Config;
  try {
    config = loadConfig(env, cwd);
  } catch (err) {
    return [fail('config', errorText(err), 'fix the variables named above (.env.example documents each)')];
  }
  const results = [pass('config', 'every variable validates')];
  results.push(await checkRepo(config));
  results.push(...checkDataDir(config));
  results.push(await checkSandbox(config));
  results.push(await checkAgent(config, logger));
  results.push(...(await platformChecks(config)));
  return results;
}

export function formatResults(results: CheckResult[]): string {
  return results.map((r) => `${r.ok ? '✓' : '✗'} ${r.name}: ${r.detail}${r.ok || !r.fix ? '' : `\n    fix: ${r.fix}`}`).join('\n');
}
