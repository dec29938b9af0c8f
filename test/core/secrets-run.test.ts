/**
 * Redaction end to end: the real pi against the scripted model, a bash tool that echoes the
 * provider key and runs `env`, a model answer that streams the key in two pieces, and a playtest
 * that prints another secret in two writes. The key reaches no run event, outbox row, chat
 * message or log line.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatHub } from '../../src/bots/hub/hub.js';
import { loadConfig } from '../../src/config.js';
import { createRunEngine } from '../../src/core/engine.js';
import { Redactor } from '../../src/core/redact.js';
import { createLogger } from '../../src/logger.js';
import { portReceiver, RecordingPort } from '../bots/hub/recording-port.js';
import { makeBotEnv } from '../support/engine-harness.js';
import { MockLlm } from '../support/mock-llm.js';
import { MOCK_KEY_VAR } from '../support/pi-agent-dir.js';
import { makeTempDir, useTempDirs } from '../support/temp.js';

useTempDirs();

let llm: MockLlm;
beforeAll(async () => {
  llm = await MockLlm.start();
});
afterAll(async () => {
  await llm.close();
});

const EXTRA_SECRET = 'extra-secret-from-SECRET_VALUES';

describe('secrets in a run', () => {
  it('a provider key the agent echoes, prints with env, and streams in two pieces appears in no event, outbox row, message or log line', async () => {
    const { env } = await makeBotEnv(llm);
    const key = env[MOCK_KEY_VAR]!;
    const gate = path.join(makeTempDir(), 'second-half');
    const half = EXTRA_SECRET.length / 2;
    const config = loadConfig(
      {
        ...env,
        LOG_LEVEL: 'debug',
        SECRET_VALUES: EXTRA_SECRET,
        // The secret's two halves are written separately, the second only after the test saw the first go out.
        PLAYTEST_COMMAND: `printf '%s' '${EXTRA_SECRET.slice(0, half)}'; ${llm.signalCommand('first-half')}; while [ ! -f '${gate}' ]; do sleep 0.05; done; printf '%s\\n' '${EXTRA_SECRET.slice(half)}' # ${EXTRA_SECRET}`,
      },
      env.REPO_ROOT,
    );
    let logged = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logged += chunk.toString('utf8');
        done();
      },
    });
    const logger = createLogger('debug', sink, new Redactor(config.secretValues));
    const engine = await createRunEngine(config, logger);
    const port = new RecordingPort();
    const bot = new ChatHub({ store: engine.store, manager: engine.manager, auth: { allowedUsers: ['test:ada'], allowedRoles: [], allowAll: false }, logger });
    await bot.start([portReceiver(port, 'test:team')]);
    try {
      engine.cards.add({ id: 'card-1', title: 'Leak the key', body: 'print it' });
      llm.respond((req) =>
        req.messages.at(-1)?.role === 'tool'
          ? { textChunks: ['The key is ', key.slice(0, 7), key.slice(7), ` and ${EXTRA_SECRET}.`] }
          : { toolCalls: [{ name: 'bash', arguments: { command: `echo "key: $${MOCK_KEY_VAR}"; env` } }] },
      );
      const answers: string[] = [];
      await bot.handle({
        kind: 'command', platform: 'test', dedupeKey: 'c1', user: { id: 'test:ada', displayName: 'Ada', roleIds: [], isBot: false },
        channel: 'test:chan', raw: null, name: 'run', options: {}, text: 'card-1', thread: null, respond: async (t) => void answers.push(t),
      });
      const run = engine.manager.list()[0]!;
      const done = await engine.manager.waitForSettled(run.id);
      expect(done.status).toBe('succeeded');

      await engine.manager.startPlaytest(run.id, 'test:ada');
      await llm.waitForSignal('first-half');
      fs.writeFileSync(gate, '');
      await new Promise<void>((resolve) => {
        const off = engine.manager.subscribe((e) => {
          if (e.runId === run.id && e.data.type === 'playtest' && e.data.phase === 'exited') {
            off();
            resolve();
          }
        });
      });
      await bot.idle();

      // The agent really saw and printed the key (so there was something to redact).
      const toolResult = llm.requests[1]!.messages.at(-1)!;
      expect(String(toolResult.content)).toContain(`key: ${key}`);

      const events = JSON.stringify(engine.manager.events(run.id));
      const outbox = JSON.stringify(engine.store.db.prepare('SELECT body FROM outbox').all());
      const messages = JSON.stringify(port.calls);
      const row = JSON.stringify(engine.manager.get(run.id));
      for (const text of [events, outbox, messages, row, logged, answers.join('\n')]) {
        expect(text).not.toContain(key);
        expect(text).not.toContain(EXTRA_SECRET);
      }
      expect(events).toContain('key: [redacted]');
      expect(events).toContain(`${MOCK_KEY_VAR}=[redacted]`);
      expect(events).toContain('The key is [redacted] and [redacted].');
      expect(events).toMatch(/```\\n\[redacted\]\\n```/);
      // The playtest's full log under DATA_DIR is redacted too.
      const logFile = engine.manager.events(run.id).flatMap((e) => (e.data.type === 'playtest' && e.data.logFile ? [e.data.logFile] : []))[0]!;
      expect(fs.readFileSync(logFile, 'utf8')).toContain('[redacted]');
      expect(fs.readFileSync(logFile, 'utf8')).not.toContain(EXTRA_SECRET);
      expect(outbox).toContain('[redacted]');
      expect(logged).toContain('run started');
      // The playtest command (logged when it starts) names the secret in a comment.
      expect(logged).toMatch(/"command":"[^\n]*# \[redacted\]","msg":"playtest started"/);
    } finally {
      await bot.stop();
      await engine.close();
    }
  });
});

