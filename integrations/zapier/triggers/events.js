'use strict';
// Instant triggers: REST hooks on the bridge's outbound events. Subscribing stores the
// hook's id and signing secret (the subscribe answer's `secret`, shown once) in
// subscribeData; every delivery is verified with it before it starts the Zap.
const { bridgeUrl, bridgeWords, segment } = require('../lib/bridge');
const { verify, UnverifiedDelivery } = require('../lib/verify');

const SAMPLE_DATA = {
  account: 'default',
  profile_id: '4eb854340acb04e870000010',
  profile_label: 'twitter:brand',
  summary: 'mon-fri 09:00 12:30 17:00',
  diff_text: 'mon-fri: 12:00 17:00 → 09:00 12:30 17:00',
};

const subscribe = (event) => async (z, bundle) => {
  const response = await z.request({
    url: bridgeUrl(bundle, '/v1/zapier/hooks'),
    method: 'POST',
    body: { hookUrl: bundle.targetUrl, event },
  });
  return response.data; // {id, event, secret}: Zapier keeps it as bundle.subscribeData
};

const unsubscribe = async (z, bundle) => {
  const id = (bundle.subscribeData || {}).id;
  const response = await z.request({
    url: bridgeUrl(bundle, `/v1/zapier/hooks/${segment(id)}`),
    method: 'DELETE',
    skipThrowForStatus: true,
  });
  if (response.status === 404 || response.status < 300) return {}; // 404: already gone
  throw new z.errors.Error(bridgeWords(response), `bridge_${response.status}`, response.status);
};

const received = (event) => async (z, bundle) => {
  const raw = bundle.rawRequest || {};
  let payload;
  try {
    payload = verify((bundle.subscribeData || {}).secret, raw.headers, raw.content);
  } catch (error) {
    if (error instanceof UnverifiedDelivery || error instanceof SyntaxError) {
      throw new z.errors.Error(`ignored a delivery: ${error.message}`, 'unverified', 401);
    }
    throw error;
  }
  return payload.type === event ? [payload] : [];
};

const samples = (event) => async (z, bundle) =>
  (await z.request({ url: bridgeUrl(bundle, '/v1/zapier/samples'), params: { event } })).data;

const hook = (key, event, noun, label, description, data) => ({
  key,
  noun,
  display: { label, description },
  operation: {
    type: 'hook',
    performSubscribe: subscribe(event),
    performUnsubscribe: unsubscribe,
    perform: received(event),
    performList: samples(event),
    sample: {
      id: 'evt_5f0c0a1b2c3d4e5f',
      type: event,
      timestamp: '2026-12-09T09:00:00+00:00',
      account: 'default',
      profile: { id: SAMPLE_DATA.profile_id, label: SAMPLE_DATA.profile_label },
      sequence: 7,
      data: { ...SAMPLE_DATA, ...data },
    },
    outputFields: [
      { key: 'id', label: 'Event ID' },
      { key: 'type', label: 'Event type' },
      { key: 'timestamp', label: 'When' },
      { key: 'data__profile_label', label: 'Profile' },
      { key: 'data__summary', label: 'Schedule summary' },
      { key: 'data__diff_text', label: 'What changed' },
    ],
  },
});

module.exports = [
  hook('schedule_changed', 'schedule.changed', 'Schedule', 'Schedule Changed',
    'Triggers when the bridge changes a profile\'s posting schedule (from any source: REST, Zapier, Slack, rotations).',
    { job_id: 12, source: 'rest' }),
  hook('schedule_drifted', 'schedule.drifted', 'Schedule', 'Schedule Changed in Buffer',
    'Triggers when a snapshot finds a schedule change the bridge did not make (someone used Buffer itself).',
    { snapshot_id: 31, changed_by: null }),
  hook('job_failed', 'job.failed', 'Job', 'Job Failed',
    'Triggers when a change fails for good (Buffer refused it); the error is in words.',
    { job_id: 12, error: 'Buffer refused the change: profile not found', error_status: 404 }),
  hook('rotation_fired', 'rotation.fired', 'Rotation', 'Rotation Fired',
    'Triggers when a rotation plan fires a step for a profile.',
    { job_id: 12, rotation: { plan: 'weekends', preset: 'weekend', action: 'replace', due_at: '2026-12-12T00:00:00+00:00', late_seconds: 0 } }),
  hook('post_scheduled', 'post.scheduled', 'Post', 'Post Scheduled',
    'Triggers when the bridge places a post on a profile\'s week (Buffer\'s queue or the kept week).',
    { post_id: 'post_1', due_at: '2026-12-09T09:00:00+00:00', slot: 'wed 09:00', when: 'queue', status: 'buffer', excerpt: 'Hello' }),
  hook('post_moved', 'post.moved', 'Post', 'Post Moved',
    'Triggers when a placed post moves to another slot because the kept week changed.',
    { post_id: 'post_1', from: '2026-12-09T09:00:00+00:00', to: '2026-12-10T09:00:00+00:00', slot: 'thu 09:00', excerpt: 'Hello' }),
];
