import { describe, expect, it } from 'vitest';
import { PiEventMapper, summarizeToolCall, tailText } from '../../src/core/agent/pi-events.js';
import { SettleTracker } from '../../src/core/agent/pi-settle.js';

const idle = { isStreaming: false, isCompacting: false, pendingMessageCount: 0 };

describe('summarizeToolCall', () => {
  it('renders one line per tool', () => {
    expect(summarizeToolCall('bash', { command: 'git commit -m x' })).toBe('bash: git commit -m x');
    expect(summarizeToolCall('bash', { command: 'echo a\n  echo b' })).toBe('bash: echo a echo b');
    expect(summarizeToolCall('read', { path: 'src/a.ts', offset: 3 })).toBe('read: src/a.ts');
    expect(summarizeToolCall('write', { path: 'a.txt', content: 'x\ny\n' })).toBe('write: a.txt (3 lines)');
    expect(summarizeToolCall('grep', { pattern: 'foo', path: 'src' })).toBe('grep: foo in src');
    expect(summarizeToolCall('custom', { a: 1 })).toBe('custom: {"a":1}');
    expect(summarizeToolCall('custom', undefined)).toBe('custom');
  });

  it('truncates long arguments to about 200 characters', () => {
    const s = summarizeToolCall('bash', { command: 'x'.repeat(1000) });
    expect(s.length).toBe(200);
    expect(s.endsWith('…')).toBe(true);
  });
});

describe('tailText', () => {
  it('keeps the last 15 lines and at most 1500 characters', () => {
    const text = Array.from({ length: 40 }, (_, i) => `line ${i}`).join('\n') + '\n\n';
    const tail = tailText(text);
    expect(tail.split('\n')).toHaveLength(16);
    expect(tail.endsWith('line 39')).toBe(true);
    expect(tailText('y'.repeat(5000)).length).toBe(1500);
  });
});

