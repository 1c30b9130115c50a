'use strict';
// Actions. Schedule changes, restores and posts go through the bridge's Zapier webhook
// (`POST /hooks/zapier?wait=20`): the bridge waits up to 20 s for Buffer (under Zapier's
// 30 s) and answers the outcome in words, or 202 with the job when it is still waiting.
const { bridgeUrl, commaList, segment } = require('../lib/bridge');

const WAIT_SECONDS = 20;

const profileField = {
  key: 'profile',
  label: 'Profile',
  required: true,
  dynamic: 'profile_choices.id.label',
  helpText: 'The Buffer profile (or type `twitter:brand` / `@brand`).',
};

const idempotencyField = {
  key: 'idempotency_key',
  label: 'Idempotency key',
  required: false,
  helpText: 'Optional: a value that identifies the trigger (e.g. its ID). A replayed step then makes no second change.',
};

const viaWebhook = async (z, bundle, fields) => {
  const headers = {};
  if (bundle.inputData.idempotency_key) headers['Idempotency-Key'] = String(bundle.inputData.idempotency_key);
  const response = await z.request({
    url: bridgeUrl(bundle, '/hooks/zapier'),
    method: 'POST',
    params: { wait: WAIT_SECONDS },
    headers,
    body: fields,
  });
  return response.data;
};

const ACTIONS = {
  set: 'set: these days get exactly these times, other days are kept',
  replace: 'replace: the whole week becomes these days at these times',
  add: 'add these times to these days',
  remove: 'remove these times from these days',
  clear: 'clear: these days get no times',
};

const changeSchedule = {
  key: 'change_schedule',
  noun: 'Schedule',
  display: {
    label: 'Change Posting Schedule',
    description: 'Sets, replaces, adds to, removes from or clears the posting times of a Buffer profile.',
  },
  operation: {
    inputFields: [
      profileField,
      { key: 'action', label: 'Action', required: true, default: 'set', choices: ACTIONS },
      { key: 'days', label: 'Days', required: true, helpText: '`mon`..`sun`, ranges `mon-fri`, lists `mon, wed`, `weekdays`, `weekends`, `daily`.' },
      { key: 'times', label: 'Times', list: true, required: false, helpText: '`09:00` or `9am`; one per line (not needed to clear).' },
      idempotencyField,
    ],
    perform: (z, bundle) => {
      const { profile, action, days, times } = bundle.inputData;
      const fields = { profile, action, days: commaList(days) };
      if (action !== 'clear') fields.times = commaList(times || []);
      return viaWebhook(z, bundle, fields);
    },
    sample: {
      job_id: 12,
      status: 'succeeded',
      action: 'set',
      profile: 'twitter:brand',
      profile_id: '4eb854340acb04e870000010',
      outcome: 'Done, job 12 (twitter:brand): mon-fri: 12:00 17:00 → 09:00 12:30 17:00',
    },
    outputFields: [
      { key: 'job_id', label: 'Job ID', type: 'integer' },
      { key: 'status', label: 'Status' },
      { key: 'outcome', label: 'Outcome' },
      { key: 'profile', label: 'Profile' },
    ],
  },
};

const restoreProfile = {
  key: 'restore_profile',
  noun: 'Schedule',
  display: {
    label: 'Restore Posting Schedule',
    description: 'Puts back an earlier schedule of a profile: a snapshot, or the one before its last change.',
  },
  operation: {
    inputFields: [
      profileField,
      { key: 'snapshot_id', label: 'Snapshot ID', required: false, helpText: 'A snapshot id (`bridge snapshots list`), or empty for the schedule before the last change.' },
      idempotencyField,
    ],
    perform: (z, bundle) => {
      const fields = { profile: bundle.inputData.profile, action: 'restore' };
      if (bundle.inputData.snapshot_id) fields.snapshot_id = String(bundle.inputData.snapshot_id);
      return viaWebhook(z, bundle, fields);
    },
    sample: { job_id: 13, status: 'succeeded', action: 'restore', profile: 'twitter:brand', outcome: 'Done, job 13 (twitter:brand): ...' },
  },
};

