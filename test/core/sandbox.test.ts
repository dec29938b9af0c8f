/**
 * The agent's sandbox with the real bwrap, the real pi and the scripted model. An agent tool
 * walks its parent processes printing their environment, and reads the bot's folder, a `.env`
 * in the repository, the database and another run's session: with the sandbox none of it is
 * there (without it, the same tool finds the test process's environment, which shows the probe
 * works). Skipped, with the reason printed, where bwrap cannot run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunEngine } from '../../src/core/engine.js';
import { aliveOf, processTree } from '../../src/core/process-tree.js';
import { bwrapArgs, Sandbox } from '../../src/core/sandbox.js';
import { createLogger } from '../../src/logger.js';
import { makeHarness, type Harness } from '../support/engine-harness.js';
import { MockLlm, messageText } from '../support/mock-llm.js';
import { git, makeTempDir, useTempDirs } from '../support/temp.js';

useTempDirs();

const BOT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const problem = await Sandbox.probe();
if (problem) console.warn(`sandbox tests skipped: bwrap does not run here (${problem}); install the package "bubblewrap"`);

let llm: MockLlm;
const open: RunEngine[] = [];
beforeAll(async () => {
  llm = await MockLlm.start();
});
afterAll(async () => {
  await llm.close();
});
afterEach(async () => {
  for (const e of open.splice(0)) await e.close();
  llm.reset();
});

async function harness(sandbox: 'bwrap' | 'off'): Promise<Harness> {
  const h = await makeHarness(llm, { env: { AGENT_SANDBOX: sandbox } });
  open.push(h.engine);
  h.engine.cards.add({ id: 'card-1', title: 'Look around', body: 'x' });
  return h;
}

/** Runs `command` as the agent's one bash call and returns what the tool printed. */
async function agentOutput(h: Harness, command: string): Promise<string> {
  llm.respond((req) => (req.messages.at(-1)?.role === 'tool' ? { text: 'done' } : { toolCalls: [{ name: 'bash', arguments: { command } }] }));
  const run = await h.engine.manager.start({ cardId: 'card-1', startedBy: 'test' });
  const done = await h.engine.manager.waitForSettled(run.id);
  expect(done.status).toBe('succeeded');
  const tool = llm.requests.at(-1)!.messages.at(-1)!;
  expect(tool.role).toBe('tool');
  return messageText(tool);
}

/** Every `NAME=value` of this test process's own environment that the agent must not get. */
function ownEnvironEntries(allowed: Record<string, string>): string[] {
  return fs
    .readFileSync('/proc/self/environ', 'utf8')
    .split('\0')
    .filter((e) => e.includes('=') && e.split('=')[1]!.length >= 6 && !(e.split('=')[0]! in allowed));
}

const WALK_PARENTS = [
  'p=$$',
  'while [ "$p" -gt 1 ] 2>/dev/null; do echo "== pid $p $(cat /proc/$p/comm)"; tr "\\0" "\\n" < /proc/$p/environ; p=$(cut -d" " -f4 /proc/$p/stat); done',
  `echo "== bot pid ${process.pid}"; tr "\\0" "\\n" < /proc/${process.pid}/environ`,
  'echo "== processes: $(ls /proc | grep -cE "^[0-9]+$")"',
].join('\n');

