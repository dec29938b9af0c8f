/**
 * The chat contract: the product's shared scenarios, written once against a small
 * platform-neutral driver and run by every adapter (test/bots/discord/discord-contract.test.ts,
 * test/bots/slack/slack-contract.test.ts). Each adapter runs it end to end: its real bot against
 * its fake platform, the real run engine with the real pi agent and the scripted model.
 *
 * One fake, one engine and one bot per adapter file; scenarios run in order and share runs (each
 * real pi start costs seconds): the /run scenario's run is later refined and playtested, and one
 * busy run serves authorization, self-messages, steering, `later:`, mentions and stop. Four pi
 * starts per adapter. Yet each scenario can run alone (`-t "<name>"`): what it needs from an
 * earlier one is a fixture made on first use (`firstRun`), or made by the scenario itself when
 * the earlier one did not run. Platform quirks stay in each adapter's own test files.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '../../../src/core/types.js';
import type { Harness } from '../../support/engine-harness.js';
import { messageText, transcript, type MockLlm, type Responder } from '../../support/mock-llm.js';
import { makeTempDir, useTempDirs } from '../../support/temp.js';

/** `alice` may run cards; `bob` may not. */
export type ChatUser = 'alice' | 'bob';
export type Control = 'stop' | 'refine' | 'playtest' | 'capture' | 'stopPlaytest';

/** A run's thread, as the driver knows it (Discord: thread channel; Slack: the header's ts). */
export interface ThreadRef {
  readonly id: string;
}

/** A message in a thread (or the header), with its current text after edits. */
export interface Post {
  readonly id: string;
  readonly text: string;
  readonly edits: number;
}

export interface PrivateAnswer {
  text: string;
  /** Only the invoking user sees it (Discord: ephemeral flag; Slack: response_type ephemeral). */
  private: boolean;
}

export interface CommandHandle {
  /** The platform's acknowledgement of the command: when it was recorded and how long it took. */
  readonly ack: Promise<{ at: number; latencyMs: number }>;
  /** The bot's private answer to the command (the first one matching `match`). */
  answer(match?: (text: string) => boolean): Promise<PrivateAnswer>;
}

export interface StartedRun {
  run: Run;
  thread: ThreadRef;
  answer: PrivateAnswer;
}

export interface PlatformDriver {
  readonly name: string;
  readonly h: Harness;
  readonly llm: MockLlm;
  /** The ceiling for the command's acknowledgement: the platform's real budget (3 s on Discord and Slack), never a tighter window. */
  readonly ackWithinMs: number;
  /** The reactions the bot puts on an accepted steer and on a queued `later:` follow-up. */
  readonly ackEmoji: { steer: string; later: string };

  /** `/run <card> [prompt]` as `user`; returns at once. */
  command(card: string, prompt?: string, user?: ChatUser): CommandHandle;
  /** `/run` as alice; resolves once the bot answered with the thread link. */
  startRun(card?: string, prompt?: string, user?: ChatUser): Promise<StartedRun>;
  /** The thread the bot opened for the run. */
  threadOfRun(run: Run): ThreadRef;
  /** A human reply in the run's thread. */
  reply(thread: ThreadRef, text: string, user: ChatUser): { id: string };
  /** A message in the run's thread authored by the bot's own user (as the platform would echo it). */
  ownMessage(thread: ThreadRef, text: string): { id: string };
  /** Adds (or removes) the control's reaction on the run's header or on the bot's last post in the thread. */
  react(thread: ThreadRef, on: 'header' | 'last', control: Control, user: ChatUser, added?: boolean): void;
  /** The bot's reactions on a message in the thread, in the platform's names. */
  reactionsOn(thread: ThreadRef, messageId: string): string[];

