'use strict';
// `npm test` after validation: start a `bridge dev` of this checkout, run every
// test/*.test.js with Node's own test runner one file at a time (they share the
// sandbox), stop the bridge, exit with the tests' status.
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');
const { start, stop } = require('./bridge-dev');

const main = async () => {
  const wanted = process.argv.slice(2);
  const files = fs
    .readdirSync(__dirname)
    .filter((name) => name.endsWith('.test.js'))
    .filter((name) => !wanted.length || wanted.some((w) => name.includes(w)))
    .map((name) => path.join(__dirname, name));
  const state = await start();
  let child;
  const stopAll = async () => {
    if (child) child.kill('SIGTERM');
    await stop(state);
    process.exit(130);
  };
  process.once('SIGINT', stopAll);
  process.once('SIGTERM', stopAll);
  const code = await new Promise((resolve) => {
    child = spawn(process.execPath, ['--test', '--experimental-test-isolation=none', '--test-reporter=spec', ...files], {
      stdio: 'inherit',
      env: { ...process.env, BRIDGE_TEST_STATE: JSON.stringify(state) },
    });
    child.on('exit', (status) => resolve(status === null ? 1 : status));
  });
  await stop(state);
  return code;
};

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
