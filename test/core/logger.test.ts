import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
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
});
