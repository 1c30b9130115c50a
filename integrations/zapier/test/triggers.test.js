'use strict';
// Each instant trigger end to end: subscribe through the app (the bridge answers the
// hook's id and secret), make the event happen in the bridge or the sandbox, receive the
// signed delivery on a local hook URL, run the trigger's perform on it exactly as it
// arrived (verified with the secret), then unsubscribe through the app.
const { App, appTester, api, bundle, profile, receiver, sandboxUpdate, waitFor } = require('./helpers');

let hooks;
beforeAll(async () => {
  hooks = await receiver();
});
afterAll(async () => {
  await hooks.close();
});

const subscribed = async (key) => {
  const trigger = App.triggers[key].operation;
  const subscribeData = await appTester(trigger.performSubscribe, bundle({}, { targetUrl: hooks.url(key) }));
  expect(subscribeData.secret).toMatch(/^whsec_/);
  const made = await api('GET', `/v1/subscriptions/${subscribeData.id}`);
  expect(made.status).toBe(200);
  expect(made.body.kind).toBe('zapier');
  expect(made.body).not.toHaveProperty('secret');
  return subscribeData;
};

const received = async (key, type, subscribeData) => {
  const delivery = await waitFor(`a ${type} delivery`, () => hooks.of(type).find((d) => d.headers['webhook-id']), 30);
  const rawRequest = { method: 'POST', headers: delivery.headers, content: delivery.content };
  const trigger = App.triggers[key].operation;
  const [event] = await appTester(trigger.perform, bundle({}, { subscribeData, rawRequest }));
  expect(event.type).toBe(type);
  expect(event.id).toBe(delivery.headers['webhook-id']);
  // a forged copy (another body under the same signature) never starts a Zap
  const forged = { ...rawRequest, content: delivery.content.replace(/"sequence": ?\d+/, '"sequence": 999') };
  await expect(appTester(trigger.perform, bundle({}, { subscribeData, rawRequest: forged }))).rejects.toThrow(
    "ignored a delivery: delivery signature does not match this hook's secret",
  );
  return event;
};

const unsubscribed = async (key, subscribeData) => {
  await appTester(App.triggers[key].operation.performUnsubscribe, bundle({}, { subscribeData }));
  expect((await api('GET', `/v1/subscriptions/${subscribeData.id}`)).status).toBe(404);
};

describe('instant triggers', () => {
  it.each(Object.keys(App.triggers).filter((k) => App.triggers[k].operation.type === 'hook'))(
    '%s lists samples from the bridge',
    async (key) => {
      const list = await appTester(App.triggers[key].operation.performList, bundle());
      const type = App.triggers[key].operation.sample.type;
      expect(list.length).toBeGreaterThanOrEqual(1);
      expect(list.every((e) => e.type === type && e.id)).toBe(true);
    },
  );

  it('schedule_changed: subscribe, a change, the verified event, unsubscribe', async () => {
    const brand = await profile('@skinnyoteam');
    const hook = await subscribed('schedule_changed');
    const made = await api('PATCH', `/v1/profiles/${brand.id}/schedules`, { days: 'mon', times: ['07:45'] });
    expect(made.status).toBe(202);
    const event = await received('schedule_changed', 'schedule.changed', hook);
    expect(event.data.job_id).toBe(made.body.job_id);
    expect(event.data.profile_label).toBe('twitter:skinnyoteam');
    await unsubscribed('schedule_changed', hook);
  });

  it('schedule_drifted: a change made in Buffer itself, found by a snapshot', async () => {
    const brand = await profile('@skinnyoteam');
    const hook = await subscribed('schedule_drifted');
    expect((await sandboxUpdate(brand.id, ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], ['11:11'])).success).toBe(true);
    expect((await api('POST', '/v1/snapshots', {})).status).toBeLessThan(300);
    const event = await received('schedule_drifted', 'schedule.drifted', hook);
    expect(event.profile.id).toBe(brand.id);
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
    await expect(action).rejects.toThrow(/limit of 25 posts a day/);
    const event = await received('job_failed', 'job.failed', hook);
    expect(event.data.error).toMatch(/limit of 25 posts a day/);
    await unsubscribed('job_failed', hook);
  });

  it('rotation_fired: a plan run now', async () => {
    const brand = await profile('@skinnyoteam');
    await api('POST', '/v1/presets', { name: 'zap-fired', schedules: [{ days: ['mon'], times: ['10:30'] }] });
    await api('POST', '/v1/rotations', { name: 'zap-fired', profiles: [brand.id], steps: [{ preset: 'zap-fired', at: 'mon 00:00' }] });
    const hook = await subscribed('rotation_fired');
    const ran = await api('POST', '/v1/rotations/zap-fired/run');
    expect(ran.status).toBe(202);
    const event = await received('rotation_fired', 'rotation.fired', hook);
    expect(event.data.rotation.plan).toBe('zap-fired');
    await unsubscribed('rotation_fired', hook);
  });

  it('post_scheduled and post_moved: a post placed on a kept week, then the week changes', async () => {
    const { profiles } = (await api('GET', '/v1/profiles')).body;
    const kept = profiles.find((p) => p.service === 'twitter' && p.service_username !== 'skinnyoteam') || profiles[1];
    const scheduled = await subscribed('post_scheduled');
    const moved = await subscribed('post_moved');
    const mode = await api('PATCH', `/v1/profiles/${kept.id}`, { schedule_mode: 'bridge' });
    expect(mode.status).toBe(200);
    const week = await api('PUT', `/v1/profiles/${kept.id}/schedules`, { schedules: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], times: ['09:00'] }] });
    expect(week.status).toBe(202);
    await waitFor('the kept week', async () => (await api('GET', `/v1/jobs/${week.body.job_id}`)).body.status === 'succeeded');
    const posted = await appTester(App.creates.queue_post.operation.perform, bundle({ profile: kept.id, text: 'Moved by the Zapier app test' }));
    expect(posted.status).toBe('succeeded');
    const placed = await received('post_scheduled', 'post.scheduled', scheduled);
    const job = await api('GET', `/v1/jobs/${posted.job_id}`);
    expect(placed.data.post_id).toBe(job.body.result.post_id);
    expect(placed.data.slot).toMatch(/09:00$/);
    const later = await api('PUT', `/v1/profiles/${kept.id}/schedules`, { schedules: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], times: ['21:00'] }] });
    expect(later.status).toBe(202);
    const event = await received('post_moved', 'post.moved', moved);
    expect(event.data.slot).toMatch(/21:00$/);
    await unsubscribed('post_scheduled', scheduled);
    await unsubscribed('post_moved', moved);
  });

  it('a hook without a secret (made before the bridge answered one) refuses deliveries', async () => {
    const perform = App.triggers.schedule_changed.operation.perform;
    await expect(appTester(perform, bundle({}, { subscribeData: { id: 1 }, rawRequest: { headers: {}, content: '{}' } }))).rejects.toThrow(
      'ignored a delivery: no signing secret for this hook: turn the Zap off and on again',
    );
  });
});
