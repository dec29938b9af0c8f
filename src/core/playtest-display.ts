/**
 * The X display a playtest draws on (PLAYTEST_DISPLAY): the bot's own (host), or a virtual X
 * server per playtest (Xvfb, Debian/Ubuntu package `xvfb`) that is stopped with it. Xvfb picks a
 * free display number itself and tells it through `-displayfd`, so two playtests never share a
 * display and never race for a number.
 *
 * A virtual display has no GPU: the game gets the software-rendering environment a Bevy/wgpu game
 * needs (Mesa's lavapipe Vulkan driver, llvmpipe for OpenGL), unless the team's own environment
 * (AGENT_ENV) already sets those variables.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { execa } from 'execa';
import type { Logger } from 'pino';
import type { PlaytestConfig } from '../config-playtest.js';
import { UserError } from './errors.js';
import { processTree, signalTree } from './process-tree.js';
import { PRIVATE_FILE_MODE } from './private-files.js';

/** Set on a virtual display only, and only when the playtest's environment does not set them. */
export const SOFTWARE_RENDERING_ENV: Readonly<Record<string, string>> = {
  // wgpu (Bevy's renderer) on Vulkan: Mesa's lavapipe (mesa-vulkan-drivers) presents to Xvfb.
  WGPU_BACKEND: 'vulkan',
  // OpenGL/EGL (wgpu's GL backend, other engines): Mesa's llvmpipe (libgl1-mesa-dri, libegl1).
  LIBGL_ALWAYS_SOFTWARE: '1',
  // winit must not look for a Wayland compositor that is not there.
  WINIT_UNIX_BACKEND: 'x11',
};

export interface PlaytestDisplay {
  /** `:N`, or null when the playtest runs without a display. */
  name: string | null;
  /** Whether it is this playtest's own virtual server (then the whole screen is the game's). */
  virtual: boolean;
  width: number | null;
  height: number | null;
  /** Variables for the game's environment (DISPLAY, XAUTHORITY, software rendering). */
  env: Record<string, string>;
  /** What the thread is told about the display when it matters (e.g. none at all). */
  note: string | null;
  /** The virtual server's pid (recorded for crash recovery); null for the host's display or none. */
  pid: number | null;
  /** Stops the virtual server (nothing for the host's); safe to call twice. */
  close(): Promise<void>;
  /** Last resort on process exit: SIGKILL the virtual server. */
  killSync(): void;
}

const XVFB_START_MS = 10_000;
const XVFB_STOP_MS = 3_000;

function none(note: string | null): PlaytestDisplay {
  return { name: null, virtual: false, width: null, height: null, env: {}, note, pid: null, close: async () => {}, killSync: () => {} };
}

/**
 * Opens the display the configuration asks for. Throws UserError('PLAYTEST') when it cannot:
 * `xvfb` without a working Xvfb, `host` without a DISPLAY.
 */
export async function openDisplay(
  config: Pick<PlaytestConfig, 'display' | 'hostDisplay' | 'resolution'>,
  gameEnv: Record<string, string>,
  /** Where a virtual display's access cookie is written (0600). */
  authFile: string,
  log: Logger,
): Promise<PlaytestDisplay> {
  if (config.display === 'off') return none(null);
  if (config.display === 'host' || (config.display === 'auto' && config.hostDisplay)) {
    if (!config.hostDisplay) throw new UserError('PLAYTEST', 'PLAYTEST_DISPLAY=host but the bot has no DISPLAY; use PLAYTEST_DISPLAY=xvfb');
    return { ...none(null), name: config.hostDisplay.DISPLAY, env: { ...config.hostDisplay } };
  }
  try {
    return await startXvfb(config.resolution, gameEnv, authFile, log);
  } catch (err) {
    if (config.display === 'xvfb') throw err;
    log.warn({ err: (err as Error).message }, 'no virtual display for the playtest');
    return none(`No display: ${(err as Error).message}. The game runs without one, so there are no screenshots.`);
  }
}

