'use strict';
const { describe, it } = require('node:test');
const { App, appTester, api, assert, bridge, bundle, rejectsWith } = require('./helpers');

describe('authentication', () => {
  it('tests the connection with GET /v1/me and labels it by the client', async () => {
    const me = await appTester(App.authentication.test, bundle());
    const direct = await api('GET', '/v1/me');
    assert.equal(me.client, direct.body.client);
    assert.deepEqual(me.scopes, direct.body.scopes);
    const label = await appTester(App.authentication.connectionLabel, bundle(me));
    assert.equal(label, `${direct.body.client} @ ${new URL(bridge().url).host}`);
  });

  it("a wrong token fails with the bridge's own words", async () => {
    const wrong = { authData: { bridge_url: bridge().url, api_key: 'bb_not-a-token' } };
    const direct = await api('GET', '/v1/me', undefined, 'bb_not-a-token');
    assert.equal(direct.status, 401);
    await rejectsWith(appTester(App.authentication.test, wrong), direct.body.message);
  });

  it('calls nothing but the configured bridge URL', async () => {
    const elsewhere = (z) => z.request({ url: 'http://127.0.0.1:9/v1/me' });
    await rejectsWith(
      appTester(elsewhere, bundle()),
      'refusing to call http://127.0.0.1:9: this app only calls the bridge URL of the connection',
    );
    const sneaky = (z, b) => z.request({ url: `${b.authData.bridge_url}@evil.example/v1/me` });
    await rejectsWith(appTester(sneaky, bundle()), 'refusing to call');
    const notHttp = { authData: { bridge_url: 'file:///etc/passwd', api_key: 'bb_x' } };
    await rejectsWith(appTester(App.authentication.test, notHttp), 'Bridge URL must start with https://');
  });
});
