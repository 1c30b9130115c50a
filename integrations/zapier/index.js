'use strict';
// The buffer-bridge Zapier app: change Buffer posting schedules from Zaps, and start
// Zaps when schedules change. It only ever calls the bridge URL of its connection.
const { version } = require('./package.json');
const { version: platformVersion } = require('zapier-platform-core');

const authentication = require('./authentication');
const { onlyTheBridge, bridgeErrors } = require('./lib/bridge');
const choices = require('./triggers/choices');
const eventTriggers = require('./triggers/events');
const creates = require('./creates');
const searches = require('./searches');

const byKey = (items) => Object.fromEntries(items.map((item) => [item.key, item]));

module.exports = {
  version,
  platformVersion,
  authentication,
  beforeRequest: [onlyTheBridge],
  afterResponse: [bridgeErrors],
  triggers: byKey([choices.profiles, choices.presets, choices.rotations, ...eventTriggers]),
  creates: byKey(creates),
  searches: byKey(searches),
  searchOrCreates: {},
};
