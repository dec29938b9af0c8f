import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

describe('playtest configuration', () => {
  it('defaults to auto display at 1280x720, capture after 20s, no clip and a shared cargo target in DATA_DIR', () => {
    const c = loadConfig({}, '/srv/game');
    expect(c.playtest).toEqual({
      display: 'auto',
      hostDisplay: null,
      resolution: { width: 1280, height: 720 },
      captureAfter: { ms: 20_000, text: '20s' },
      clip: null,
      cargoTargetDir: '/srv/game/.chatops/cargo-target',
      filesDir: '/srv/game/.chatops/playtests',
    });
  });

  it("reads the host's DISPLAY, the resolution, a clip length and another target folder", () => {
    const c = loadConfig(
      { DISPLAY: ':1', XAUTHORITY: '/home/a/.Xauthority', PLAYTEST_DISPLAY: 'host', PLAYTEST_RESOLUTION: '800x600', PLAYTEST_CAPTURE_AFTER: '45s', PLAYTEST_CLIP: '8s', PLAYTEST_CARGO_TARGET_DIR: '/cache/target' },
      '/r',
    );
    expect(c.playtest).toMatchObject({
      display: 'host',
      hostDisplay: { DISPLAY: ':1', XAUTHORITY: '/home/a/.Xauthority' },
      resolution: { width: 800, height: 600 },
      captureAfter: { ms: 45_000, text: '45s' },
      clip: { ms: 8000, text: '8s' },
      cargoTargetDir: '/cache/target',
    });
    expect(loadConfig({ PLAYTEST_CARGO_TARGET_DIR: 'off', PLAYTEST_CLIP: 'off' }, '/r').playtest).toMatchObject({ cargoTargetDir: null, clip: null });
  });

  it('names every bad playtest setting at once, with what to write instead', () => {
    const env = { PLAYTEST_DISPLAY: 'wayland', PLAYTEST_RESOLUTION: '1280*720', PLAYTEST_CAPTURE_AFTER: '20', PLAYTEST_CLIP: '5m', PLAYTEST_CARGO_TARGET_DIR: 'target' };
    let message = '';
    try {
      loadConfig(env, '/r');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('PLAYTEST_DISPLAY must be auto, xvfb, host or off (got "wayland")');
    expect(message).toContain('PLAYTEST_RESOLUTION must be WIDTHxHEIGHT');
    expect(message).toContain('PLAYTEST_CAPTURE_AFTER must be a duration with a unit');
    expect(message).toContain('PLAYTEST_CLIP may be at most');
    expect(message).toContain('PLAYTEST_CARGO_TARGET_DIR must be shared, off or an absolute path');
    expect(() => loadConfig({ PLAYTEST_DISPLAY: 'host' }, '/r')).toThrow(/PLAYTEST_DISPLAY=host but the bot has no DISPLAY/);
  });
});