function spawnXvfb(args: string[], searchPath: string) {
  return execa('Xvfb', args, {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    detached: true,
    cleanup: true,
    reject: false,
    env: { PATH: searchPath },
    extendEnv: false,
  });
}
type XvfbProcess = ReturnType<typeof spawnXvfb>;

/**
 * Writes an X authority file with one MIT-MAGIC-COOKIE-1 entry for any display (family
 * FamilyWild), so the server (`-auth`) admits only clients given this file (XAUTHORITY): another
 * playtest's game cannot open this display. Format: libXau's, big-endian length-prefixed fields.
 */
function writeCookie(file: string): void {
  const field = (b: Buffer) => Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
  const entry = Buffer.concat([Buffer.from([0xff, 0xff]), field(Buffer.alloc(0)), field(Buffer.alloc(0)), field(Buffer.from('MIT-MAGIC-COOKIE-1')), field(crypto.randomBytes(16))]);
  fs.writeFileSync(file, entry, { mode: PRIVATE_FILE_MODE });
}

async function startXvfb(res: { width: number; height: number }, gameEnv: Record<string, string>, authFile: string, log: Logger): Promise<PlaytestDisplay> {
  writeCookie(authFile);
  const args = ['-displayfd', '3', '-auth', authFile, '-screen', '0', `${res.width}x${res.height}x24`, '-nolisten', 'tcp', '-noreset'];
  let server: XvfbProcess;
  try {
    server = spawnXvfb(args, gameEnv.PATH ?? '/usr/bin:/bin');
  } catch (err) {
    throw new UserError('PLAYTEST', `Xvfb could not start (${(err as Error).message}); install it: apt-get install xvfb`);
  }
  const number = await new Promise<string>((resolve, reject) => {
    let text = '';
    const fd3 = server.stdio[3] as NodeJS.ReadableStream | undefined;
    const timer = setTimeout(() => reject(new Error('Xvfb did not report its display within 10s')), XVFB_START_MS);
    fd3?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) {
        clearTimeout(timer);
        resolve(text.trim());
      }
    });
    void server.then((r) => {
      clearTimeout(timer);
      const missing = (r as { code?: string }).code === 'ENOENT' || /ENOENT/.test(r.message ?? '');
      reject(missing ? new Error('Xvfb is not installed (apt-get install xvfb)') : new Error(`Xvfb exited (${r.exitCode ?? r.signal}): ${String(r.stderr ?? '').trim().split('\n').slice(-3).join(' ')}`));
    });
  }).catch(async (err: Error) => {
    await stopServer(server);
    throw new UserError('PLAYTEST', `no virtual display: ${err.message}`);
  });
  const name = `:${number}`;
  log.info({ display: name, pid: server.pid }, 'virtual display started');
  const env: Record<string, string> = { DISPLAY: name, XAUTHORITY: authFile };
  for (const [k, v] of Object.entries(SOFTWARE_RENDERING_ENV)) if (gameEnv[k] === undefined) env[k] = v;
  let closing: Promise<void> | null = null;
  return {
    name,
    virtual: true,
    width: res.width,
    height: res.height,
    env,
    note: null,
    pid: server.pid ?? null,
    close: () => (closing ??= stopServer(server).then(() => log.info({ display: name }, 'virtual display stopped'))),
    killSync: () => {
      if (server.pid) signalTree(processTree(server.pid), 'SIGKILL');
    },
  };
}

/** SIGTERM to the server's tree, SIGKILL when it lingers; resolves once it has exited. */
async function stopServer(server: XvfbProcess): Promise<void> {
  const pid = server.pid;
  if (!pid) return;
  const tree = processTree(pid);
  signalTree(tree, 'SIGTERM');
  const timer = setTimeout(() => signalTree(tree, 'SIGKILL'), XVFB_STOP_MS);
  await server;
  clearTimeout(timer);
}
