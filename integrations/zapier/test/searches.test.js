'use strict';
const { App, appTester, api, bundle, profile } = require('./helpers');

describe('find_profile', () => {
  it.each(['@skinnyoteam', 'twitter:skinnyoteam', 'SkinnyOTeam'])('finds %s', async (name) => {
    const brand = await profile('@skinnyoteam');
    const found = await appTester(App.searches.find_profile.operation.perform, bundle({ name }));
    expect(found.map((p) => p.id)).toContain(brand.id);
    expect(found[0].label).toBe('twitter:skinnyoteam');
  });

  it('finds nothing for a name no profile has', async () => {
    expect(await appTester(App.searches.find_profile.operation.perform, bundle({ name: 'no-such-profile-zz' }))).toEqual([]);
  });
});

describe('find_job', () => {
  it('finds a job by id, and nothing for an unknown id', async () => {
    const brand = await profile('@skinnyoteam');
    const made = await api('PATCH', `/v1/profiles/${brand.id}/schedules`, { days: 'sun', times: ['08:00'] });
    expect(made.status).toBe(202);
    const [job] = await appTester(App.searches.find_job.operation.perform, bundle({ job_id: made.body.job_id }));
    expect(job.id).toBe(made.body.job_id);
    expect(job.profile_id).toBe(brand.id);
    expect(await appTester(App.searches.find_job.operation.perform, bundle({ job_id: 987654 }))).toEqual([]);
  });
});
