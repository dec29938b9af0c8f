/**
 * The agent's and the playtest's sandbox: bubblewrap (`bwrap`, Debian/Ubuntu package
 * `bubblewrap`). `Sandbox.wrap` turns a command into `bwrap <mounts> -- command`, so the process
 * sees:
 *
 * - the system (/usr, /etc, /lib…), node and the agent program, read-only;
 * - the run's working directory and the git directories a commit needs (objects, refs, logs and
 *   the worktree's own admin folder) writable, the repository's `.git/config` and hooks read-only;
 * - its own session file (writable) and pi's config files (read-only) out of DATA_DIR, nothing
 *   else of it; nothing of the bot's folder (`.env`), of REPO_ROOT's checkout or of other runs;
 * - an empty private HOME and /tmp, its own pid namespace (no bot process to read `environ`
 *   from), and the network as it is (the model and package registries need it).
 *
 * `Sandbox.detect` decides at start-up from AGENT_SANDBOX: `auto` uses bwrap when it runs here,
 * `bwrap` insists on it, `off` never uses it. Mount order matters (later mounts cover earlier
 * ones), so hidden folders are covered with empty tmpfs first and what must show is bound over.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import type { Logger } from 'pino';
import { fileURLToPath } from 'node:url';
import type { Config, SandboxConfig } from '../config.js';
import { UserError, errorText } from './errors.js';

/** The bot's own folder (where its package.json is): hidden from sandboxed agents. */
const BOT_DIR = fileURLToPath(new URL('../..', import.meta.url));

/** System folders bound read-only (or re-created as the symlinks they are, e.g. /bin → usr/bin). */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/opt', '/nix'];

export interface SandboxLayout {
  bwrap: string;
  /** The bot's own folders: hidden from the sandbox. */
  botDirs: string[];
  dataDir: string;
  worktreesDir: string;
  repoRoot: string;
  /** pi's config folder, read-only inside. */
  piAgentDir: string;
  /** node, the agent program: read-only inside. */
  programPaths: string[];
  rw: string[];
  ro: string[];
}

export interface SandboxTarget {
  /** The run's working directory (its worktree, or the checkout for runs without one). */
  cwd: string;
  /** The run's pi session file (agent only). */
  sessionFile?: string;
  /** The environment the process gets (HOME and display variables are read from it). */
  env: Record<string, string>;
  /** Playtests get the display, GPU and sound devices. */
  display?: boolean;
  /** More folders writable / read-only inside (a playtest's shared cargo target, its copied game binary). */
  rw?: string[];
  ro?: string[];
}

function exists(p: string): boolean {
  return fs.existsSync(p);
}

