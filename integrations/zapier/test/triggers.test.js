'use strict';
// Each instant trigger end to end: subscribe through the app (the bridge answers the
// hook's id and secret), make the event happen in the bridge or the sandbox, receive the
// signed delivery on a local hook URL, run the trigger's perform on it exactly as it
// arrived (verified with the secret), then unsubscribe through the app.
const { after, before, describe, it } = require('node:test');
const { App, appTester, api, assert, bundle, profile, receiver, rejectsWith, sandboxUpdate, waitFor } = require('./helpers');

let hooks;
before(async () => {
  hooks = await receiver();
});
after(async () => {
  await hooks.close();
});

const subscribed = async (key) => {
  const trigger = App.triggers[key].operation;
  const subscribeData = await appTester(trigger.performSubscribe, bundle({}, { targetUrl: hooks.url(key) }));
  assert.match(subscribeData.secret, /^whsec_/);
  const made = await api('GET', `/v1/subscriptions/${subscribeData.id}`);
  assert.equal(made.status, 200);
  assert.equal(made.body.kind, 'zapier');
  assert.equal('secret' in made.body, false);
  return subscribeData;
};

// The first delivery of `type` whose event `wanted` (other tests' jobs may land too).
const received = async (key, type, subscribeData, wanted = () => true) => {
  const delivery = await waitFor(
    `a ${type} delivery`,
    () => hooks.of(type).find((d) => d.headers['webhook-id'] && wanted(JSON.parse(d.content))),
    30,
  );
  const rawRequest = { method: 'POST', headers: delivery.headers, content: delivery.content };
  const trigger = App.triggers[key].operation;
  const [event] = await appTester(trigger.perform, bundle({}, { subscribeData, rawRequest }));
  assert.equal(event.type, type);
  assert.equal(event.id, delivery.headers['webhook-id']);
  // a forged copy (another body under the same signature) never starts a Zap
  const forged = { ...rawRequest, content: delivery.content.replace(/"sequence": ?\d+/, '"sequence": 999') };
  await rejectsWith(
    appTester(trigger.perform, bundle({}, { subscribeData, rawRequest: forged })),
    "ignored a delivery: delivery signature does not match this hook's secret",
  );
  return event;
};

const unsubscribed = async (key, subscribeData) => {
  await appTester(App.triggers[key].operation.performUnsubscribe, bundle({}, { subscribeData }));
  assert.equal((await api('GET', `/v1/subscriptions/${subscribeData.id}`)).status, 404);
};

