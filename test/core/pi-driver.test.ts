/**
 * PiDriver against the real pi 0.73.1, the scripted mock LLM, and real temp git repos; plus
 * misbehaving fake agents (test/fixtures/agents). No mocks of processes or git, no sleeps:
 * tests await events, promises and the mock's request/signal counters.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AgentSession, AgentStartOptions } from '../../src/core/agent/agent-driver.js';
import { PI_FIXED_ARGS, PiDriver, redactArgs, type PiTimeouts } from '../../src/core/agent/pi-driver.js';
import { AppError } from '../../src/core/errors.js';
import { aliveOf, processTree } from '../../src/core/process-tree.js';
import type { RunEventData } from '../../src/core/types.js';
import { bundledPiCli } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import { messageText, MockLlm, transcript, type Responder } from '../support/mock-llm.js';
import { makePiAgentDir, type PiAgentDir } from '../support/pi-agent-dir.js';
import { gate, useGates } from '../support/gate.js';
import { TEST_GIT_ENV } from '../support/git-env.js';
import { git, makeTempDir, makeTempRepo, useTempDirs } from '../support/temp.js';

useTempDirs();
useGates();

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/agents');

/** Collects events and lets a test await the first one matching a predicate. */
function eventLog() {
  const events: RunEventData[] = [];
  const waiters: Array<{ match: (e: RunEventData) => boolean; resolve: (e: RunEventData) => void }> = [];
  return {
    events,
    onEvent(event: RunEventData) {
      events.push(event);
      for (const w of [...waiters]) {
        if (w.match(event)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(event);
        }
      }
    },
    waitFor<T extends RunEventData['type']>(type: T, match: (e: Extract<RunEventData, { type: T }>) => boolean = () => true) {
      const test = (e: RunEventData) => e.type === type && match(e as Extract<RunEventData, { type: T }>);
      const found = events.find(test);
      if (found) return Promise.resolve(found as Extract<RunEventData, { type: T }>);
      return new Promise<Extract<RunEventData, { type: T }>>((resolve) => waiters.push({ match: test, resolve: resolve as (e: RunEventData) => void }));
    },
    ofType<T extends RunEventData['type']>(type: T) {
      return events.filter((e) => e.type === type) as Array<Extract<RunEventData, { type: T }>>;
    },
  };
}

let mock: MockLlm;
let agent: PiAgentDir;
let home: string;
let sessions: string;

const fast: Partial<PiTimeouts> = { startMs: 20_000, commandMs: 5_000, abortMs: 3_000, exitMs: 2_000, killMs: 2_000 };

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8', ...TEST_GIT_ENV, ...agent.env, ...extra };
}

function piDriver(agentDir = agent.dir): PiDriver {
  return new PiDriver({ command: process.execPath, args: [bundledPiCli()], agentDir, env: env(), logger: silentLogger(), timeouts: fast });
}

function fixtureDriver(name: string, timeouts: Partial<PiTimeouts> = {}): PiDriver {
  return new PiDriver({
    command: process.execPath,
    args: [path.join(FIXTURES, name)],
    agentDir: agent.dir,
    env: env(),
    logger: silentLogger(),
    timeouts: { ...fast, abortMs: 300, exitMs: 300, killMs: 500, startMs: 500, commandMs: 500, ...timeouts },
  });
}

let runCounter = 0;
function runOptions(cwd: string, prompt: string, log: ReturnType<typeof eventLog>, over: Partial<AgentStartOptions> = {}): AgentStartOptions {
  runCounter += 1;
  return { runId: `run-${runCounter}`, cwd, sessionFile: path.join(sessions, `run-${runCounter}`, 'session.jsonl'), resume: false, prompt, onEvent: log.onEvent, ...over };
}

