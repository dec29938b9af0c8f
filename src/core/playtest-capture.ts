/**
 * What a playtest's screen looks like: window detection (xdotool, package `xdotool`), PNG
 * screenshots (ImageMagick's `import`, package `imagemagick`; ffmpeg's x11grab when only ffmpeg is
 * there) and H.264 MP4 clips (ffmpeg, package `ffmpeg`), all through execa.
 *
 * On the playtest's own virtual display the whole screen is the game's, so the root window is
 * captured. On the host's display only the game's own window is (never the rest of someone's
 * desktop), so nothing is captured there until the game shows a window.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { UserError } from './errors.js';
import type { PlaytestDisplay } from './playtest-display.js';
import { PRIVATE_FILE_MODE } from './private-files.js';

export interface MediaFile {
  path: string;
  name: string;
  kind: 'screenshot' | 'clip';
  contentType: 'image/png' | 'video/mp4';
  bytes: number;
}

export interface CaptureTools {
  /** The PATH the tools were found on (and are run with). */
  searchPath: string;
  import: boolean;
  ffmpeg: boolean;
  xdotool: boolean;
}

const TOOL_MS = 30_000;
const POLL_MS = 200;

/** Whether an executable `command` is on `searchPath`. */
function onPath(command: string, searchPath: string): boolean {
  return searchPath.split(':').some((dir) => {
    try {
      fs.accessSync(path.join(dir || '.', command), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Which capture tools this machine has (looked up on the bot's PATH). */
export function detectCaptureTools(searchPath: string): CaptureTools {
  return { searchPath, import: onPath('import', searchPath), ffmpeg: onPath('ffmpeg', searchPath), xdotool: onPath('xdotool', searchPath) };
}

function displayEnv(display: PlaytestDisplay, tools: CaptureTools): Record<string, string> {
  return { PATH: tools.searchPath, ...display.env };
}

/** Ids of the visible windows on the display, or null when they cannot be listed. */
export async function visibleWindows(display: PlaytestDisplay, tools: CaptureTools): Promise<Set<string> | null> {
  if (!display.name || !tools.xdotool) return null;
  const r = await execa('xdotool', ['search', '--onlyvisible', '--name', ''], { env: displayEnv(display, tools), extendEnv: false, reject: false, timeout: TOOL_MS, stdin: 'ignore' });
  // xdotool exits 1 when nothing matches.
  if (r.exitCode !== 0 && r.exitCode !== 1) return null;
  return new Set(String(r.stdout).split('\n').map((s) => s.trim()).filter(Boolean));
}

/**
 * Resolves with the id of the first visible window that was not in `baseline`, or null after
 * `timeoutMs`, when `signal` aborts, or when windows cannot be listed.
 */
export async function waitForWindow(display: PlaytestDisplay, tools: CaptureTools, baseline: Set<string> | null, timeoutMs: number, signal: AbortSignal): Promise<string | null> {
  if (!baseline) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
    return null;
  }
  const deadline = Date.now() + timeoutMs;
  while (!signal.aborted && Date.now() < deadline) {
    const now = await visibleWindows(display, tools);
    const fresh = now ? [...now].find((id) => !baseline.has(id)) : undefined;
    if (fresh) return fresh;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return null;
}

/** The part of the screen to capture: the whole virtual screen, or the game's window on the host. */
async function region(display: PlaytestDisplay, tools: CaptureTools, windowId: string | null): Promise<{ x: number; y: number; width: number; height: number } | null> {
  if (display.virtual && display.width && display.height) return { x: 0, y: 0, width: display.width, height: display.height };
  if (!windowId) return null;
  const r = await execa('xdotool', ['getwindowgeometry', '--shell', windowId], { env: displayEnv(display, tools), extendEnv: false, reject: false, timeout: TOOL_MS });
  const v = (k: string) => Number(new RegExp(`^${k}=(-?\\d+)$`, 'm').exec(String(r.stdout))?.[1] ?? NaN);
  const [x, y, width, height] = [v('X'), v('Y'), v('WIDTH'), v('HEIGHT')];
  return [x, y, width, height].every(Number.isFinite) && width > 0 && height > 0 ? { x: Math.max(0, x), y: Math.max(0, y), width, height } : null;
}

function media(file: string, name: string, kind: MediaFile['kind']): MediaFile {
  fs.chmodSync(file, PRIVATE_FILE_MODE);
  return { path: file, name, kind, contentType: kind === 'clip' ? 'video/mp4' : 'image/png', bytes: fs.statSync(file).size };
}

function toolFailure(what: string, r: { exitCode?: number; stderr?: unknown; message?: string }): UserError {
  const why = String(r.stderr ?? '').trim().split('\n').slice(-2).join(' ') || r.message || `exit ${r.exitCode}`;
  return new UserError('PLAYTEST', `${what} failed: ${why}`);
}

/** A PNG of the screen (virtual display) or of the game's window (host), written to `file`. */
export async function screenshot(display: PlaytestDisplay, tools: CaptureTools, windowId: string | null, file: string, name: string): Promise<MediaFile> {
  if (!display.name) throw new UserError('PLAYTEST', 'the playtest has no display to capture');
  if (!display.virtual && !windowId) throw new UserError('PLAYTEST', 'no game window was seen on the host display, and the bot does not post the rest of the screen');
  const env = displayEnv(display, tools);
  const opts = { env, extendEnv: false, reject: false, timeout: TOOL_MS, stdin: 'ignore' } as const;
  if (tools.import) {
    const r = await execa('import', ['-silent', '-window', display.virtual ? 'root' : windowId!, `png:${file}`], opts);
    if (r.exitCode !== 0) throw toolFailure('the screenshot (ImageMagick import)', r);
  } else if (tools.ffmpeg) {
    const area = await region(display, tools, windowId);
    if (!area) throw new UserError('PLAYTEST', 'could not tell where the game window is');
    const r = await execa('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'x11grab', '-video_size', `${area.width}x${area.height}`, '-i', `${display.name}+${area.x},${area.y}`, '-frames:v', '1', file], opts);
    if (r.exitCode !== 0) throw toolFailure('the screenshot (ffmpeg)', r);
  } else {
    throw new UserError('PLAYTEST', 'no screenshot tool: install ImageMagick (apt-get install imagemagick) or ffmpeg');
  }
  return media(file, name, 'screenshot');
}

/** An H.264 MP4 (yuv420p, plays everywhere) of `seconds` of the screen or the game's window. */
export async function recordClip(display: PlaytestDisplay, tools: CaptureTools, windowId: string | null, seconds: number, file: string, name: string): Promise<MediaFile> {
  if (!tools.ffmpeg) throw new UserError('PLAYTEST', 'PLAYTEST_CLIP is set but ffmpeg is not installed (apt-get install ffmpeg)');
  const area = display.name ? await region(display, tools, windowId) : null;
  if (!area) throw new UserError('PLAYTEST', 'no game window to record');
  // yuv420p needs even sizes.
  const size = `${area.width - (area.width % 2)}x${area.height - (area.height % 2)}`;
  const args = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'x11grab', '-draw_mouse', '0', '-framerate', '15', '-video_size', size, '-i', `${display.name}+${area.x},${area.y}`];
  args.push('-t', String(seconds), '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '28', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', file);
  const r = await execa('ffmpeg', args, { env: displayEnv(display, tools), extendEnv: false, reject: false, timeout: TOOL_MS + seconds * 1000, stdin: 'ignore' });
  if (r.exitCode !== 0) throw toolFailure('the clip (ffmpeg)', r);
  return media(file, name, 'clip');
}