describe.skipIf(problem !== null)('the agent sandbox (bubblewrap)', () => {
  it('without the sandbox the probe does find the bot process environment (the probe works)', async () => {
    const h = await harness('off');
    const out = await agentOutput(h, WALK_PARENTS);
    const leaked = ownEnvironEntries(h.config.agentEnv).filter((e) => out.includes(e));
    expect(leaked.length).toBeGreaterThan(0);
  });

  it('an agent walking its parents and reading the bot folder, .env, database and other sessions finds none of them', async () => {
    const h = await harness('bwrap');
    fs.writeFileSync(path.join(h.repo, '.env'), 'TEAM_SECRET=repo-dotenv-secret-value\n');
    const other = path.join(h.config.sessionsDir, 'other-run.jsonl');
    fs.writeFileSync(other, '{"type":"session","secret":"other-session-secret"}\n');
    const command = [
      WALK_PARENTS,
      `cat '${path.join(BOT_DIR, 'package.json')}' '${path.join(BOT_DIR, '.env')}' '${path.join(process.cwd(), 'package.json')}'`,
      `cat '${path.join(h.repo, '.env')}' '${path.join(h.repo, 'README.md')}'`,
      `head -c 16 '${h.config.dbFile}'`,
      `cat '${other}'`,
      `ls -a '${h.config.dataDir}' '${h.config.sessionsDir}'`,
      'echo "== home: $(ls -A "$HOME" | tr "\\n" " ")"',
      'echo "== tmp: $(ls -A /tmp | tr "\\n" " ")"',
      'echo "== end"',
    ].join('\n');
    const out = await agentOutput(h, command);

    expect(out).toContain('== end');
    expect(out).toMatch(/== processes: [1-9]\b/); // a handful: its own pid namespace
    for (const entry of ownEnvironEntries(h.config.agentEnv)) expect(out).not.toContain(entry);
    for (const text of ['chatops-agent-bot', 'repo-dotenv-secret-value', '# test repo', 'SQLite format 3', 'other-session-secret']) {
      expect(out).not.toContain(text);
    }
    expect(out).not.toMatch(/^(chatops\.sqlite|other-run\.jsonl)$/m);
    // HOME and /tmp are empty but for the mount points of what was bound into them (git identity, the run's folders).
    const home = /== home: (.*)/.exec(out)![1]!.trim().split(' ').filter(Boolean);
    expect(home.every((f) => ['.gitconfig', '.config'].includes(f))).toBe(true);
    const tmp = /== tmp: (.*)/.exec(out)![1]!.trim().split(' ').filter(Boolean);
    // A checkout under /tmp (a CI clone) shows as the mount point of the read-only pi and node binds.
    const botTop = BOT_DIR.startsWith('/tmp/') ? BOT_DIR.split('/')[2] : null;
    expect(tmp.filter((f) => !f.startsWith('chatops-') && f !== botTop)).toEqual([]);
  });

  it('the agent can commit on its branch but not change the repository git config or hooks', async () => {
    const h = await harness('bwrap');
    const common = path.join(h.repo, '.git');
    const command = [
      "echo 'inside' > inside.txt && git add -A && git commit -q -m 'sandboxed commit' && echo committed",
      `echo 'echo pwned' > '${common}/hooks/post-checkout' 2>/dev/null && echo hook-written || echo hook-refused`,
      `git config --file '${common}/config' core.fsmonitor 'touch /tmp/pwned' 2>/dev/null && echo config-written || echo config-refused`,
    ].join('\n');
    const out = await agentOutput(h, command);
    expect(out).toContain('committed');
    expect(out).toContain('hook-refused');
    expect(out).toContain('config-refused');
    const run = h.engine.manager.list()[0]!;
    expect(await git(h.repo, ['log', '-1', '--format=%s', run.branch!])).toBe('sandboxed commit');
    expect(fs.existsSync(path.join(common, 'hooks', 'post-checkout'))).toBe(false);
  });

  it('a playtest runs sandboxed too: in the worktree, without the database', async () => {
    const dataDir = path.join(makeTempDir('chatops-data-'), 'data');
    const db = path.join(dataDir, 'chatops.sqlite');
    const h = await makeHarness(llm, {
      dataDir,
      env: { AGENT_SANDBOX: 'bwrap', PLAYTEST_COMMAND: `pwd; head -c 16 '${db}'; echo "procs $(ls /proc | grep -cE '^[0-9]+$')"` },
    });
    open.push(h.engine);
    h.engine.cards.add({ id: 'card-1', title: 'Play', body: 'x' });
    await agentOutput(h, 'echo ready');
    const run = h.engine.manager.list()[0]!;
    const exited = new Promise<string>((resolve) => {
      const off = h.engine.manager.subscribe((e) => {
        if (e.data.type === 'playtest' && e.data.phase === 'exited') {
          off();
          resolve(e.data.text);
        }
      });
    });
    await h.engine.manager.startPlaytest(run.id, 'test');
    const text = await exited;
    expect(h.config.dbFile).toBe(db);
    expect(text).toContain(run.worktreePath!);
    expect(text).toContain('No such file or directory');
    expect(text).not.toContain('SQLite format 3');
    expect(text).toMatch(/procs [1-9]\b/);
  });

  it('a stop during a tool ends the whole sandboxed tree: bwrap, pi and the tool', async () => {
    const h = await harness('bwrap');
    llm.respond((req) =>
      req.messages.at(-1)?.role === 'tool' ? { text: 'unexpected' } : { toolCalls: [{ name: 'bash', arguments: { command: `sleep 60 & ${llm.signalCommand('sleeping')}; wait` } }] },
    );
    const run = await h.engine.manager.start({ cardId: 'card-1', startedBy: 'test' });
    await llm.waitForSignal('sleeping');
    const tree = processTree(process.pid).filter((pid) => fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep');
    expect(tree.length).toBeGreaterThan(0);
    expect(await h.engine.manager.stop(run.id, 'test')).toBe(true);
    expect(h.engine.manager.get(run.id)!.status).toBe('stopped');
    expect(aliveOf(tree)).toEqual([]);
    expect(processTree(process.pid).filter((pid) => /^(bwrap|sleep)$/.test(fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim()))).toEqual([]);
  });

  it('a refinement resumes its own session inside the sandbox', async () => {
    const h = await harness('bwrap');
    const first = await agentOutput(h, 'echo first');
    expect(first).toContain('first');
    const parent = h.engine.manager.list()[0]!;
    llm.respond(() => ({ text: 'refined' }));
    const refine = await h.engine.manager.refine({ runId: parent.id, prompt: 'again', startedBy: 'test' });
    const done = await h.engine.manager.waitForSettled(refine.id);
    expect(done).toMatchObject({ status: 'succeeded', summary: 'refined' });
    expect(llm.requests.at(-1)!.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool', 'assistant', 'user']);
  });
});

describe('Sandbox.detect without a working bwrap', () => {
  const layout = { botDirs: [], dataDir: '/d', worktreesDir: '/d/w', repoRoot: '/r', piAgentDir: '/p', programPaths: [], rw: [], ro: [] };
  async function withoutBwrap<T>(fn: () => Promise<T>): Promise<T> {
    const saved = process.env.PATH;
    process.env.PATH = makeTempDir('chatops-empty-path-');
    try {
      return await fn();
    } finally {
      process.env.PATH = saved;
    }
  }

  it('AGENT_SANDBOX=bwrap refuses to start and says how to install bubblewrap', async () => {
    const err = await withoutBwrap(() => Sandbox.detect({ mode: 'bwrap', rw: [], ro: [] }, layout, createLogger('silent')).catch((e: unknown) => e));
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('bwrap is not installed') });
    expect((err as Error).message).toContain('apt-get install bubblewrap');
  });

  it('AGENT_SANDBOX=auto runs unsandboxed with a warning, and off never probes', async () => {
    let logged = '';
    const logger = createLogger('warn', new Writable({ write: (c, _e, cb) => ((logged += String(c)), cb()) }));
    expect(await withoutBwrap(() => Sandbox.detect({ mode: 'auto', rw: [], ro: [] }, layout, logger))).toBeNull();
    expect(logged).toContain('the agent runs WITHOUT a sandbox');
    expect(await Sandbox.detect({ mode: 'off', rw: [], ro: [] }, layout, logger)).toBeNull();
  });
});

