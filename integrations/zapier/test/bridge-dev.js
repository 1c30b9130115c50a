'use strict';
// Starts a real `bridge dev` from this repository (../../.venv, made by `make zapier-test`
// or `make check`) against the built-in Buffer sandbox, on a free port with a throwaway
// data directory, and stops it again. test/run.js calls these around the test files, and
// hands them where it runs in BRIDGE_TEST_STATE (JSON).
const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const REPO = path.resolve(__dirname, '..', '..', '..');
const START_SECONDS = 90;

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

const readEnvFile = (file) => {
  const out = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const match = /^export ([A-Z_]+)=(.*)$/.exec(line);
    if (match) out[match[1]] = match[2].replace(/^'(.*)'$/, '$1');
  }
  return out;
};

async function start() {
  const bridge = path.join(REPO, '.venv', 'bin', 'bridge');
  if (!fs.existsSync(bridge)) {
    throw new Error(`${bridge} is missing: run \`make zapier-test\` (or \`make check\`) at the repository root first`);
  }
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bridge-zapier-'));
  const env = { ...process.env, LOG_FORMAT: 'text' };
  // the bridge's own settings of this machine are not this test's
  for (const name of Object.keys(env)) {
    if (/^(BUFFER_|DATABASE_URL|REDIS_URL|SECRET_KEY|OUTBOUND_)/.test(name)) delete env[name];
  }
  const child = spawn(bridge, ['dev', '--port', String(port), '--data-dir', dataDir], {
    cwd: REPO,
    env,
    detached: true, // its own process group: teardown stops it and its children together
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = fs.createWriteStream(path.join(dataDir, 'bridge-dev.log'));
  let output = '';
  const token = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bridge dev did not start in ${START_SECONDS} s:\n${output.slice(-3000)}`)), START_SECONDS * 1000);
    const seen = (chunk) => {
      output += chunk;
      log.write(chunk);
      const match = /client token:\s+(bb_\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bridge dev exited (${code}) before it was ready:\n${output.slice(-3000)}`));
    });
  });
  child.stdout.on('data', (chunk) => log.write(chunk));
  child.stderr.on('data', (chunk) => log.write(chunk));
  child.unref();
  child.stdout.unref && child.stdout.unref();
  child.stderr.unref && child.stderr.unref();
  const settings = readEnvFile(path.join(dataDir, 'dev.env'));
  const state = {
    pid: child.pid,
    url: `http://127.0.0.1:${port}`,
    token,
    dataDir,
    sandboxV1: settings.BUFFER_API_URL,
    sandboxToken: 'sandbox-token',
  };
  return state;
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return false;
  }
};

async function stop(found) {
  // SIGTERM to `bridge dev` stops its children; the group is killed if it lingers
  try {
    process.kill(found.pid, 'SIGTERM');
  } catch (error) {
    /* already gone */
  }
  for (let i = 0; i < 100 && alive(found.pid); i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  try {
    process.kill(-found.pid, 'SIGKILL');
  } catch (error) {
    /* the group is gone */
  }
  if (process.env.KEEP_BRIDGE_DATA) {
    console.log(`bridge dev's data and log kept in ${found.dataDir}`);
  } else {
    fs.rmSync(found.dataDir, { recursive: true, force: true });
  }
}

module.exports = { start, stop, REPO };
