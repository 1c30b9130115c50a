'use strict';
// The signature check alone, against a delivery signed as Standard Webhooks says.
const assert = require('node:assert/strict');
const crypto = require('crypto');
const { describe, it } = require('node:test');
const { verify, UnverifiedDelivery } = require('../lib/verify');

const secret = `whsec_${crypto.randomBytes(24).toString('base64')}`;
const sign = (id, ts, body, key = secret) =>
  `v1,${crypto.createHmac('sha256', Buffer.from(key.slice(6), 'base64')).update(`${id}.${ts}.${body}`).digest('base64')}`;

describe('verify', () => {
  const now = 1_800_000_000;
  const body = JSON.stringify({ id: 'evt_1', type: 'schedule.changed' });
  const headers = { 'webhook-id': 'evt_1', 'webhook-timestamp': String(now), 'webhook-signature': sign('evt_1', now, body) };

  it('accepts a signed delivery, with headers as Zapier names them too', () => {
    assert.equal(verify(secret, headers, body, now).type, 'schedule.changed');
    const zapierStyle = {
      'Http-Webhook-Id': 'evt_1',
      'Http-Webhook-Timestamp': String(now),
      'Http-Webhook-Signature': `v1,AAAA ${headers['webhook-signature']}`,
    };
    assert.equal(verify(secret, zapierStyle, body, now).id, 'evt_1');
  });

  const refused = [
    ['a changed body', secret, headers, body.replace('changed', 'drifted'), now],
    ['another secret', `whsec_${crypto.randomBytes(24).toString('base64')}`, headers, body, now],
    ['a stale timestamp', secret, headers, body, now + 301],
    ['no signature', secret, { ...headers, 'webhook-signature': undefined }, body, now],
    ['no secret', undefined, headers, body, now],
  ];
  for (const [what, key, h, content, at] of refused) {
    it(`refuses ${what}`, () => {
      assert.throws(() => verify(key, h, content, at), UnverifiedDelivery);
    });
  }
});
