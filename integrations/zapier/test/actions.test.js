'use strict';
// Every action and dropdown against the running bridge, checked in the Buffer sandbox.
const { App, appTester, api, bundle, profile, sandboxSchedules, waitFor } = require('./helpers');

const timesOf = (entries, day) => (entries.find((e) => e.days.includes(day)) || { times: [] }).times;

describe('dropdowns', () => {
  it('lists the profiles the client may use, as the bridge labels them', async () => {
    const choices = await appTester(App.triggers.profile_choices.operation.perform, bundle());
    const direct = await api('GET', '/v1/profiles?format=choices');
    expect(choices).toEqual(direct.body);
    expect(choices.map((c) => c.label).join('\n')).toMatch(/@skinnyoteam/);
  });

  it('lists presets and rotation plans by name', async () => {
    const brand = await profile('@skinnyoteam');
    expect((await api('POST', '/v1/presets', { name: 'zap-weekend', schedules: [{ days: ['sat', 'sun'], times: ['10:00', '16:00'] }] })).status).toBe(201);
    const plan = await api('POST', '/v1/rotations', {
      name: 'zap-plan',
      profiles: [brand.id],
      steps: [{ preset: 'zap-weekend', at: 'sat 00:00' }],
    });
    expect(plan.status).toBe(201);
    const presets = await appTester(App.triggers.preset_choices.operation.perform, bundle());
    expect(presets).toContainEqual(expect.objectContaining({ id: 'zap-weekend', summary: 'sat-sun 10:00 16:00' }));
    const rotations = await appTester(App.triggers.rotation_choices.operation.perform, bundle());
    expect(rotations).toContainEqual(expect.objectContaining({ id: 'zap-plan', paused: false }));
  });
});

describe('change_schedule', () => {
  it('sets the weekdays of a profile and answers the outcome; Buffer has it', async () => {
    const brand = await profile('@skinnyoteam');
    const answer = await appTester(
      App.creates.change_schedule.operation.perform,
      bundle({ profile: brand.id, action: 'set', days: 'weekdays', times: ['9am', '12:30', '5pm'] }),
    );
    expect(answer.status).toBe('succeeded');
    expect(answer.outcome).toMatch(new RegExp(`^Done, job ${answer.job_id} \\(twitter:skinnyoteam\\): `));
    const job = await api('GET', `/v1/jobs/${answer.job_id}`);
    expect(job.body.source).toBe('zapier');
    const inBuffer = await sandboxSchedules(brand.id);
    expect(timesOf(inBuffer, 'tue')).toEqual(['09:00', '12:30', '17:00']);
  });

  it('clears days without times', async () => {
    const brand = await profile('@skinnyoteam');
    const answer = await appTester(
      App.creates.change_schedule.operation.perform,
      bundle({ profile: brand.id, action: 'clear', days: 'fri' }),
    );
    expect(answer.status).toBe('succeeded');
    expect(timesOf(await sandboxSchedules(brand.id), 'fri')).toEqual([]);
  });

  it('a bad day fails the step with the bridge\'s words', async () => {
    const brand = await profile('@skinnyoteam');
    const direct = await api('POST', '/hooks/zapier', { profile: brand.id, days: 'funday', times: '9am' });
    expect(direct.status).toBe(422);
    const words = direct.body.errors.days[0];
    await expect(
      appTester(App.creates.change_schedule.operation.perform, bundle({ profile: brand.id, action: 'set', days: 'funday', times: ['9am'] })),
    ).rejects.toThrow(`${direct.body.message}: days: ${words}`);
  });

  it('an unknown profile fails with the bridge\'s 404 words', async () => {
    const direct = await api('POST', '/hooks/zapier', { profile: '@nobody-here', days: 'mon', times: '9am' });
    expect(direct.status).toBe(404);
    await expect(
      appTester(App.creates.change_schedule.operation.perform, bundle({ profile: '@nobody-here', action: 'set', days: 'mon', times: ['9am'] })),
    ).rejects.toThrow(direct.body.message);
  });
});