describe('bwrapArgs', () => {
  it('hides the bot folders first and binds the run folders over them, config and hooks of a checkout read-only', () => {
    const repo = makeTempDir('chatops-sbx-');
    fs.mkdirSync(path.join(repo, '.git', 'hooks'), { recursive: true });
    fs.writeFileSync(path.join(repo, '.git', 'config'), '');
    const layout = { bwrap: 'bwrap', botDirs: ['/srv/bot'], dataDir: path.join(repo, '.chatops'), worktreesDir: path.join(repo, '.chatops', 'wt'), repoRoot: repo, piAgentDir: '/nonexistent', programPaths: [], rw: [], ro: [] };
    const args = bwrapArgs(layout, { cwd: repo, env: { HOME: '/home/bot', PATH: '/usr/bin' } });
    const joined = args.join(' ');
    expect(args.slice(0, 4)).toEqual(['--die-with-parent', '--unshare-pid', '--unshare-ipc', '--new-session']);
    expect(joined).toContain('--tmpfs /srv/bot');
    expect(joined).toContain('--tmpfs /home/bot');
    expect(joined.indexOf(`--tmpfs ${repo}`)).toBeLessThan(joined.indexOf(`--bind ${repo} ${repo}`));
    expect(joined.indexOf(`--bind ${repo} ${repo}`)).toBeLessThan(joined.indexOf(`--tmpfs ${layout.dataDir}`, joined.indexOf(`--bind ${repo} ${repo}`)));
    expect(joined).toContain(`--ro-bind-try ${repo}/.git/config ${repo}/.git/config`);
    expect(joined).toContain(`--ro-bind-try ${repo}/.git/hooks ${repo}/.git/hooks`);
    expect(joined).not.toContain('--share-net');
    expect(joined).not.toContain('--unshare-net');
  });
});
