import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Redactor } from '../../src/core/redact.js';
import { createLogger } from '../../src/logger.js';

function capture(): { stream: Writable; text: () => string } {
  let out = '';
  return { stream: new Writable({ write: (c, _e, cb) => ((out += String(c)), cb()) }), text: () => out };
}

describe('logger', () => {
  it('never writes the credentials that SDK errors carry', () => {
    const sink = capture();
    const log = createLogger('info', sink.stream);
    const err = Object.assign(new Error('request failed: https://discord.com/api/v10/webhooks/123456/aW50ZXJhY3Rpb24tdG9rZW4/messages/@original'), {
      original: { config: { headers: { Authorization: 'Bearer xoxb-secret-1' } }, request: { _header: 'Authorization: Bearer xoxb-secret-2' } },
      url: 'https://discord.com/api/v10/interactions/987654/aW50ZXJhY3Rpb24tdG9rZW4/callback',
      code: 'slack_webapi_request_error',
    });
    log.error({ err, config: { discord: { token: 'discord-secret' } }, headers: { Authorization: 'Bot discord-secret-2' } }, 'failed');
    const line = sink.text();
    expect(line).toContain('slack_webapi_request_error');
    for (const secret of ['xoxb-secret-1', 'xoxb-secret-2', 'discord-secret', 'aW50ZXJhY3Rpb24tdG9rZW4']) expect(line).not.toContain(secret);
    expect(line).toContain('/webhooks/123456/[redacted]');
  });

  it('replaces known secret values wherever they appear in a line: message, any field, error text', () => {
    const sink = capture();
    const key = 'sk-ant-api03-abcdefgh';
    const log = createLogger('debug', sink.stream, new Redactor([key, 'quote"d-secret']));
    log.debug({ line: `ANTHROPIC_API_KEY=${key}`, nested: { deep: [key] }, err: new Error(`bad key ${key}`) }, `agent said ${key}`);
    log.info({ value: 'quote"d-secret' }, 'escaped');
    const text = sink.text();
    expect(text).not.toContain(key);
    expect(text).not.toContain('quote\\"d-secret');
    expect(text.match(/\[redacted\]/g)).toHaveLength(6); // line, deep, err.message, err.stack, msg, value;
  });
});
