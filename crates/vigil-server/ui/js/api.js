// The console API client: JSON requests with the session's CSRF token; problem JSON as errors.

let csrf = null;
let onUnauthorized = () => {};

/** Remembers the CSRF token of the session (from login or GET /api/v1/session). */
export function setCsrf(token) {
  csrf = token || null;
}

/** What to do when the server answers 401 (show the login screen). */
export function whenUnauthorized(f) {
  onUnauthorized = f;
}

/** An API failure carrying the problem JSON's status, title and detail. */
export class ApiError extends Error {
  constructor(status, title, detail) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.title = title || `HTTP ${status}`;
  }
}

/** Sends a request to `/api/v1/<path>`; resolves to the JSON body (null for 204). */
export async function api(path, { method = 'GET', body, query, quiet401 = false } = {}) {
  let url = `/api/v1/${path}`;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
    const s = q.toString();
    if (s) url += `?${s}`;
  }
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  let res;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  } catch (e) {
    throw new ApiError(0, 'Network error', `the server did not answer: ${e.message}`);
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    if (res.status === 401 && !quiet401) onUnauthorized();
    let detail = json && json.detail ? json.detail : text.slice(0, 200);
    if (res.status === 404) detail = `${detail} (${method} ${url.split('?')[0]})`;
    throw new ApiError(res.status, json && json.title, detail);
  }
  return json;
}

/** GET shorthand with query parameters. */
export const get = (path, query) => api(path, { query });
/** POST shorthand. */
export const post = (path, body) => api(path, { method: 'POST', body: body === undefined ? {} : body });