describe('restore_profile', () => {
  it('puts back the schedule before the last change', async () => {
    const brand = await profile('@skinnyoteam');
    const before = timesOf(await sandboxSchedules(brand.id), 'wed');
    const changed = await appTester(
      App.creates.change_schedule.operation.perform,
      bundle({ profile: brand.id, action: 'set', days: 'wed', times: ['06:15'] }),
    );
    expect(changed.status).toBe('succeeded');
    expect(timesOf(await sandboxSchedules(brand.id), 'wed')).toEqual(['06:15']);
    const restored = await appTester(App.creates.restore_profile.operation.perform, bundle({ profile: brand.id }));
    expect(restored.status).toBe('succeeded');
    expect(timesOf(await sandboxSchedules(brand.id), 'wed')).toEqual(before);
  });
});

describe('apply_preset', () => {
  it('applies a preset to a profile: one job, the week in Buffer', async () => {
    const brand = await profile('@skinnyoteam');
    await api('POST', '/v1/presets', { name: 'zap-weekend', schedules: [{ days: ['sat', 'sun'], times: ['10:00', '16:00'] }] });
    const answer = await appTester(App.creates.apply_preset.operation.perform, bundle({ preset: 'zap-weekend', profiles: [brand.id] }));
    expect(answer.preset).toBe('zap-weekend');
    expect(answer.job_ids).toHaveLength(1);
    await waitFor('the preset job', async () => (await api('GET', `/v1/jobs/${answer.job_ids[0]}`)).body.status === 'succeeded');
    const inBuffer = await sandboxSchedules(brand.id);
    expect(timesOf(inBuffer, 'sat')).toEqual(['10:00', '16:00']);
    expect(timesOf(inBuffer, 'mon')).toEqual([]); // a preset replaces the whole week
  });

  it('an unknown preset fails with the bridge\'s words', async () => {
    const brand = await profile('@skinnyoteam');
    const direct = await api('POST', '/v1/presets/zap-nothing/apply', { profiles: [brand.id] });
    expect(direct.status).toBe(404);
    await expect(
      appTester(App.creates.apply_preset.operation.perform, bundle({ preset: 'zap-nothing', profiles: [brand.id] })),
    ).rejects.toThrow(direct.body.message);
  });
});

describe('rotation_control', () => {
  it('pauses, resumes and runs a plan', async () => {
    const brand = await profile('@skinnyoteam');
    await api('POST', '/v1/presets', { name: 'zap-weekend', schedules: [{ days: ['sat', 'sun'], times: ['10:00', '16:00'] }] });
    await api('POST', '/v1/rotations', { name: 'zap-plan', profiles: [brand.id], steps: [{ preset: 'zap-weekend', at: 'sat 00:00' }] });
    const paused = await appTester(App.creates.rotation_control.operation.perform, bundle({ rotation: 'zap-plan', operation: 'pause' }));
    expect(paused.paused).toBe(true);
    expect((await api('GET', '/v1/rotations/zap-plan')).body.paused).toBe(true);
    const resumed = await appTester(App.creates.rotation_control.operation.perform, bundle({ rotation: 'zap-plan', operation: 'resume' }));
    expect(resumed.paused).toBe(false);
    const ran = await appTester(App.creates.rotation_control.operation.perform, bundle({ rotation: 'zap-plan', operation: 'run' }));
    expect(ran.job_ids.length + ran.skipped).toBeGreaterThanOrEqual(1);
    expect(ran.failed).toBe(0);
  });
});

describe('queue_post', () => {
  it('places a post on the profile and answers where it went', async () => {
    const brand = await profile('@skinnyoteam');
    const answer = await appTester(
      App.creates.queue_post.operation.perform,
      bundle({ profile: brand.id, text: 'Hello from the Zapier app test', when: 'queue' }),
    );
    expect(answer.status).toBe('succeeded');
    const job = await api('GET', `/v1/jobs/${answer.job_id}`);
    expect(job.body.result.post_id).toBeTruthy();
    const coming = await api('GET', `/v1/profiles/${brand.id}/posts`);
    expect(coming.body.posts.map((p) => p.excerpt).join('\n')).toMatch(/Hello from the Zapier app test/);
  });
});