  /** The run's header in the channel. */
  header(thread: ThreadRef): Post;
  /** The controls the bot put on the header, in order. */
  headerControls(thread: ThreadRef): Control[];
  /** Whether the platform can tell one person something privately in a thread (Slack ephemeral messages). */
  readonly privateRefusals: boolean;
  /** What `user` sees in the thread: private messages to them where the platform has them, else the thread's posts. */
  seenBy(thread: ThreadRef, user: string): string[];
  /** Whether the bot adds the control reactions to a header on this platform (its `ChatLimits.controlReactions`). */
  readonly controlReactions: boolean;
  /** The bot's posts in the thread, in order (header excluded). */
  threadPosts(thread: ThreadRef): Post[];
  /** The files the bot posted in the thread, in order, with the bytes the platform received. */
  threadFiles(thread: ThreadRef): { name: string; bytes: Buffer }[];
  /** How many run threads exist in the channel. */
  threadCount(): number;
  /** How many messages (any author) are in the run channel, top level. */
  channelMessageCount(): number;
  /** The link to the thread as the bot puts it in answers and notifications. */
  threadLink(thread: ThreadRef): string;
  /** The bot's posts in the team's notification channel, current text. */
  notifyTexts(): string[];
  /** How the bot names `user` in the thread (platform display name). */
  displayName(user: ChatUser): string;
  /** The user's id as the bot quotes it when refusing (`discord:…`, `slack:…`). */
  userRef(user: ChatUser): string;
  /** Bold in the platform's markup. */
  bold(text: string): string;

  waitFor<T>(predicate: () => T | undefined | null | false, description: string): Promise<T>;
  /** The bot has handled everything it received and delivered everything it queued. */
  idle(): Promise<void>;
  /**
   * Agent text that tries to notify everyone (@everyone, <!channel>, <!here>, user and role
   * mentions) is in a post of the bot containing `marker`; asserts, the platform's own way, that
   * nothing the bot created or edited anywhere can ping.
   */
  assertNoMentions(marker: string): void;
  /** Requests the platform refused with 429. */
  rateLimitHits(): readonly unknown[];
  close(): Promise<void>;
}

const GAME = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/playtest/game.mjs');

/** The engine environment every driver starts its world with (the playtest game). */
/** What a 📸 capture needs on the bot's machine; without it that scenario is skipped with this reason. */
const CAPTURE_TOOLS = ['Xvfb', 'import'];
const missingCaptureTools = CAPTURE_TOOLS.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);

/**
 * Playtests on a small virtual display where Xvfb is installed (the 📸 scenario captures it), else
 * none; screenshots only when 📸 asks (the fixture game shows no window to wait for).
 */
