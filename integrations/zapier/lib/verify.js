'use strict';
// Standard Webhooks verification (https://www.standardwebhooks.com/) of a delivery the
// bridge signed with the secret its subscribe answer returned. Written with `crypto`
// alone: the check is a dozen lines, and the app then needs no other dependency.
const crypto = require('crypto');

const TOLERANCE_SECONDS = 5 * 60;

// Header names as Zapier hands them over (`Http-Webhook-Id`, `webhook_id`, ...) → `webhook-id`.
const normalHeaders = (headers) => {
  const out = {};
  for (const [key, value] of Object.entries(headers || {})) {
    const name = key.toLowerCase().replace(/_/g, '-').replace(/^http-/, '');
    out[name] = Array.isArray(value) ? value[0] : String(value);
  }
  return out;
};

class UnverifiedDelivery extends Error {}

// The event of a delivery whose signature and timestamp check out; UnverifiedDelivery
// otherwise. `content` is the raw body exactly as sent.
const verify = (secret, headers, content, nowSeconds = Date.now() / 1000) => {
  if (!secret || !String(secret).startsWith('whsec_')) {
    throw new UnverifiedDelivery('no signing secret for this hook: turn the Zap off and on again');
  }
  const h = normalHeaders(headers);
  const id = h['webhook-id'];
  const timestamp = h['webhook-timestamp'];
  const signatures = h['webhook-signature'];
  if (!id || !timestamp || !signatures || typeof content !== 'string') {
    throw new UnverifiedDelivery('delivery not signed: webhook-id, -timestamp or -signature missing');
  }
  const sent = Number(timestamp);
  if (!Number.isFinite(sent) || Math.abs(nowSeconds - sent) > TOLERANCE_SECONDS) {
    throw new UnverifiedDelivery('delivery too old or from the future: its timestamp is off');
  }
  const key = Buffer.from(String(secret).slice('whsec_'.length), 'base64');
  const expected = crypto
    .createHmac('sha256', key)
    .update(`${id}.${timestamp}.${content}`)
    .digest();
  const matches = signatures.split(' ').some((part) => {
    const [version, signature] = part.split(',');
    const given = Buffer.from(signature || '', 'base64');
    return version === 'v1' && given.length === expected.length && crypto.timingSafeEqual(given, expected);
  });
  if (!matches) {
    throw new UnverifiedDelivery('delivery signature does not match this hook\'s secret');
  }
  return JSON.parse(content);
};

module.exports = { verify, normalHeaders, UnverifiedDelivery, TOLERANCE_SECONDS };
