'use strict';
// How the bridge's refusals reach a Zap, on real answers of the running bridge: 409 as an
// Error and 429 as Zapier's ThrottledError after the bridge's Retry-After, both in the
// bridge's own words.
const { after, before, describe, it } = require('node:test');
const { bridgeUrl } = require('../lib/bridge');
const { App, appTester, api, assert, bundle, receiver } = require('./helpers');

let hooks;
let hook;
before(async () => {
  hooks = await receiver();
  hook = await appTester(App.triggers.job_failed.operation.performSubscribe, bundle({}, { targetUrl: hooks.url('errors') }));
});
after(async () => {
  await api('DELETE', `/v1/zapier/hooks/${hook.id}`);
  await hooks.close();
});

const ping = (z, b) => z.request({ url: bridgeUrl(b, `/v1/subscriptions/${b.inputData.id}/test`), method: 'POST', body: {} });

const refusal = async (promise) => {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a refusal');
};

describe('errors', () => {
  it('409: the bridge\'s sentence, as a Zapier error', async () => {
    assert.equal((await api('PATCH', `/v1/subscriptions/${hook.id}`, { enabled: false })).status, 200);
    const direct = await api('POST', `/v1/subscriptions/${hook.id}/test`, {});
    assert.equal(direct.status, 409);
    const error = await refusal(appTester(ping, bundle({ id: hook.id })));
    assert.equal(error.name, 'AppError'); // z.errors.Error
    assert.ok(error.message.includes(direct.body.message), error.message);
    assert.equal((await api('PATCH', `/v1/subscriptions/${hook.id}`, { enabled: true })).status, 200);
  });

  it('429: ThrottledError after the bridge\'s Retry-After, in its words', async () => {
    let direct;
    for (let i = 0; i < 10; i += 1) {
      direct = await api('POST', `/v1/subscriptions/${hook.id}/test`, {});
      if (direct.status === 429) break;
    }
    assert.equal(direct.status, 429);
    const error = await refusal(appTester(ping, bundle({ id: hook.id })));
    assert.equal(error.name, 'ThrottledError');
    assert.ok(error.message.includes(direct.body.message), error.message);
    const retryAfter = Number(direct.headers.get('retry-after'));
    assert.ok(retryAfter > 0);
    assert.ok(Math.abs(JSON.parse(error.message).delay - retryAfter) <= 1, error.message);
  });
});