async function startError(promise: Promise<AgentSession>): Promise<AppError> {
  const err = await promise.then(
    () => {
      throw new Error('start() resolved but should have rejected');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe('AGENT_START_FAILED');
  return err as AppError;
}

/** Our descendants whose command line mentions `needle` (fixture agents are our children). */
function ourProcessesMatching(needle: string): number[] {
  return processTree(process.pid).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
    } catch {
      return false;
    }
  });
}

beforeAll(async () => {
  mock = await MockLlm.start();
  agent = makePiAgentDir({ baseUrl: mock.baseUrl });
  home = makeTempDir('chatops-home-');
  sessions = makeTempDir('chatops-sessions-');
});

afterAll(async () => {
  await mock?.close();
});

beforeEach(() => mock.reset());

describe('PiDriver with the real pi', () => {
  it('runs an agent that commits: succeeded, summary, commit in the repo, compact events, usage', async () => {
    const repo = await makeTempRepo();
    const log = eventLog();
    const opts = runOptions(repo, 'Please commit a file', log);
    const session = await piDriver().start(opts);
    expect(session.pid).toBeGreaterThan(0);
    const outcome = await session.done;

    expect(outcome.status).toBe('succeeded');
    expect(outcome.error).toBeNull();
    expect(await git(repo, ['log', '-1', '--format=%s'])).toBe('mock: add mock-0.txt');
    const sha = await git(repo, ['rev-parse', '--short', 'HEAD']);
    expect(outcome.summary).toBe(`Done: ${sha} mock: add mock-0.txt`);
    expect(outcome.usage.total).toBeGreaterThan(0);
    expect(outcome.usage.input).toBeGreaterThan(0);

    const start = log.ofType('tool_start');
    expect(start).toHaveLength(1);
    expect(start[0]!.summary).toMatch(/^bash: echo 'written by the mock' > mock-0\.txt && git add -A/);
    const end = log.ofType('tool_end')[0]!;
    expect(end).toMatchObject({ tool: 'bash', isError: false, toolCallId: start[0]!.toolCallId });
    expect(end.outputTail).toContain('mock: add mock-0.txt');
    expect(log.ofType('turn_end').map((e) => e.turn)).toEqual([1, 2]);
    expect(log.ofType('assistant_text').at(-1)!.text).toBe(outcome.summary);
    // Spend after each of the two model calls, then the session's totals.
    const usage = log.ofType('usage');
    expect(usage).toHaveLength(3);
    expect(usage[0]!.total).toBeGreaterThan(0);
    expect(usage[1]!.total).toBeGreaterThan(usage[0]!.total);
    expect(usage.at(-1)).toEqual({ type: 'usage', ...outcome.usage });
    expect(log.ofType('user_message')).toEqual([]);

    expect(mock.requests).toHaveLength(2);
    expect(mock.requests[0]!.body.stream).toBe(true);
    expect(mock.requests[0]!.model).toBe('mock-model');
    expect(fs.existsSync(opts.sessionFile)).toBe(true);
    expect(aliveOf([session.pid!])).toEqual([]);
    await session.stop(); // safe and a no-op after the run settled
    expect((await session.done).status).toBe('succeeded');
  });

  it('delivers a steer sent during a slow tool before the next model call', async () => {
    const repo = await makeTempRepo();
    const tool = gate();
    mock.respond((req, index) =>
      index === 0 ? { toolCalls: [{ name: 'bash', arguments: { command: tool.command(mock, 'slow-tool') } }] } : { text: `Mock answer: ${messageText(req.messages.at(-1))}` },
    );
    const log = eventLog();
    const session = await piDriver().start(runOptions(repo, 'build it', log));
    await mock.waitForSignal('slow-tool');
    await session.steer('steer: also report the weather');
    tool.open();
    const outcome = await session.done;

    expect(outcome.status).toBe('succeeded');
    expect(mock.requests).toHaveLength(2);
    const second = transcript(mock.requests[1]!);
    expect(second.slice(-2).map((line) => line.trim())).toEqual(['tool: released', 'user: steer: also report the weather']);
    expect(outcome.summary).toBe('Mock answer: steer: also report the weather');
    // Delivery is not reported again: the RunManager recorded the steer (with its sender) when it was sent.
    expect(log.ofType('user_message')).toEqual([]);
  });

  it('delivers a follow-up when the agent would otherwise stop', async () => {
    const repo = await makeTempRepo();
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    mock.respond(async (req, index) => {
      if (index === 0) {
        await gate;
        return { text: 'first answer' };
      }
      return { text: `second answer to: ${messageText(req.messages.at(-1))}` };
    });
    const log = eventLog();
    const session = await piDriver().start(runOptions(repo, 'say something', log));
    await mock.waitForRequests(1);
    await session.followUp('and one more thing');
    open();
    const outcome = await session.done;

    expect(outcome.status).toBe('succeeded');
    expect(mock.requests).toHaveLength(2);
    expect(transcript(mock.requests[1]!).slice(-3)).toEqual(['user: say something', 'assistant: first answer', 'user: and one more thing']);
    expect(outcome.summary).toBe('second answer to: and one more thing');
    expect(log.ofType('assistant_text').map((e) => e.text)).toEqual(['first answer', 'second answer to: and one more thing']);
    expect(log.ofType('user_message')).toEqual([]);
  });

  it('delivers a steer sent during a retry back-off to a later model call', async () => {
    const slowRetry = makePiAgentDir({ baseUrl: mock.baseUrl, baseDelayMs: 400 });
    const repo = await makeTempRepo();
    mock.respond((req, index) => (index === 0 ? { status: 503, message: 'overloaded' } : { text: `answer to: ${messageText(req.messages.at(-1))}` }));
    const log = eventLog();
    const session = await piDriver(slowRetry.dir).start(runOptions(repo, 'first question', log));
    await log.waitFor('retry');
    await session.steer('steer during back-off');
    const outcome = await session.done;

    expect(outcome.status).toBe('succeeded');
    expect(outcome.summary).toBe('answer to: steer during back-off');
    expect(mock.requests.some((r) => transcript(r).includes('user: steer during back-off'))).toBe(true);
    expect(log.ofType('retry_end')).toEqual([{ type: 'retry_end', success: true, attempt: 1, error: null }]);
    expect(log.ofType('user_message')).toEqual([]);
  });

  it('stops during a tool: outcome stopped and no process of the tree left alive', async () => {
    const repo = await makeTempRepo();
    mock.respond((_req, index) =>
      index === 0 ? { toolCalls: [{ name: 'bash', arguments: { command: `sleep 60 & ${mock.signalCommand('sleeping')}; wait` } }] } : { text: 'unexpected' },
    );
    const log = eventLog();
    const session = await piDriver().start(runOptions(repo, 'run something long', log));
    await mock.waitForSignal('sleeping');
    const tree = processTree(session.pid!);
    const comms = tree.map((pid) => fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim());
    expect(comms).toContain('sleep');

    await session.stop();
    const outcome = await session.done;
    expect(outcome.status).toBe('stopped');
    expect(outcome.error).toBeNull();
    expect(aliveOf(tree)).toEqual([]);
    expect(mock.requests).toHaveLength(1);
    expect(log.ofType('tool_end')[0]).toMatchObject({ isError: true });
    await session.stop(); // idempotent
    await expect(session.steer('too late')).rejects.toMatchObject({ code: 'RUN_NOT_ACTIVE' });
  });

  it('fails the run with the error of a model 400, without retries', async () => {
    const repo = await makeTempRepo();
    const log = eventLog();
    const session = await piDriver().start(runOptions(repo, 'status 400 please', log));
    const outcome = await session.done;

    expect(outcome.status).toBe('failed');
    expect(outcome.error).toContain('400');
    expect(outcome.error).toContain('mock error 400');
    expect(outcome.summary).toBeNull();
    expect(mock.requests).toHaveLength(1);
    expect(log.ofType('retry')).toEqual([]);
    expect(log.ofType('error')[0]!.message).toContain('mock error 400');
  });

  it('retries a 500 until the retries are exhausted, then fails with retry events', async () => {
    const repo = await makeTempRepo();
    const log = eventLog();
    const session = await piDriver().start(runOptions(repo, 'status 500 please', log));
    const outcome = await session.done;

    expect(outcome.status).toBe('failed');
    expect(outcome.error).toContain('mock error 500');
    expect(mock.requests).toHaveLength(3);
    expect(log.ofType('retry').map((e) => [e.attempt, e.maxAttempts])).toEqual([
      [1, 2],
      [2, 2],
    ]);
    expect(log.ofType('retry_end')).toEqual([{ type: 'retry_end', success: false, attempt: 2, error: expect.stringContaining('mock error 500') }]);
  });

  it('resumes a session: the second process sends the earlier history, usage counts only the new run', async () => {
    const repo = await makeTempRepo();
    const first = runOptions(repo, 'Please commit a file', eventLog());
    const outcome1 = await (await piDriver().start(first)).done;
    expect(outcome1.status).toBe('succeeded');

    mock.reset();
    mock.respond(() => ({ text: 'I committed mock-0.txt earlier.', usage: { prompt: 100, completion: 10 } }));
    const log = eventLog();
    const session = await piDriver().start({ ...runOptions(repo, 'What did you do before?', log), sessionFile: first.sessionFile, resume: true });
    const outcome2 = await session.done;

    expect(outcome2.status).toBe('succeeded');
    expect(outcome2.summary).toBe('I committed mock-0.txt earlier.');
    const roles = mock.requests[0]!.messages.map((m) => m.role);
    expect(roles).toEqual(['system', 'user', 'assistant', 'tool', 'assistant', 'user']);
    expect(transcript(mock.requests[0]!)[1]).toBe('user: Please commit a file');
    expect(outcome2.usage).toEqual({ input: 100, output: 10, total: 110, costUsd: 0 });

    // The stored cwd is gone: pi refuses to start, and the driver says why.
    const moved = path.join(makeTempDir(), 'moved.jsonl');
    const lines = fs.readFileSync(first.sessionFile, 'utf8').split('\n');
    const header = JSON.parse(lines[0]!) as Record<string, unknown>;
    lines[0] = JSON.stringify({ ...header, cwd: path.join(repo, 'no-such-dir') });
    fs.writeFileSync(moved, lines.join('\n'));
    const err = await startError(piDriver().start({ ...runOptions(repo, 'again', eventLog()), sessionFile: moved, resume: true }));
    expect(err.message).toContain('Stored session working directory does not exist');
    expect(err.message).toContain('exit code 1');
  });

  it('rejects start when pi refuses the prompt (no API key)', async () => {
    const repo = await makeTempRepo();
    const driver = piDriver(makePiAgentDir({ baseUrl: mock.baseUrl, withoutApiKey: true }).dir);
    const err = await startError(driver.start(runOptions(repo, 'hello', eventLog())));
    expect(err.message).toMatch(/rejected the prompt.*No API key/s);
    expect(err.message).toContain('set AGENT_ARGS');
  });

  it('rejects resume of a missing session file without starting anything', async () => {
    const err = await startError(piDriver().start({ ...runOptions(makeTempDir(), 'x', eventLog()), resume: true }));
    expect(err.message).toContain('does not exist');
    expect(mock.requests).toHaveLength(0);
  });
});