describe('PiEventMapper', () => {
  it('maps assistant text blocks, tools, turns and errors', () => {
    const m = new PiEventMapper();
    const out = [
      ...m.map({ type: 'message_update', assistantMessageEvent: { type: 'text_delta', delta: 'x' }, message: {} }),
      ...m.map({
        type: 'message_end',
        message: {
          role: 'assistant',
          stopReason: 'toolUse',
          content: [{ type: 'thinking', thinking: 'hmm' }, { type: 'text', text: 'Let me commit.' }, { type: 'toolCall', id: 't', name: 'bash', arguments: {} }],
          usage: { input: 10, output: 2, totalTokens: 12, cost: { total: 0.5 } },
        },
      }),
      ...m.map({ type: 'tool_execution_start', toolCallId: 't', toolName: 'bash', args: { command: 'git commit -m x' } }),
      ...m.map({ type: 'tool_execution_end', toolCallId: 't', toolName: 'bash', result: { content: [{ type: 'text', text: 'ok\n' }] }, isError: false }),
      ...m.map({ type: 'turn_end', message: {}, toolResults: [] }),
      ...m.map({ type: 'message_end', message: { role: 'assistant', stopReason: 'error', content: [], errorMessage: '400 bad' } }),
      ...m.map({ type: 'turn_end' }),
      ...m.map({ type: 'something_new', foo: 1 }),
    ];
    expect(out).toEqual([
      { type: 'assistant_text', text: 'Let me commit.' },
      { type: 'tool_start', toolCallId: 't', tool: 'bash', summary: 'bash: git commit -m x' },
      { type: 'tool_end', toolCallId: 't', tool: 'bash', summary: 'bash: git commit -m x', isError: false, outputTail: 'ok' },
      { type: 'turn_end', turn: 1 },
      { type: 'error', message: '400 bad' },
      { type: 'turn_end', turn: 2 },
    ]);
    expect(m.lastAssistant).toEqual({ stopReason: 'error', text: null, errorMessage: '400 bad' });
    expect(m.lastStopText).toBeNull();
    expect(m.usage).toEqual({ input: 10, output: 2, total: 12, costUsd: 0.5 });
  });

  it('maps retries and compaction', () => {
    const m = new PiEventMapper();
    expect(m.map({ type: 'auto_retry_start', attempt: 1, maxAttempts: 2, delayMs: 20, errorMessage: '500 x' })).toEqual([
      { type: 'retry', attempt: 1, maxAttempts: 2, delayMs: 20, error: '500 x' },
    ]);
    expect(m.map({ type: 'auto_retry_end', success: false, attempt: 2, finalError: '500 x' })).toEqual([
      { type: 'retry_end', success: false, attempt: 2, error: '500 x' },
    ]);
    expect(m.lastRetryError).toBe('500 x');
    expect(m.map({ type: 'compaction_start', reason: 'threshold' })).toEqual([{ type: 'compaction', phase: 'start', reason: 'threshold', error: null }]);
    expect(m.map({ type: 'compaction_end', reason: 'threshold', aborted: false, willRetry: false })).toEqual([
      { type: 'compaction', phase: 'end', reason: 'threshold', error: null },
    ]);
  });

  it('hides the user messages the driver sent (the RunManager records them) and reports others', () => {
    const m = new PiEventMapper();
    m.expectUserMessage('do it');
    m.expectUserMessage('and more');
    m.expectUserMessage('change of plan');
    const user = (text: string) => ({ type: 'message_end', message: { role: 'user', content: [{ type: 'text', text }] } });
    expect(m.map(user('do it'))).toEqual([]);
    expect(m.map(user('change of plan'))).toEqual([]);
    expect(m.map(user('and more'))).toEqual([]);
    expect(m.map(user('from elsewhere'))).toEqual([{ type: 'user_message', kind: 'prompt', text: 'from elsewhere', by: null }]);
    expect(m.map({ type: 'message_end', message: { role: 'assistant', stopReason: 'stop', content: [{ type: 'text', text: ' fin ' }] } })).toEqual([
      { type: 'assistant_text', text: 'fin' },
    ]);
    expect(m.lastStopText).toBe('fin');
  });
});

describe('SettleTracker (§8.3)', () => {
  it('settles after agent_end when nothing restarted', () => {
    const t = new SettleTracker();
    t.observe({ type: 'agent_start' });
    expect(t.observe({ type: 'agent_end' })).toBe(true);
    expect(t.evaluate(t.mark(), idle)).toBe('settled');
  });

  it('is not settled when a retry or compaction followed the terminal event', () => {
    const t = new SettleTracker();
    t.observe({ type: 'agent_start' });
    t.observe({ type: 'agent_end' });
    const mark = t.mark();
    t.observe({ type: 'auto_retry_start' });
    expect(t.evaluate(mark, idle)).toBe('busy');
    expect(t.betweenLoops).toBe(true);
    t.observe({ type: 'agent_start' });
    t.observe({ type: 'agent_end' });
    expect(t.evaluate(t.mark(), idle)).toBe('settled');

    t.observe({ type: 'compaction_start' });
    t.observe({ type: 'compaction_end', willRetry: true });
    expect(t.evaluate(t.mark(), idle)).toBe('busy');
    t.observe({ type: 'agent_start' });
    t.observe({ type: 'agent_end' });
    expect(t.evaluate(t.mark(), idle)).toBe('settled');
  });

  it('trusts the barrier state and reports stranded queued messages', () => {
    const t = new SettleTracker();
    t.observe({ type: 'agent_end' });
    expect(t.evaluate(t.mark(), { ...idle, isStreaming: true })).toBe('busy');
    expect(t.evaluate(t.mark(), { ...idle, isCompacting: true })).toBe('busy');
    expect(t.evaluate(t.mark(), { ...idle, pendingMessageCount: 1 })).toBe('pending_messages');
    expect(new SettleTracker().evaluate(null, idle)).toBe('busy');
  });
});