/** `child` is `parent` or inside it. */
function within(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

const depth = (p: string) => p.split('/').filter(Boolean).length;

/** The outermost `node_modules` folder above `file`, else the file's folder. */
function programRoot(file: string): string {
  const parts = file.split(path.sep);
  const i = parts.indexOf('node_modules');
  return i > 0 ? parts.slice(0, i + 1).join(path.sep) : path.dirname(file);
}

/** `command` as the shell would find it on `searchPath` (absolute paths as they are). */
function resolveCommand(command: string, searchPath: string): string {
  if (command.includes('/')) return path.resolve(command);
  for (const dir of searchPath.split(':').filter(Boolean)) {
    const candidate = path.join(dir, command);
    if (exists(candidate)) return candidate;
  }
  return command;
}

/**
 * What a command needs to be readable inside: its file (or node_modules tree) and, for node, its
 * install prefix. A bare command name is looked up on `searchPath` (the agent's PATH).
 */
export function programPaths(command: string, args: readonly string[], searchPath = ''): string[] {
  const out: string[] = [];
  for (const p of [resolveCommand(command, searchPath), ...args]) {
    if (!path.isAbsolute(p) || !exists(p)) continue;
    const real = fs.realpathSync(p);
    out.push(programRoot(real));
    if (real === fs.realpathSync(process.execPath)) out.push(path.dirname(path.dirname(real)));
  }
  return [...new Set(out)];
}

/** What the sandbox hides and shows for this configuration (the bot's folder and the one it started in are hidden). */
export function sandboxLayout(config: Config): Omit<SandboxLayout, 'bwrap'> {
  return {
    botDirs: [BOT_DIR, process.cwd()],
    dataDir: config.dataDir,
    worktreesDir: config.worktreesDir,
    repoRoot: config.repoRoot,
    piAgentDir: config.piAgentDir,
    programPaths: programPaths(config.agentCommand, config.agentArgs, config.agentEnv.PATH),
    rw: config.sandbox.rw,
    ro: config.sandbox.ro,
  };
}

/** The git admin folder of a worktree (`.git` is a file `gitdir: …`) and the repository's common folder. */
function gitDirsOf(cwd: string): { gitDir: string; commonDir: string } | null {
  const dotGit = path.join(cwd, '.git');
  try {
    const stat = fs.statSync(dotGit);
    if (stat.isDirectory()) return { gitDir: dotGit, commonDir: dotGit };
    const m = /^gitdir:\s*(.+)\s*$/m.exec(fs.readFileSync(dotGit, 'utf8'));
    if (!m) return null;
    const gitDir = path.resolve(cwd, m[1]!);
    const common = fs.readFileSync(path.join(gitDir, 'commondir'), 'utf8').trim();
    return { gitDir, commonDir: path.resolve(gitDir, common) };
  } catch {
    return null;
  }
}

/** The bwrap arguments (without the command) for one process. */
export function bwrapArgs(layout: SandboxLayout, target: SandboxTarget): string[] {
  // A playtest keeps the host's SysV IPC: X11's shared-memory extension (MIT-SHM) needs it.
  const args = ['--die-with-parent', '--unshare-pid', ...(target.display ? [] : ['--unshare-ipc']), '--new-session', '--proc', '/proc', '--dev', '/dev'];
  const system: string[] = [];
  for (const dir of SYSTEM_DIRS) {
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(dir);
    } catch {
      continue;
    }
    if (stat.isSymbolicLink()) args.push('--symlink', fs.readlinkSync(dir), dir);
    else if (stat.isDirectory()) {
      args.push('--ro-bind', dir, dir);
      system.push(dir);
    }
  }
  const home = target.env.HOME;
  const hide = [...new Set(['/tmp', ...(home && home !== '/' ? [home] : []), ...layout.botDirs, layout.dataDir, layout.worktreesDir, layout.repoRoot])]
    .filter((p) => p !== '/' && !SYSTEM_DIRS.includes(p))
    .sort((a, b) => depth(a) - depth(b));
  for (const dir of hide) args.push('--tmpfs', dir);

  const binds: Array<{ flag: string; src: string }> = [];
  const add = (flag: string, src: string) => binds.push({ flag, src });
  for (const p of layout.programPaths) if (!system.some((s) => within(p, s))) add('--ro-bind', p);
  if (home) for (const f of ['.gitconfig', '.config/git']) add('--ro-bind-try', path.join(home, f));
  // pi's config folder: its files read-only, the folder itself a scratch tmpfs (pi takes lock
  // folders next to settings.json; a change it tries to save fails and is gone after the run).
  if (exists(layout.piAgentDir)) {
    add('--tmpfs', layout.piAgentDir);
    for (const entry of fs.readdirSync(layout.piAgentDir)) add('--ro-bind', path.join(layout.piAgentDir, entry));
  }
  for (const p of layout.ro) add('--ro-bind-try', p);
  for (const p of layout.rw) add('--bind-try', p);
  add('--bind', target.cwd);
  const git = gitDirsOf(target.cwd);
  const protect: string[] = [];
  if (git && git.gitDir !== git.commonDir) {
    add('--ro-bind', git.commonDir);
    for (const sub of ['objects', 'refs', 'logs']) add('--bind-try', path.join(git.commonDir, sub));
    add('--bind', git.gitDir);
  } else if (git) {
    protect.push(path.join(git.commonDir, 'config'), path.join(git.commonDir, 'hooks'));
  }
  if (target.sessionFile) add('--bind', target.sessionFile);
  for (const p of target.ro ?? []) add('--ro-bind-try', p);
  for (const p of target.rw ?? []) add('--bind-try', p);
  binds.sort((a, b) => depth(a.src) - depth(b.src));
  for (const b of binds) args.push(...(b.flag === '--tmpfs' ? [b.flag, b.src] : [b.flag, b.src, b.src]));
  // A run in the checkout itself: the bot's folders inside it stay hidden, its git config and hooks read-only.
  for (const dir of [layout.dataDir, layout.worktreesDir]) if (within(dir, target.cwd) && dir !== target.cwd) args.push('--tmpfs', dir);
  for (const p of protect) args.push('--ro-bind-try', p, p);

  if (target.display) args.push(...displayArgs(target.env));
  if (target.env.TMPDIR) args.push('--setenv', 'TMPDIR', '/tmp');
  args.push('--chdir', target.cwd);
  return args;
}

