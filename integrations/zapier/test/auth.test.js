'use strict';
const { App, appTester, api, bridge, bundle } = require('./helpers');

describe('authentication', () => {
  it('tests the connection with GET /v1/me and labels it by the client', async () => {
    const me = await appTester(App.authentication.test, bundle());
    const direct = await api('GET', '/v1/me');
    expect(me.client).toBe(direct.body.client);
    expect(me.scopes).toEqual(direct.body.scopes);
    const label = await appTester(App.authentication.connectionLabel, bundle(me));
    expect(label).toBe(`${direct.body.client} @ ${new URL(bridge().url).host}`);
  });

  it('a wrong token fails with the bridge\'s own words', async () => {
    const wrong = { authData: { bridge_url: bridge().url, api_key: 'bb_not-a-token' } };
    const direct = await api('GET', '/v1/me', undefined, 'bb_not-a-token');
    expect(direct.status).toBe(401);
    await expect(appTester(App.authentication.test, wrong)).rejects.toThrow(direct.body.message);
  });

  it('calls nothing but the configured bridge URL', async () => {
    const elsewhere = (z) => z.request({ url: 'http://127.0.0.1:9/v1/me' });
    await expect(appTester(elsewhere, bundle())).rejects.toThrow(
      'refusing to call http://127.0.0.1:9: this app only calls the bridge URL of the connection',
    );
    const sneaky = (z, b) => z.request({ url: `${b.authData.bridge_url}@evil.example/v1/me` });
    await expect(appTester(sneaky, bundle())).rejects.toThrow('refusing to call');
    const notHttp = { authData: { bridge_url: 'file:///etc/passwd', api_key: 'bb_x' } };
    await expect(appTester(App.authentication.test, notHttp)).rejects.toThrow('Bridge URL must start with https://');
  });
});