export function contractEnv(): Record<string, string> {
  const display = missingCaptureTools.length === 0 ? 'xvfb' : 'off';
  return { PLAYTEST_COMMAND: `'${process.execPath}' '${GAME}'`, PLAYTEST_DISPLAY: display, PLAYTEST_CAPTURE_AFTER: '60m', PLAYTEST_RESOLUTION: '320x240' };
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Agent output that would ping on either platform if it were passed through raw. */
export const HOSTILE = '@everyone <!channel> <!here> <@U999> <@&123456789012345678> & <https://evil.example|click me>';

/** A bash tool that signals `signal`, then waits until the test creates `file`. */
function blockingTool(llm: MockLlm, file: string, signal: string) {
  return { toolCalls: [{ name: 'bash', arguments: { command: `${llm.signalCommand(signal)}; while [ ! -f '${file}' ]; do sleep 0.05; done; echo released` } }] };
}

const gates = new Set<string>();
function gate(): string {
  const file = `${makeTempDir()}/go`;
  gates.add(file);
  return file;
}
function release(file: string): void {
  gates.delete(file);
  fs.writeFileSync(file, '');
}
function releaseAll(): void {
  for (const file of [...gates]) release(file);
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A fixture made once, on first use: by the scenario that makes it anyway, or by a later one run alone. */
function once<T>(make: () => Promise<T>): { get: () => Promise<T>; set: (value: T) => void } {
  let made: Promise<T> | null = null;
  return { get: () => (made ??= make()), set: (value) => void (made = Promise.resolve(value)) };
}

export function describeChatContract(name: string, makeDriver: () => Promise<PlatformDriver>): void {
  useTempDirs();
  let d: PlatformDriver;
  let llm: MockLlm;
  /** The run of the `/run` scenario (or, when that one did not run, a run like it); later scenarios refine and playtest it in its thread. */
  const firstRun = once(async (): Promise<{ run: Run; thread: ThreadRef; latest: Run }> => {
    llm.respond(null);
    const { run, thread } = await d.startRun('card-1', 'commit a jump file');
    await settle(run.id);
    return { run, thread, latest: run };
  });

  const manager = () => d.h.engine.manager;
  const texts = (thread: ThreadRef) => d.threadPosts(thread).map((p) => p.text);
  const settle = async (runId: string) => {
    await manager().waitForSettled(runId);
    await d.idle();
  };
  /** Takes back alice's 📸 on the header if an earlier scenario left it (Slack refuses to remove one that is not there). */
  const takeBackCapture = (thread: ThreadRef) => {
    try {
      d.react(thread, 'header', 'capture', 'alice', false);
    } catch (err) {
      if (!/no_reaction/.test(String(err))) throw err;
    }
  };
  const note = (thread: ThreadRef, re: RegExp, after = 0) => d.waitFor(() => texts(thread).slice(after).find((t) => re.test(t)), `note ${re} in ${d.name}`);
  const short = (run: Run) => run.id.slice(0, 8);

  describe(`chat contract: ${name}`, { timeout: 120_000 }, () => {
    beforeAll(async () => {
      d = await makeDriver();
      llm = d.llm;
    }, 120_000);

    afterAll(async () => {
      releaseAll();
      await d?.close();
    });

    it('/run acknowledges before any work, then shows header, thread, live status, digests and the final result with the commit; notifications link the thread', async () => {
      llm.respond(null); // default responder: "commit" in the prompt → a bash tool that commits
      const worktrees = d.h.config.worktreesDir;
      const listWorktrees = () => (fs.existsSync(worktrees) ? fs.readdirSync(worktrees) : []);
      const worktreesBefore = listWorktrees();
      const runsBefore = manager().list(1000).length;
      const threadsBefore = d.threadCount();
      const cmd = d.command('card-1', 'commit a jump file', 'alice');
      const ack = await cmd.ack;
      // Checked at the moment the fake recorded the acknowledgement: no new run, no new worktree yet.
      const worktreesAtAck = listWorktrees();
      const runsAtAck = manager().list(1000).length;
      expect(ack.latencyMs).toBeLessThan(d.ackWithinMs);
      expect(worktreesAtAck).toEqual(worktreesBefore);
      expect(runsAtAck).toBe(runsBefore);

      const answer = await cmd.answer((t) => t.includes('Started run'));
      expect(answer.private).toBe(true);
      const run = manager().list()[0]!;
      expect(Date.parse(run.createdAt)).toBeGreaterThanOrEqual(ack.at);
      await settle(run.id);
      const thread = d.threadOfRun(run);
      firstRun.set({ run, thread, latest: run });

      expect(d.threadCount()).toBe(threadsBefore + 1);
      const header = d.header(thread);
      expect(header.text).toContain(`Run ${short(run)}`);
      expect(header.text).toContain(run.branch!);
      expect(header.text).toContain('card-1');
      // The header names the controls; where the platform wants them, they are reactions too.
      expect(header.text).toMatch(/🛑 stop · 🔁 refine · 🎮 playtest/);
      expect(d.headerControls(thread)).toEqual(d.controlReactions ? ['stop', 'refine', 'playtest', 'capture', 'stopPlaytest'] : []);
      expect(answer.text).toContain(d.threadLink(thread));

      const inThread = d.threadPosts(thread);
      const status = inThread[0]!;
      expect(status.text).toMatch(/succeeded/);
      expect(status.edits).toBeGreaterThan(0);
      expect(inThread.some((m) => m.text.includes('🔧 bash'))).toBe(true);
      const final = inThread.find((m) => m.text.includes(d.bold(`Run ${short(run)} succeeded`)))!;
      const settled = manager().get(run.id)!;
      expect(settled.commitSha).toBeTruthy();
      expect(final.text).toContain(settled.commitSha!.slice(0, 10));
      expect(final.text).toContain(run.branch!);

      const notify = d.notifyTexts().filter((t) => t.includes(short(run)));
      expect(notify).toHaveLength(2);
      expect(notify[0]!).toContain(`started by ${d.displayName('alice')}`);
      expect(notify[1]!).toMatch(/succeeded/);
      for (const n of notify) expect(n).toContain(d.threadLink(thread));
    });

    it('an unknown card gets a private error and starts nothing', async () => {
      const runs = manager().list(1000).length;
      const posts = d.channelMessageCount();
      const answer = await d.command('card-404', undefined, 'alice').answer();
      expect(answer.text).toMatch(/unknown card "card-404"/i);
      expect(answer.text).toContain('card-1');
      expect(answer.private).toBe(true);
      expect(manager().list(1000)).toHaveLength(runs);
      expect(d.channelMessageCount()).toBe(posts);
    });

    it('an unauthorized user is refused privately and nothing starts', async () => {
      const runs = manager().list(1000).length;
      const posts = d.channelMessageCount();
      const answer = await d.command('card-1', undefined, 'bob').answer();
      expect(answer.text).toMatch(/not allowed/);
      expect(answer.text).toContain(d.userRef('bob'));
      expect(answer.private).toBe(true);
      expect(manager().list(1000)).toHaveLength(runs);
      expect(d.channelMessageCount()).toBe(posts);
    });

    // One busy run for the next scenarios: a bash tool that waits for the test's signal; its
    // `later:` follow-up blocks again, and is stopped by a reaction.
    describe('in the thread of a running agent', () => {
      let busy: { run: Run; thread: ThreadRef; go: string; again: string };
      /** Replies earlier scenarios sent here that must reach the model exactly once, and those that never may. */
      const delivered: string[] = [];
      const neverDelivered: string[] = [];
      beforeAll(async () => {
        const go = gate();
        const again = gate();
        llm.reset();
        llm.respond((req) => (req.messages.at(-1)?.role === 'tool' ? { text: 'finished' } : blockingTool(llm, go, 'busy')));
        const { run, thread } = await d.startRun();
        await llm.waitForSignal('busy');
        busy = { run, thread, go, again };
      }, 120_000);

      it("refuses an unauthorized user's reply and stop reaction: privately where the platform can, else one note per person per thread; ignores its own messages", async () => {
        const { thread, run } = busy;
        const refused = `⛔ ${d.displayName('bob')}`;
        const refusals = () => d.seenBy(thread, 'bob').filter((t) => t.includes(refused));
        d.reply(thread, 'delete everything', 'bob');
        await d.waitFor(() => refusals().length === 1, 'the refusal, where bob sees it');
        d.react(thread, 'header', 'stop', 'bob');
        if (d.privateRefusals) {
          await d.waitFor(() => refusals().length === 2, 'the second refusal, privately');
          expect(texts(thread).some((t) => t.includes(refused)), 'nothing public').toBe(false);
        } else {
          await d.idle();
          expect(refusals(), 'no second note in the thread within ten minutes').toHaveLength(1);
        }
        const own = d.ownMessage(thread, 'steer from myself');
        const marker = d.reply(thread, 'a human was here', 'alice');
        delivered.push('a human was here');
        neverDelivered.push('delete everything', 'steer from myself');
        await d.waitFor(() => d.reactionsOn(thread, marker.id).length > 0, 'the human reply acknowledged');
        await d.idle();
        expect(d.reactionsOn(thread, own.id)).toEqual([]);
        expect(manager().isActive(run.id)).toBe(true);
      });

      it('a reply steers the agent and a `later:` reply follows up; both reach the model and are acknowledged', async () => {
        const { thread, go, again } = busy;
        const steer = d.reply(thread, 'use a spring for the jump', 'alice');
        const later = d.reply(thread, 'later: also add a test', 'alice');
        await d.waitFor(() => d.reactionsOn(thread, steer.id).length > 0 && d.reactionsOn(thread, later.id).length > 0, 'steer and follow-up acknowledged');
        expect(d.reactionsOn(thread, steer.id)).toEqual([d.ackEmoji.steer]);
        expect(d.reactionsOn(thread, later.id)).toEqual([d.ackEmoji.later]);
        // The steered turn answers with text that tries to ping (checked in the next scenario);
        // the follow-up's turn blocks again so that the run can be stopped while it works.
        llm.respond((req) => {
          const last = transcript(req).at(-1) ?? '';
          if (req.messages.at(-1)?.role === 'user' && last.includes('also add a test')) return blockingTool(llm, again, 'busy-again');
          if (req.messages.at(-1)?.role === 'tool' && transcript(req).join('\n').includes('also add a test')) return { text: 'finished again' };
          return { text: `${HOSTILE} done with: ${last.slice(0, 80)}` };
        });
        release(go);
        await llm.waitForSignal('busy-again');
        const all = llm.requests.map((r) => transcript(r).join('\n'));
        const steerAt = all.findIndex((t) => t.includes('use a spring for the jump'));
        const laterAt = all.findIndex((t) => t.includes('also add a test'));
        expect(steerAt).toBeGreaterThan(0);
        expect(laterAt).toBeGreaterThan(steerAt);
        // Each human reply reached the model once; the bot's own message and the refused one never.
        const said = llm.requests.at(-1)!.messages.filter((m) => m.role === 'user').map(messageText).join('\n');
        for (const text of ['use a spring for the jump', ...delivered]) expect(said.split(text)).toHaveLength(2);
        for (const forbidden of neverDelivered) expect(all.join('\n')).not.toContain(forbidden);
        await d.idle();
        const lines = texts(thread).join('\n');
        expect(lines).toContain(`🧭 steer from ${d.displayName('alice')}`);
        expect(lines).toContain(`📨 follow-up from ${d.displayName('alice')}`);
        expect(manager().isActive(busy.run.id)).toBe(true);
      });

      it('the stop reaction on the header stops the working agent (busy with the follow-up) and says who stopped it', async () => {
        const { thread, run } = busy;
        d.react(thread, 'header', 'stop', 'alice');
        await note(thread, new RegExp(`Run \\S+ stopped by ${d.displayName('alice')}`));
        await settle(run.id);
        expect(manager().get(run.id)!.status).toBe('stopped');
        expect(texts(thread).some((t) => t.includes(d.bold(`Run ${short(run)} stopped`)))).toBe(true);
        release(busy.again);
      });

      it('agent output cannot ping anyone, on create or edit', async () => {
        // Run alone, the steer scenario did not make the agent say it: its answer to the tool does.
        if (!texts(busy.thread).some((t) => t.includes('done with:')) && manager().isActive(busy.run.id)) {
          llm.respond(() => ({ text: `${HOSTILE} done with: the tool` }));
          release(busy.go);
        }
        await note(busy.thread, /done with:/);
        d.assertNoMentions('done with:');
      });
    });

    it("refines in the same thread by a reply after the run settled and by the refine reaction (on the bot's latest post, not the header)", async () => {
      const first = await firstRun.get();
      llm.reset();
      const { run, thread } = first;
      const threadsBefore = d.threadCount();
      const lane = d.h.engine.store.chatThreads.threadOfRun(run.id)!.thread;

      d.reply(thread, 'make the jump higher', 'alice');
      await note(thread, new RegExp(`Refinement \\S+ of run \\S+ started by ${d.displayName('alice')} with your feedback`));
      const byReply = manager().list().find((r) => r.parentRunId === run.id)!;
      await settle(byReply.id);
      expect(transcript(llm.requests.at(-1)!).join('\n')).toContain('make the jump higher');

      d.react(thread, 'last', 'refine', 'alice');
      await note(thread, new RegExp(`Refinement \\S+ of run \\S+ started by ${d.displayName('alice')}\\.$`, 'm'));
      const byReaction = manager().list().find((r) => r.parentRunId === byReply.id)!;
      await settle(byReaction.id);

      expect(manager().list().filter((r) => r.parentRunId === run.id)).toHaveLength(1);
      for (const r of [byReply, byReaction]) expect(d.h.engine.store.chatThreads.threadOfRun(r.id)!.thread).toBe(lane);
      expect(d.threadCount()).toBe(threadsBefore);
      const finalRe = new RegExp(escapeRe(d.bold('\u0000')).replace('\u0000', 'Run \\S+ succeeded'));
      expect(texts(thread).filter((t) => finalRe.test(t))).toHaveLength(3);
      for (const r of [run, byReply, byReaction]) expect(texts(thread).some((t) => t.includes(d.bold(`Run ${short(r)} succeeded`)))).toBe(true);
      first.latest = byReaction;
    });

    it('the playtest reaction starts the playtest, removing it stops it, and adding it again starts a new one (the stop-playtest reaction stops that)', async () => {
      const { thread, latest } = await firstRun.get();
      const runId = latest.id;
      const by = d.displayName('alice');
      let n = d.threadPosts(thread).length;
      d.react(thread, 'header', 'playtest', 'alice');
      await note(thread, new RegExp(`playtest started by ${by}`), n);
      expect(manager().playtestRunning(runId)).toBe(true);
      d.react(thread, 'header', 'playtest', 'alice', false);
      await note(thread, new RegExp(`Playtest stopped by ${by}`), n);
      expect(manager().playtestRunning(runId)).toBe(false);

      n = d.threadPosts(thread).length;
      d.react(thread, 'header', 'playtest', 'alice');
      await note(thread, new RegExp(`playtest started by ${by}`), n);
      expect(manager().playtestRunning(runId)).toBe(true);
      d.react(thread, 'header', 'stopPlaytest', 'alice');
      await note(thread, new RegExp(`Playtest stopped by ${by}`), n);
      expect(manager().playtestRunning(runId)).toBe(false);
    });

    it('📸 with no playtest running answers that one must be started first with 🎮', async () => {
      const { thread, latest } = await firstRun.get();
      expect(manager().playtestRunning(latest.id)).toBe(false);
      const n = d.threadPosts(thread).length;
      takeBackCapture(thread); // a removal does nothing visible
      d.react(thread, 'header', 'capture', 'alice');
      await note(thread, /📸 No playtest of run \S+ is running: react 🎮 first/, n);
      expect(d.threadFiles(thread)).toEqual([]);
    });

    if (missingCaptureTools.length > 0) console.warn(`chat contract (${name}): 📸 capture scenario skipped: ${missingCaptureTools.join(', ')} not installed (apt-get install xvfb imagemagick; .ci/run does it as root)`);
    it.skipIf(missingCaptureTools.length > 0)("📸 while a playtest runs posts a new screenshot of the game's screen into the thread, naming who asked", async () => {
      const { thread, latest } = await firstRun.get();
      const runId = latest.id;
      const by = d.displayName('alice');
      const n = d.threadPosts(thread).length;
      // The 🎮 reaction has its own scenario; here the playtest is started directly, so what earlier
      // scenarios left on the header does not matter.
      await manager().startPlaytest(runId, 'test');
      // Captures are taken of a running game: the thread says when it runs.
      await note(thread, /🎮 game running/, n);
      expect(manager().playtestRunning(runId)).toBe(true);

      takeBackCapture(thread);
      d.react(thread, 'header', 'capture', 'alice');
      const files = await d.waitFor(() => (d.threadFiles(thread).length > 0 ? d.threadFiles(thread) : undefined), `a screenshot in the ${d.name} thread`);
      expect(files).toHaveLength(1);
      expect(files[0]!.name).toMatch(/\.png$/);
      expect(files[0]!.bytes.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
      await note(thread, new RegExp(`📸 Playtest a screenshot \\(requested by ${by}\\)`), n);

      expect(await manager().stopPlaytest(runId, 'test')).toBe(true);
      expect(manager().playtestRunning(runId)).toBe(false);
    });

    it('caused no 429 in this whole suite', async () => {
      await d.idle();
      expect(d.rateLimitHits()).toEqual([]);
    });
  });
}
