import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createRunEngine } from '../../src/core/engine.js';
import { createFileLogger, LOG_FILES_KEPT } from '../../src/logger.js';
import { silentLogger } from '../../src/logger.js';
import { makeTempDir, makeTempRepo, useTempDirs } from '../support/temp.js';

useTempDirs();

const mode = (p: string) => fs.statSync(p).mode & 0o777;

describe('private files', () => {
  it('creates the data folder, sessions, pi config folder 0700 and the database 0600, and tightens existing ones', async () => {
    const repo = await makeTempRepo();
    const dataDir = path.join(makeTempDir(), 'data');
    fs.mkdirSync(path.join(dataDir, 'sessions'), { recursive: true, mode: 0o755 });
    fs.chmodSync(dataDir, 0o755);
    const config = loadConfig({ REPO_ROOT: repo, DATA_DIR: dataDir, AGENT_SANDBOX: 'off' }, repo);
    const engine = await createRunEngine(config, silentLogger());
    try {
      for (const dir of [config.dataDir, config.sessionsDir, config.piAgentDir]) expect(mode(dir)).toBe(0o700);
      expect(mode(config.dbFile)).toBe(0o600);
      engine.cards.add({ id: 'card-1', title: 't', body: '' });
      expect(mode(`${config.dbFile}-wal`)).toBe(0o600);
    } finally {
      await engine.close();
    }
  });

  it('writes logs 0600 in a 0700 folder and rolls them by size, keeping the newest few', async () => {
    const dir = path.join(makeTempDir(), 'logs');
    const { logger, file, stream } = await createFileLogger('info', dir, undefined, '1k');
    if (stream.fd < 0) await once(stream, 'ready');
    const line = 'x'.repeat(1100);
    const rolls = LOG_FILES_KEPT + 2;
    for (let i = 0; i < rolls; i += 1) {
      // Each line fills a file: the stream opens the next one and removes the oldest beyond the limit.
      const rolled = Promise.all([once(stream, 'ready'), once(stream, 'cleanup-complete')]);
      logger.info({ i, line }, 'filler');
      await rolled;
    }
    logger.info('last line');
    stream.end();
    await once(stream, 'close');
    const logs = fs.readdirSync(dir).filter((f) => /^bot\.\d+\.log$/.test(f)).sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]));
    expect(logs).toEqual(Array.from({ length: LOG_FILES_KEPT + 1 }, (_, i) => `bot.${rolls + 1 - LOG_FILES_KEPT + i}.log`));
    expect(mode(dir)).toBe(0o700);
    for (const f of logs) expect(mode(path.join(dir, f))).toBe(0o600);
    expect(fs.readlinkSync(file)).toBe(logs.at(-1));
    expect(fs.readFileSync(file, 'utf8')).toContain('last line');
  });
});
