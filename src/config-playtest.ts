/**
 * The playtest's display, capture and build settings (issue 11). `loadConfig` hands the raw
 * strings in; every bad value names its variable and what to write instead.
 */
import path from 'node:path';
import { collecting, parseDuration, type Duration } from './config-limits.js';

export type PlaytestDisplayMode = 'auto' | 'xvfb' | 'host' | 'off';

export interface PlaytestConfig {
  /** auto: the host's DISPLAY when set, else a virtual X server (Xvfb) per playtest; off: none. */
  display: PlaytestDisplayMode;
  /** The bot's own DISPLAY and XAUTHORITY (null when it has no DISPLAY). */
  hostDisplay: { DISPLAY: string; XAUTHORITY?: string } | null;
  /** The virtual display's size. */
  resolution: { width: number; height: number };
  /** Capture this long after the game started when no window was detected. */
  captureAfter: Duration;
  /** Length of the video clip captured with the first screenshots; null: no clip. */
  clip: Duration | null;
  /** The cargo target folder every run's build shares (null: each worktree's own `target/`). */
  cargoTargetDir: string | null;
  /** Where logs, screenshots, clips and the copied game binaries go (DATA_DIR/playtests). */
  filesDir: string;
}

export type PlaytestEnv = Partial<
  Record<'PLAYTEST_DISPLAY' | 'PLAYTEST_RESOLUTION' | 'PLAYTEST_CAPTURE_AFTER' | 'PLAYTEST_CLIP' | 'PLAYTEST_CARGO_TARGET_DIR' | 'DISPLAY' | 'XAUTHORITY', string>
>;

export const PLAYTEST_DEFAULTS = {
  PLAYTEST_DISPLAY: 'auto',
  PLAYTEST_RESOLUTION: '1280x720',
  PLAYTEST_CAPTURE_AFTER: '20s',
  PLAYTEST_CLIP: 'off',
  PLAYTEST_CARGO_TARGET_DIR: 'shared',
} as const;

/** A clip longer than this would not fit any chat's upload limit. */
const MAX_CLIP_MS = 60_000;

/** Returns the settings, or throws an Error whose message lists every bad variable. */
export function parsePlaytestConfig(env: PlaytestEnv, dataDir: string): PlaytestConfig {
  const problems: string[] = [];
  const v = (name: keyof typeof PLAYTEST_DEFAULTS): string => env[name]?.trim() || PLAYTEST_DEFAULTS[name];

  const display = v('PLAYTEST_DISPLAY');
  if (display !== 'auto' && display !== 'xvfb' && display !== 'host' && display !== 'off') {
    problems.push(`PLAYTEST_DISPLAY must be auto, xvfb, host or off (got "${display}")`);
  }
  const hostDisplay = env.DISPLAY?.trim() ? { DISPLAY: env.DISPLAY.trim(), ...(env.XAUTHORITY?.trim() ? { XAUTHORITY: env.XAUTHORITY.trim() } : {}) } : null;
  if (display === 'host' && !hostDisplay) {
    problems.push('PLAYTEST_DISPLAY=host but the bot has no DISPLAY: start it in an X session, or use PLAYTEST_DISPLAY=auto or xvfb (a virtual display)');
  }

  const res = /^(\d{2,5})x(\d{2,5})$/.exec(v('PLAYTEST_RESOLUTION'));
  const resolution = res ? { width: Number(res[1]), height: Number(res[2]) } : { width: 0, height: 0 };
  if (!res || resolution.width < 64 || resolution.height < 64 || resolution.width > 7680 || resolution.height > 4320) {
    problems.push(`PLAYTEST_RESOLUTION must be WIDTHxHEIGHT between 64x64 and 7680x4320, e.g. 1280x720 (got "${v('PLAYTEST_RESOLUTION')}")`);
  }

  const take = collecting(problems);
  const captureAfter = take(() => parseDuration('PLAYTEST_CAPTURE_AFTER', v('PLAYTEST_CAPTURE_AFTER'), 60 * 60_000), { ms: 1, text: '' });
  const clipText = v('PLAYTEST_CLIP');
  const clip = ['off', 'none', '0'].includes(clipText.toLowerCase()) ? null : take(() => parseDuration('PLAYTEST_CLIP', clipText, MAX_CLIP_MS), null);

  const target = v('PLAYTEST_CARGO_TARGET_DIR');
  let cargoTargetDir: string | null = null;
  if (target === 'shared') cargoTargetDir = path.join(dataDir, 'cargo-target');
  else if (path.isAbsolute(target)) cargoTargetDir = path.resolve(target);
  else if (target !== 'off') problems.push(`PLAYTEST_CARGO_TARGET_DIR must be shared, off or an absolute path (got "${target}")`);

  if (problems.length > 0) throw new Error(problems.join('\n  '));
  return {
    display: display as PlaytestDisplayMode,
    hostDisplay,
    resolution,
    captureAfter,
    clip,
    cargoTargetDir,
    filesDir: path.join(dataDir, 'playtests'),
  };
}
