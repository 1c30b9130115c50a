'use strict';
// Hidden triggers that feed the dynamic dropdowns: profiles, presets, rotation plans.
const { bridgeUrl } = require('../lib/bridge');

const hidden = (key, noun, perform, sample) => ({
  key,
  noun,
  display: { label: `${noun} choices`, description: `Lists the ${noun.toLowerCase()}s the client may use.`, hidden: true },
  operation: { perform, sample },
});

const profiles = hidden(
  'profile_choices',
  'Profile',
  async (z, bundle) => (await z.request({ url: bridgeUrl(bundle, '/v1/profiles'), params: { format: 'choices' } })).data,
  { id: '4eb854340acb04e870000010', label: 'Twitter @brand (Europe/London)' },
);

const presets = hidden(
  'preset_choices',
  'Preset',
  async (z, bundle) => {
    const { presets: found } = (await z.request({ url: bridgeUrl(bundle, '/v1/presets') })).data;
    return found.map((p) => ({ id: p.name, name: p.name, summary: p.summary, label: `${p.name} (${p.summary})` }));
  },
  { id: 'weekend', name: 'weekend', summary: 'sat-sun 10:00 16:00', label: 'weekend (sat-sun 10:00 16:00)' },
);

const rotations = hidden(
  'rotation_choices',
  'Rotation',
  async (z, bundle) => {
    const { rotations: found } = (await z.request({ url: bridgeUrl(bundle, '/v1/rotations') })).data;
    return found.map((r) => ({ id: r.name, name: r.name, paused: r.paused, label: r.paused ? `${r.name} (paused)` : r.name }));
  },
  { id: 'weekends', name: 'weekends', paused: false, label: 'weekends' },
);

module.exports = { profiles, presets, rotations };
