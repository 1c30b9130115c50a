'use strict';
// Every action and dropdown against the running bridge, checked in the Buffer sandbox.
const { describe, it } = require('node:test');
const { App, appTester, api, assert, bundle, profile, rejectsWith, sandboxSchedules, waitFor } = require('./helpers');

const timesOf = (entries, day) => (entries.find((e) => e.days.includes(day)) || { times: [] }).times;
const WEEKEND = { name: 'zap-weekend', schedules: [{ days: ['sat', 'sun'], times: ['10:00', '16:00'] }] };

describe('dropdowns', () => {
  it('lists the profiles the client may use, as the bridge labels them', async () => {
    const choices = await appTester(App.triggers.profile_choices.operation.perform, bundle());
    const direct = await api('GET', '/v1/profiles?format=choices');
    assert.deepEqual(choices, direct.body);
    assert.match(choices.map((c) => c.label).join('\n'), /@skinnyoteam/);
  });

  it('lists presets and rotation plans by name', async () => {
    const brand = await profile('@skinnyoteam');
    assert.equal((await api('POST', '/v1/presets', WEEKEND)).status, 201);
    const plan = await api('POST', '/v1/rotations', {
      name: 'zap-plan',
      profiles: [brand.id],
      steps: [{ preset: 'zap-weekend', at: 'sat 00:00' }],
    });
    assert.equal(plan.status, 201);
    const presets = await appTester(App.triggers.preset_choices.operation.perform, bundle());
    assert.ok(presets.some((p) => p.id === 'zap-weekend' && p.summary === 'sat-sun 10:00 16:00'), JSON.stringify(presets));
    const rotations = await appTester(App.triggers.rotation_choices.operation.perform, bundle());
    assert.ok(rotations.some((r) => r.id === 'zap-plan' && r.paused === false), JSON.stringify(rotations));
  });
});

describe('change_schedule', () => {
  it('sets the weekdays of a profile and answers the outcome; Buffer has it', async () => {
    const brand = await profile('@skinnyoteam');
    const answer = await appTester(
      App.creates.change_schedule.operation.perform,
      bundle({ profile: brand.id, action: 'set', days: 'weekdays', times: ['9am', '12:30', '5pm'] }),
    );
    assert.equal(answer.status, 'succeeded');
    assert.match(answer.outcome, new RegExp(`^Done, job ${answer.job_id} \\(twitter:skinnyoteam\\): `));
    const job = await api('GET', `/v1/jobs/${answer.job_id}`);
    assert.equal(job.body.source, 'zapier');
    assert.deepEqual(timesOf(await sandboxSchedules(brand.id), 'tue'), ['09:00', '12:30', '17:00']);
  });

  it('clears days without times', async () => {
    const brand = await profile('@skinnyoteam');
    const answer = await appTester(
      App.creates.change_schedule.operation.perform,
      bundle({ profile: brand.id, action: 'clear', days: 'fri' }),
    );
    assert.equal(answer.status, 'succeeded');
    assert.deepEqual(timesOf(await sandboxSchedules(brand.id), 'fri'), []);
  });

  it("a bad day fails the step with the bridge's words", async () => {
    const brand = await profile('@skinnyoteam');
    const direct = await api('POST', '/hooks/zapier', { profile: brand.id, days: 'funday', times: '9am' });
    assert.equal(direct.status, 422);
    await rejectsWith(
      appTester(App.creates.change_schedule.operation.perform, bundle({ profile: brand.id, action: 'set', days: 'funday', times: ['9am'] })),
      `${direct.body.message}: days: ${direct.body.errors.days[0]}`,
    );
  });

  it("an unknown profile fails with the bridge's 404 words", async () => {
    const direct = await api('POST', '/hooks/zapier', { profile: '@nobody-here', days: 'mon', times: '9am' });
    assert.equal(direct.status, 404);
    await rejectsWith(
      appTester(App.creates.change_schedule.operation.perform, bundle({ profile: '@nobody-here', action: 'set', days: 'mon', times: ['9am'] })),
      direct.body.message,
    );
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
    assert.equal(changed.status, 'succeeded');
    assert.deepEqual(timesOf(await sandboxSchedules(brand.id), 'wed'), ['06:15']);
    const restored = await appTester(App.creates.restore_profile.operation.perform, bundle({ profile: brand.id }));
    assert.equal(restored.status, 'succeeded');
    assert.deepEqual(timesOf(await sandboxSchedules(brand.id), 'wed'), before);
  });
});

describe('apply_preset', () => {
  it('applies a preset to a profile: one job, the week in Buffer', async () => {
    const brand = await profile('@skinnyoteam');
    await api('POST', '/v1/presets', WEEKEND);
    const answer = await appTester(App.creates.apply_preset.operation.perform, bundle({ preset: 'zap-weekend', profiles: [brand.id] }));
    assert.equal(answer.preset, 'zap-weekend');
    assert.equal(answer.job_ids.length, 1);
    await waitFor('the preset job', async () => (await api('GET', `/v1/jobs/${answer.job_ids[0]}`)).body.status === 'succeeded');
    const inBuffer = await sandboxSchedules(brand.id);
    assert.deepEqual(timesOf(inBuffer, 'sat'), ['10:00', '16:00']);
    assert.deepEqual(timesOf(inBuffer, 'mon'), []); // a preset replaces the whole week
  });

  it("an unknown preset fails with the bridge's words", async () => {
    const brand = await profile('@skinnyoteam');
    const direct = await api('POST', '/v1/presets/zap-nothing/apply', { profiles: [brand.id] });
    assert.equal(direct.status, 404);
    await rejectsWith(
      appTester(App.creates.apply_preset.operation.perform, bundle({ preset: 'zap-nothing', profiles: [brand.id] })),
      direct.body.message,
    );
  });
});

describe('rotation_control', () => {
  it('pauses, resumes and runs a plan', async () => {
    const brand = await profile('@skinnyoteam');
    await api('POST', '/v1/presets', WEEKEND);
    await api('POST', '/v1/rotations', { name: 'zap-plan', profiles: [brand.id], steps: [{ preset: 'zap-weekend', at: 'sat 00:00' }] });
    const paused = await appTester(App.creates.rotation_control.operation.perform, bundle({ rotation: 'zap-plan', operation: 'pause' }));
    assert.equal(paused.paused, true);
    assert.equal((await api('GET', '/v1/rotations/zap-plan')).body.paused, true);
    const resumed = await appTester(App.creates.rotation_control.operation.perform, bundle({ rotation: 'zap-plan', operation: 'resume' }));
    assert.equal(resumed.paused, false);
    const ran = await appTester(App.creates.rotation_control.operation.perform, bundle({ rotation: 'zap-plan', operation: 'run' }));
    assert.ok(ran.job_ids.length + ran.skipped >= 1, JSON.stringify(ran));
    assert.equal(ran.failed, 0);
  });
});

describe('queue_post', () => {
  it('places a post on the profile and answers where it went', async () => {
    const brand = await profile('@skinnyoteam');
    const answer = await appTester(
      App.creates.queue_post.operation.perform,
      bundle({ profile: brand.id, text: 'Hello from the Zapier app test', when: 'queue' }),
    );
    assert.equal(answer.status, 'succeeded');
    const job = await api('GET', `/v1/jobs/${answer.job_id}`);
    assert.ok(job.body.result.post_id);
    const coming = await api('GET', `/v1/profiles/${brand.id}/posts`);
    assert.match(coming.body.posts.map((p) => p.excerpt).join('\n'), /Hello from the Zapier app test/);
  });
});
