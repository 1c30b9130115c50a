'use strict';
const { bridgeUrl, bridgeWords, segment } = require('../lib/bridge');

// Find a profile by name: `@brand`, `twitter:brand`, `brand` or its id; exact matches
// first, then profiles whose name contains the words.
const findProfile = {
  key: 'find_profile',
  noun: 'Profile',
  display: { label: 'Find Profile', description: 'Finds a Buffer profile by its name (`@brand`, `twitter:brand`) or id.' },
  operation: {
    inputFields: [{ key: 'name', label: 'Name', required: true, helpText: '`@brand`, `twitter:brand`, `brand` or a profile id.' }],
    perform: async (z, bundle) => {
      const wanted = String(bundle.inputData.name || '').trim().toLowerCase();
      const { profiles } = (await z.request({ url: bridgeUrl(bundle, '/v1/profiles') })).data;
      const names = (p) => [p.id, p.label, p.formatted_username, `@${p.service_username}`, p.service_username]
        .filter(Boolean)
        .map((n) => String(n).toLowerCase());
      const exact = profiles.filter((p) => names(p).includes(wanted));
      const found = exact.length ? exact : profiles.filter((p) => names(p).some((n) => n.includes(wanted)));
      return found.map((p) => ({ ...p, schedules: undefined }));
    },
    sample: { id: '4eb854340acb04e870000010', label: 'twitter:brand', service: 'twitter', service_username: 'brand', formatted_username: '@brand', timezone: 'Europe/London', account: 'default' },
  },
};

// Find a job by id: its status, result and error in words (nothing for an unknown id).
const findJob = {
  key: 'find_job',
  noun: 'Job',
  display: { label: 'Find Job', description: 'Finds a bridge job by its id: whether the change reached Buffer, and what it did.' },
  operation: {
    inputFields: [{ key: 'job_id', label: 'Job ID', type: 'integer', required: true }],
    perform: async (z, bundle) => {
      const response = await z.request({
        url: bridgeUrl(bundle, `/v1/jobs/${segment(bundle.inputData.job_id)}`),
        skipThrowForStatus: true,
      });
      if (response.status === 404) return [];
      if (response.status >= 400) {
        throw new z.errors.Error(bridgeWords(response), `bridge_${response.status}`, response.status);
      }
      const job = response.data;
      return [{ id: job.job_id, ...job }];
    },
    sample: { id: 12, job_id: 12, status: 'succeeded', kind: 'set', profile_id: '4eb854340acb04e870000010', source: 'zapier' },
  },
};

module.exports = [findProfile, findJob];