describe('PiDriver arguments', () => {
  it('appends RPC mode, the session file and the safety flags after the configured args', () => {
    const driver = new PiDriver({ command: 'pi', args: ['--model', 'mock/mock-model'], agentDir: '/x', env: {}, logger: silentLogger() });
    expect(driver.argsFor('/s/run.jsonl')).toEqual(['--model', 'mock/mock-model', '--mode', 'rpc', '--session', '/s/run.jsonl', ...PI_FIXED_ARGS]);
    expect(PI_FIXED_ARGS).toContain('--no-extensions');
    expect(redactArgs(['--api-key', 'sk-1', '--api-key=sk-2', 'x'])).toEqual(['--api-key', '[redacted]', '--api-key=[redacted]', 'x']);
  });
});

describe('PiDriver with misbehaving agents', () => {
  // Fixtures that answer (or exit) by themselves get a ceiling, not a window: a node start on a
  // loaded machine can take seconds. The short timeouts stay only where the test waits them out.
  const ANSWERS: Partial<PiTimeouts> = { startMs: 20_000, commandMs: 5_000 };

  it('crash at start: start rejects with the stderr text and the exit code', async () => {
    const err = await startError(fixtureDriver('crash-at-start.mjs', ANSWERS).start(runOptions(makeTempDir(), 'x', eventLog())));
    expect(err.message).toContain('Model "nosuch/model" not found');
    expect(err.message).toContain('exit code 1');
  });

  it('missing binary: a clear error naming the command and AGENT_COMMAND', async () => {
    const driver = new PiDriver({ command: '/nonexistent/bin/pi-agent', args: [], agentDir: agent.dir, env: env(), logger: silentLogger() });
    const err = await startError(driver.start(runOptions(makeTempDir(), 'x', eventLog())));
    expect(err.message).toContain('/nonexistent/bin/pi-agent');
    expect(err.message).toContain('not found');
    expect(err.message).toContain('AGENT_COMMAND');
  });

  it('garbage on stdout is ignored; the exit mid-run fails the run with code and stderr', async () => {
    const log = eventLog();
    const session = await fixtureDriver('garbage-then-exit.mjs', ANSWERS).start(runOptions(makeTempDir(), 'x', log));
    const outcome = await session.done;
    expect(outcome.status).toBe('failed');
    expect(outcome.error).toContain('exit code 3');
    expect(outcome.error).toContain('something broke inside the agent');
    expect(log.ofType('error')[0]!.message).toBe(outcome.error);
  });

  it('an agent killed mid-run fails the run naming the signal', async () => {
    const log = eventLog();
    const session = await fixtureDriver('dies-mid-run.mjs', ANSWERS).start(runOptions(makeTempDir(), 'x', log));
    const outcome = await session.done;
    expect(outcome).toMatchObject({ status: 'failed', summary: null });
    expect(outcome.error).toContain('signal SIGKILL');
    expect(outcome.error).toContain('out of memory');
    expect(log.ofType('tool_start')[0]!.summary).toBe('bash: make world');
  });

  it('an agent that never answers: start rejects after the timeout and the process is gone', async () => {
    const err = await startError(fixtureDriver('silent-hang.mjs').start(runOptions(makeTempDir(), 'x', eventLog())));
    expect(err.message).toContain('did not answer get_state');
    expect(ourProcessesMatching('silent-hang.mjs')).toEqual([]);
  });

  it('responses without ids never hang start()', async () => {
    const err = await startError(fixtureDriver('unknown-responses.mjs').start(runOptions(makeTempDir(), 'x', eventLog())));
    expect(err.message).toContain('did not answer get_state');
    expect(ourProcessesMatching('unknown-responses.mjs')).toEqual([]);
  });

  it('a hung agent (ignores abort, stdin EOF and SIGTERM) is still stopped, by SIGKILL', async () => {
    const session = await fixtureDriver('hang-after-prompt.mjs', ANSWERS).start(runOptions(makeTempDir(), 'x', eventLog()));
    const pid = session.pid!;
    await session.stop();
    expect(await session.done).toMatchObject({ status: 'stopped', error: null });
    expect(aliveOf([pid])).toEqual([]);
  });
});
