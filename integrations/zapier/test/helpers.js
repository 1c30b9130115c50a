'use strict';
// What the tests share: the running bridge (BRIDGE_TEST_STATE, from test/run.js), a bundle
// that connects to it, plain calls to the bridge and the sandbox for set-up and checks
// (never through the app under test), and a receiver for the bridge's deliveries.
const assert = require('node:assert/strict');
const http = require('http');
const zapier = require('zapier-platform-core');
const App = require('../index');

const appTester = zapier.createAppTester(App);
const bridge = () => {
  if (!process.env.BRIDGE_TEST_STATE) throw new Error('run the tests with `npm test` (test/run.js starts the bridge)');
  return JSON.parse(process.env.BRIDGE_TEST_STATE);
};

// The promise fails, with an error whose message contains `text` (a string) or matches it.
const rejectsWith = async (promise, text) => {
  await assert.rejects(promise, (error) => {
    const ok = typeof text === 'string' ? error.message.includes(text) : text.test(error.message);
    assert.ok(ok, `error ${JSON.stringify(error.message)} does not say ${text}`);
    return true;
  });
};

const bundle = (inputData = {}, extra = {}) => ({
  authData: { bridge_url: bridge().url, api_key: bridge().token },
  inputData,
  ...extra,
});

// A plain call to the bridge as the test's own client: {status, body}.
const api = async (method, path, body, token = bridge().token) => {
  const response = await fetch(`${bridge().url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed = null;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    parsed = text;
  }
  return { status: response.status, body: parsed, headers: response.headers };
};

// What the Buffer sandbox itself holds for a profile (v1 API), not the bridge's view.
const sandboxSchedules = async (profileId) => {
  const { sandboxV1, sandboxToken } = bridge();
  const response = await fetch(`${sandboxV1}profiles/${profileId}/schedules.json?access_token=${sandboxToken}`);
  return response.json();
};

const sandboxUpdate = async (profileId, days, times) => {
  const { sandboxV1, sandboxToken } = bridge();
  const form = new URLSearchParams();
  for (const day of days) form.append('schedules[0][days][]', day);
  for (const time of times) form.append('schedules[0][times][]', time);
  form.append('access_token', sandboxToken);
  const response = await fetch(`${sandboxV1}profiles/${profileId}/schedules/update.json`, { method: 'POST', body: form });
  return response.json();
};

const profile = async (ref) => {
  const found = await api('GET', `/v1/profiles/${encodeURIComponent(ref)}`);
  if (found.status !== 200) throw new Error(`no profile ${ref}: ${JSON.stringify(found.body)}`);
  return found.body;
};

const waitFor = async (what, check, seconds = 20) => {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
};

// A local receiver standing in for Zapier's hook URL: keeps every delivery raw.
const receiver = async () => {
  const deliveries = [];
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      deliveries.push({ headers: request.headers, content: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(200);
      response.end('ok');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: (name) => `http://127.0.0.1:${port}/${name}`,
    deliveries,
    of: (type) => deliveries.filter((d) => JSON.parse(d.content).type === type),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
};

module.exports = { App, appTester, api, assert, bridge, bundle, profile, receiver, rejectsWith, sandboxSchedules, sandboxUpdate, waitFor };
