/**
 * One playtest's camera: the first capture once the game shows a window (or after
 * PLAYTEST_CAPTURE_AFTER), with a clip when PLAYTEST_CLIP is set, and the screenshots asked for
 * later (📸). Files go to DATA_DIR/playtests/<runId>/<n>-<k>.png / <n>-clip-<k>.mp4 (0600).
 */
import path from 'node:path';
import type { Duration } from '../config-limits.js';
import { type CaptureTools, type MediaFile, recordClip, screenshot, visibleWindows, waitForWindow } from './playtest-capture.js';
import type { PlaytestDisplay } from './playtest-display.js';

/** How long after the game's window shows the first screenshot is taken. */
const SETTLE_MS = 500;

export interface CameraSettings {
  captureAfter: Duration;
  clip: Duration | null;
}

export class PlaytestCamera {
  private baseline: Set<string> | null = null;
  private windowId: string | null = null;
  private count = 0;

  constructor(
    private readonly display: PlaytestDisplay,
    private readonly tools: CaptureTools,
    private readonly settings: CameraSettings,
    /** The playtest's folder and its number in it (the log is `<n>.log`). */
    private readonly dir: string,
    private readonly n: number,
    /** Names the files get in chat: `<prefix>-<n>-<k>.png`. */
    private readonly prefix: string,
  ) {}

  get hasDisplay(): boolean {
    return this.display.name !== null;
  }

  /** Notes the windows already there before the game starts (the host's desktop; Xvfb's root). */
  async before(): Promise<void> {
    this.baseline = await visibleWindows(this.display, this.tools).catch(() => null);
  }

  /**
   * Waits for the game's window (or PLAYTEST_CAPTURE_AFTER), then takes a screenshot and, when
   * PLAYTEST_CLIP is set, a clip. Null when `signal` aborted first (the playtest ended).
   */
  async first(signal: AbortSignal): Promise<{ files: MediaFile[]; note: string | null } | null> {
    const started = Date.now();
    this.windowId = await waitForWindow(this.display, this.tools, this.baseline, this.settings.captureAfter.ms, signal);
    if (signal.aborted) return null;
    // A game draws its first frames after its window shows.
    if (this.windowId) await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    if (signal.aborted) return null;
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const note = this.windowId
      ? `The game showed its window after ${seconds}s.`
      : this.baseline
        ? `No game window was seen within ${this.settings.captureAfter.text} (PLAYTEST_CAPTURE_AFTER); this is the screen at that time.`
        : `Captured after ${this.settings.captureAfter.text} (PLAYTEST_CAPTURE_AFTER): install xdotool to capture as soon as the game shows its window.`;
    const files = [await this.shot()];
    if (this.settings.clip && !signal.aborted) {
      const k = this.count;
      files.push(await recordClip(this.display, this.tools, this.windowId, this.settings.clip.ms / 1000, path.join(this.dir, `${this.n}-clip-${k}.mp4`), `${this.prefix}-${this.n}-${k}.mp4`));
    }
    return { files, note };
  }

  /** One more screenshot (📸). */
  async shot(): Promise<MediaFile> {
    this.count += 1;
    const k = this.count;
    return screenshot(this.display, this.tools, this.windowId, path.join(this.dir, `${this.n}-${k}.png`), `${this.prefix}-${this.n}-${k}.png`);
  }
}
