'use strict';
const { bridgeUrl } = require('./lib/bridge');

// A bridge client token (`bridge clients create zapier`) and the bridge's URL; the
// test asks the bridge who the token is (GET /v1/me).
module.exports = {
  type: 'custom',
  fields: [
    {
      key: 'bridge_url',
      label: 'Bridge URL',
      type: 'string',
      required: true,
      helpText:
        'Where your buffer-bridge answers, e.g. `https://bridge.example.com` (Zapier\'s servers must reach it).',
    },
    {
      key: 'api_key',
      label: 'Client token',
      type: 'password',
      required: true,
      helpText: 'A bridge client token (`bb_...`) from `bridge clients create zapier`.',
    },
  ],
  test: async (z, bundle) => {
    const response = await z.request({ url: bridgeUrl(bundle, '/v1/me') });
    return response.data;
  },
  connectionLabel: (z, bundle) => {
    const me = bundle.inputData || {};
    let host = '';
    try {
      host = new URL(bundle.authData.bridge_url).host;
    } catch (error) {
      host = '';
    }
    return host ? `${me.client} @ ${host}` : `${me.client}`;
  },
};