describe('instant triggers', () => {
  for (const key of Object.keys(App.triggers).filter((k) => App.triggers[k].operation.type === 'hook')) {
    it(`${key} lists samples from the bridge`, async () => {
      const list = await appTester(App.triggers[key].operation.performList, bundle());
      const type = App.triggers[key].operation.sample.type;
      assert.ok(list.length >= 1);
      assert.ok(list.every((e) => e.type === type && e.id), JSON.stringify(list));
    });
  }

  it('schedule_changed: subscribe, a change, the verified event, unsubscribe', async () => {
    const brand = await profile('@skinnyoteam');
    const hook = await subscribed('schedule_changed');
    const made = await api('PATCH', `/v1/profiles/${brand.id}/schedules`, { days: 'mon', times: ['07:45'] });
    assert.equal(made.status, 202);
    const event = await received('schedule_changed', 'schedule.changed', hook, (e) => e.data.job_id === made.body.job_id);
    assert.equal(event.data.job_id, made.body.job_id);
    assert.equal(event.data.profile_label, 'twitter:skinnyoteam');
    await unsubscribed('schedule_changed', hook);
  });

  it('schedule_drifted: a change made in Buffer itself, found by a snapshot', async () => {
    const brand = await profile('@skinnyoteam');
    const hook = await subscribed('schedule_drifted');
    assert.equal((await sandboxUpdate(brand.id, ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], ['11:11'])).success, true);
    assert.ok((await api('POST', '/v1/snapshots', {})).status < 300);
    const event = await received('schedule_drifted', 'schedule.drifted', hook, (e) => e.profile.id === brand.id);
    assert.equal(event.profile.id, brand.id);
    await unsubscribed('schedule_drifted', hook);
  });

  it('job_failed: Buffer refuses a change', async () => {
    const { profiles } = (await api('GET', '/v1/profiles')).body;
    const limited = profiles.find((p) => p.service === 'facebook' || p.service === 'linkedin');
    const hook = await subscribed('job_failed');
    const times = Array.from({ length: 26 }, (_, i) => `${String(i % 24).padStart(2, '0')}:${i < 24 ? '05' : '35'}`);
    const action = appTester(
      App.creates.change_schedule.operation.perform,
      bundle({ profile: limited.id, action: 'set', days: 'mon', times }),
    );
    await rejectsWith(action, /limit of 25 posts a day/);
    const event = await received('job_failed', 'job.failed', hook, (e) => e.profile.id === limited.id);
    assert.match(event.data.error, /limit of 25 posts a day/);
    await unsubscribed('job_failed', hook);
  });

  it('rotation_fired: a plan run now', async () => {
    const brand = await profile('@skinnyoteam');
    await api('POST', '/v1/presets', { name: 'zap-fired', schedules: [{ days: ['mon'], times: ['10:30'] }] });
    await api('POST', '/v1/rotations', { name: 'zap-fired', profiles: [brand.id], steps: [{ preset: 'zap-fired', at: 'mon 00:00' }] });
    const hook = await subscribed('rotation_fired');
    const ran = await api('POST', '/v1/rotations/zap-fired/run');
    assert.equal(ran.status, 202);
    const event = await received('rotation_fired', 'rotation.fired', hook, (e) => e.data.rotation.plan === 'zap-fired');
    assert.equal(event.data.rotation.plan, 'zap-fired');
    await unsubscribed('rotation_fired', hook);
  });

  it('post_scheduled and post_moved: a post placed on a kept week, then the week changes', async () => {
    const { profiles } = (await api('GET', '/v1/profiles')).body;
    const kept = profiles.find((p) => p.service === 'twitter' && p.service_username !== 'skinnyoteam') || profiles[1];
    const scheduled = await subscribed('post_scheduled');
    const moved = await subscribed('post_moved');
    const mode = await api('PATCH', `/v1/profiles/${kept.id}`, { schedule_mode: 'bridge' });
    assert.equal(mode.status, 200);
    const week = await api('PUT', `/v1/profiles/${kept.id}/schedules`, { schedules: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], times: ['09:00'] }] });
    assert.equal(week.status, 202);
    await waitFor('the kept week', async () => (await api('GET', `/v1/jobs/${week.body.job_id}`)).body.status === 'succeeded');
    const posted = await appTester(App.creates.queue_post.operation.perform, bundle({ profile: kept.id, text: 'Moved by the Zapier app test' }));
    assert.equal(posted.status, 'succeeded');
    const placed = await received('post_scheduled', 'post.scheduled', scheduled, (e) => e.profile.id === kept.id);
    const job = await api('GET', `/v1/jobs/${posted.job_id}`);
    assert.equal(placed.data.post_id, job.body.result.post_id);
    assert.match(placed.data.slot, /09:00$/);
    const later = await api('PUT', `/v1/profiles/${kept.id}/schedules`, { schedules: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], times: ['21:00'] }] });
    assert.equal(later.status, 202);
    const event = await received('post_moved', 'post.moved', moved, (e) => e.profile.id === kept.id);
    assert.match(event.data.slot, /21:00$/);
    await unsubscribed('post_scheduled', scheduled);
    await unsubscribed('post_moved', moved);
  });

  it('a hook without a secret (made before the bridge answered one) refuses deliveries', async () => {
    const perform = App.triggers.schedule_changed.operation.perform;
    await rejectsWith(
      appTester(perform, bundle({}, { subscribeData: { id: 1 }, rawRequest: { headers: {}, content: '{}' } })),
      'ignored a delivery: no signing secret for this hook: turn the Zap off and on again',
    );
  });
});