/** X11, Wayland, GPU and sound for a playtest. */
function displayArgs(env: Record<string, string>): string[] {
  const args: string[] = [];
  if (env.DISPLAY) args.push('--ro-bind-try', '/tmp/.X11-unix', '/tmp/.X11-unix');
  if (env.XAUTHORITY) args.push('--ro-bind-try', env.XAUTHORITY, env.XAUTHORITY);
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime) {
    for (const name of [env.WAYLAND_DISPLAY, 'pulse', 'pipewire-0']) if (name) args.push('--bind-try', path.join(runtime, name), path.join(runtime, name));
  }
  args.push('--dev-bind-try', '/dev/dri', '/dev/dri', '--dev-bind-try', '/dev/snd', '/dev/snd');
  return args;
}

export class Sandbox {
  constructor(readonly layout: SandboxLayout) {}

  /**
   * The sandbox AGENT_SANDBOX asks for, or null for none. `auto` without a working bwrap logs a
   * warning and returns null; `bwrap` without one throws a UserError saying how to install it.
   */
  static async detect(config: SandboxConfig, layout: Omit<SandboxLayout, 'bwrap'>, logger: Logger): Promise<Sandbox | null> {
    if (config.mode === 'off') return null;
    const problem = await Sandbox.probe();
    if (problem === null) return new Sandbox({ ...layout, bwrap: 'bwrap' });
    const fix = 'install the Debian/Ubuntu package "bubblewrap" (apt-get install bubblewrap) and check that unprivileged user namespaces are allowed';
    if (config.mode === 'bwrap') throw new UserError('CONFIG_INVALID', `AGENT_SANDBOX=bwrap but the sandbox does not work: ${problem}. Fix: ${fix}, or set AGENT_SANDBOX=auto/off (see .env.example)`);
    logger.warn({ problem }, `the agent runs WITHOUT a sandbox (AGENT_SANDBOX=auto): ${problem}. To sandbox it, ${fix}; see docs/threat-model.md`);
    return null;
  }

  /** Null when `bwrap` runs here, else what went wrong. */
  static async probe(): Promise<string | null> {
    try {
      const r = await execa('bwrap', ['--ro-bind', '/', '/', '--unshare-pid', '--die-with-parent', 'true'], { reject: false, timeout: 10_000, stdin: 'ignore' });
      if (r.exitCode === 0) return null;
      if ((r as { code?: string }).code === 'ENOENT' || /ENOENT/.test(r.message ?? '')) return 'bwrap is not installed';
      return `bwrap failed (${r.exitCode ?? r.signal ?? 'no exit code'}): ${r.stderr.trim() || errorText(r.message)}`;
    } catch (err) {
      return errorText(err);
    }
  }

  /**
   * The command and arguments that run `command args` inside the sandbox. A session file that
   * does not exist yet is created empty (0600) so it can be bound; pi then starts a new session in it.
   */
  wrap(command: string, args: readonly string[], target: SandboxTarget): { command: string; args: string[] } {
    if (target.sessionFile && !exists(target.sessionFile)) fs.writeFileSync(target.sessionFile, '', { mode: 0o600 });
    const authFile = path.join(this.layout.piAgentDir, 'auth.json');
    // pi creates auth.json at start-up; inside, its folder is read-only.
    if (exists(this.layout.piAgentDir) && !exists(authFile)) fs.writeFileSync(authFile, '{}', { mode: 0o600 });
    return { command: this.layout.bwrap, args: [...bwrapArgs(this.layout, target), '--', command, ...args] };
  }
}
