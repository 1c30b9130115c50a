'use strict';
const { describe, it } = require('node:test');
const { App, appTester, api, assert, bundle, profile, waitFor } = require('./helpers');

describe('find_profile', () => {
  for (const name of ['@skinnyoteam', 'twitter:skinnyoteam', 'SkinnyOTeam']) {
    it(`finds ${name}`, async () => {
      const brand = await profile('@skinnyoteam');
      const found = await appTester(App.searches.find_profile.operation.perform, bundle({ name }));
      assert.ok(found.map((p) => p.id).includes(brand.id));
      assert.equal(found[0].label, 'twitter:skinnyoteam');
    });
  }

  it('finds nothing for a name no profile has', async () => {
    assert.deepEqual(await appTester(App.searches.find_profile.operation.perform, bundle({ name: 'no-such-profile-zz' })), []);
  });
});

describe('find_job', () => {
  it('finds a job by id, and nothing for an unknown id', async () => {
    const brand = await profile('@skinnyoteam');
    const made = await api('PATCH', `/v1/profiles/${brand.id}/schedules`, { days: 'sun', times: ['08:00'] });
    assert.equal(made.status, 202);
    const [job] = await appTester(App.searches.find_job.operation.perform, bundle({ job_id: made.body.job_id }));
    assert.equal(job.id, made.body.job_id);
    assert.equal(job.profile_id, brand.id);
    await waitFor('the job', async () => (await api('GET', `/v1/jobs/${job.id}`)).body.status === 'succeeded');
    assert.deepEqual(await appTester(App.searches.find_job.operation.perform, bundle({ job_id: 987654 })), []);
  });
});