const queuePost = {
  key: 'queue_post',
  noun: 'Post',
  display: {
    label: 'Queue Post',
    description: 'Places a post on the profile\'s week: its next free slot, now, or at a time.',
  },
  operation: {
    inputFields: [
      profileField,
      { key: 'text', label: 'Text', required: true, type: 'text' },
      { key: 'when', label: 'When', required: false, default: 'queue', helpText: '`queue` (the next free slot), `now`, or an ISO 8601 time with its offset (`2027-03-01T09:00:00+01:00`).' },
      { key: 'link', label: 'Link', required: false, helpText: 'Sent inside the text.' },
      idempotencyField,
    ],
    perform: (z, bundle) => {
      const { profile, text, when, link } = bundle.inputData;
      const fields = { profile, action: 'post', text, when: when || 'queue' };
      if (link) fields.link = link;
      return viaWebhook(z, bundle, fields);
    },
    sample: { job_id: 14, status: 'succeeded', action: 'post', profile: 'twitter:brand', outcome: 'Done, job 14 (twitter:brand): post placed' },
  },
};

const applyPreset = {
  key: 'apply_preset',
  noun: 'Preset',
  display: {
    label: 'Apply Preset',
    description: 'Applies a named week (a preset) to profiles: one job per profile. A preset replaces the whole week.',
  },
  operation: {
    inputFields: [
      { key: 'preset', label: 'Preset', required: true, dynamic: 'preset_choices.id.label' },
      { ...profileField, key: 'profiles', label: 'Profiles', list: true, required: false, helpText: 'The profiles; or leave empty and name a service.' },
      { key: 'service', label: 'Service', required: false, helpText: 'Every profile of this service you may change (e.g. `twitter`), instead of profiles.' },
    ],
    perform: async (z, bundle) => {
      const { preset, profiles, service } = bundle.inputData;
      const body = {};
      if (profiles && profiles.length) body.profiles = [].concat(profiles);
      if (service) body.service = service;
      const response = await z.request({
        url: bridgeUrl(bundle, `/v1/presets/${segment(preset)}/apply`),
        method: 'POST',
        body,
      });
      const answer = response.data;
      return { ...answer, job_ids: answer.jobs.map((j) => j.job_id) };
    },
    sample: { group_id: 'g_1', preset: 'weekend', status: 'queued', job_ids: [15], jobs: [{ job_id: 15, status: 'queued' }] },
  },
};

const rotationControl = {
  key: 'rotation_control',
  noun: 'Rotation',
  display: {
    label: 'Run, Pause or Resume Rotation',
    description: 'Runs a rotation plan now (the step in effect now), or pauses or resumes it.',
  },
  operation: {
    inputFields: [
      { key: 'rotation', label: 'Rotation plan', required: true, dynamic: 'rotation_choices.id.label' },
      { key: 'operation', label: 'Do', required: true, default: 'run', choices: { run: 'run now', pause: 'pause', resume: 'resume' } },
    ],
    perform: async (z, bundle) => {
      const { rotation, operation } = bundle.inputData;
      if (!['run', 'pause', 'resume'].includes(operation)) {
        throw new z.errors.Error(`unknown operation "${operation}" (run, pause or resume)`, 'invalid_input', 400);
      }
      const response = await z.request({
        url: bridgeUrl(bundle, `/v1/rotations/${segment(rotation)}/${operation}`),
        method: 'POST',
        body: {},
      });
      const answer = response.data;
      if (operation === 'run') {
        return { rotation, operation, ...answer, job_ids: answer.jobs.map((j) => j.job_id) };
      }
      return { rotation, operation, ...answer };
    },
    sample: { rotation: 'weekends', operation: 'pause', name: 'weekends', paused: true },
  },
};

module.exports = [changeSchedule, applyPreset, rotationControl, restoreProfile, queuePost];
