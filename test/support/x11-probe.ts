/**
 * What the playtest tests read back from the X side: a pixel of a screenshot and the X servers
 * and fixture games still running under this test process; and which system tools are installed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { processTree } from '../../src/core/process-tree.js';

/** Whether `tool` is on the PATH. */
export function hasTool(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

/** Red, green, blue (0-255) of one pixel of a PNG file, read by ImageMagick. */
export function pixel(file: string, x: number, y: number): number[] {
  const channel = (c: string) => `%[fx:int(255*p{${x},${y}}.${c}+0.5)]`;
  return execFileSync('convert', [file, '-format', `${channel('r')},${channel('g')},${channel('b')}`, 'info:'], { encoding: 'utf8' }).split(',').map(Number);
}

/** This test process's descendants that are an X server or the fixture game. */
export function xProcesses(): number[] {
  return processTree(process.pid).filter((pid) => {
    try {
      return /^(Xvfb|display.*|magick)$/.test(fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim());
    } catch {
      return false;
    }
  });
}
