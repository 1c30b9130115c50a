'use strict';
// Everything the app says to the bridge goes through here: the one base URL the user
// configured (checked on every request: nothing else is ever called), the client token,
// and the bridge's error answers turned into Zapier errors in the bridge's own words.

const BASE_PATH = '/v1';

// The configured bridge URL, checked: http(s), no credentials, query or fragment.
const baseUrl = (bundle) => {
  const raw = String((bundle.authData || {}).bridge_url || '').trim();
  let url;
  try {
    url = new URL(raw);
  } catch (error) {
    throw new Error(`Bridge URL "${raw}" is not a URL (e.g. https://bridge.example.com)`);
  }
  if (!['https:', 'http:'].includes(url.protocol)) {
    throw new Error('Bridge URL must start with https:// (or http://)');
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new Error('Bridge URL must not carry a user, password, query or fragment');
  }
  url.pathname = url.pathname.replace(/\/+$/, '');
  return url;
};

// The bridge URL of `path` (segments given by the user are encoded by the caller).
const bridgeUrl = (bundle, path) => {
  const base = baseUrl(bundle);
  return `${base.origin}${base.pathname}${path}`;
};

const segment = (value) => encodeURIComponent(String(value));

// beforeRequest: only the configured bridge is ever called, with the client token.
const onlyTheBridge = (request, z, bundle) => {
  const base = baseUrl(bundle);
  const target = new URL(request.url);
  const inside =
    target.origin === base.origin &&
    (target.pathname === base.pathname || target.pathname.startsWith(`${base.pathname}/`));
  if (!inside) {
    throw new z.errors.Error(
      `refusing to call ${target.origin}: this app only calls the bridge URL of the connection`,
      'not_the_bridge',
      400,
    );
  }
  request.headers = request.headers || {};
  request.headers.Authorization = `Bearer ${bundle.authData.api_key}`;
  request.headers.Accept = 'application/json';
  // 429 reaches bridgeErrors (the bridge's words), not core's generic ThrottledError
  request.throwForThrottlingEarly = false;
  return request;
};

// "days: unknown day 'funday' ..." from the bridge's `errors` (flask-smorest nests them
// under the request location, `json` or `query`, which says nothing to a Zap user).
const LOCATIONS = new Set(['json', 'form', 'query', 'headers', 'files']);
const fieldErrors = (errors, path = []) => {
  if (typeof errors === 'string') return [path.length ? `${path.join('.')}: ${errors}` : errors];
  if (Array.isArray(errors)) {
    if (errors.every((e) => typeof e === 'string')) return fieldErrors(errors.join('; '), path);
    return errors.flatMap((e) => fieldErrors(e, path));
  }
  if (!errors || typeof errors !== 'object') return [];
  return Object.entries(errors).flatMap(([key, value]) =>
    fieldErrors(value, path.length === 0 && LOCATIONS.has(key) ? path : [...path, key]),
  );
};

// The bridge's words for a refusal: its `message`, then the fields it names.
const bridgeWords = (response) => {
  let body = null;
  try {
    body = JSON.parse(response.content);
  } catch (error) {
    body = null;
  }
  if (!body || typeof body !== 'object') {
    return `the bridge answered ${response.status}`;
  }
  const parts = [body.message || body.outcome || `the bridge answered ${response.status}`];
  const fields = fieldErrors(body.errors);
  if (fields.length) parts.push(fields.join('; '));
  return parts.join(': ');
};

// afterResponse: 4xx/5xx become Zapier errors with the bridge's words; 429 is a
// ThrottledError after Retry-After; requests that handle a status themselves say so
// with skipThrowForStatus.
const bridgeErrors = (response, z) => {
  const skip = response.skipThrowForStatus || (response.request || {}).skipThrowForStatus;
  if (response.status < 400 || skip) return response;
  const words = bridgeWords(response);
  if (response.status === 429) {
    const retryAfter = parseInt(response.getHeader('retry-after') || '60', 10);
    throw new z.errors.ThrottledError(words, Number.isFinite(retryAfter) ? retryAfter : 60);
  }
  if (response.status === 409) {
    throw new z.errors.Error(words, 'conflict', 409);
  }
  if (response.status === 401) {
    throw new z.errors.Error(words, 'unauthorized', 401);
  }
  throw new z.errors.Error(words, `bridge_${response.status}`, response.status);
};

// Comma lists from Zapier (a line item list or one string) as the bridge reads them.
const commaList = (value) =>
  Array.isArray(value) ? value.map((v) => String(v).trim()).filter(Boolean).join(', ') : value;

module.exports = {
  BASE_PATH,
  baseUrl,
  bridgeUrl,
  bridgeWords,
  bridgeErrors,
  commaList,
  onlyTheBridge,
  segment,
};
