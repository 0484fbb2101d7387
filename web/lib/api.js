// The JSON API client both web apps share: the session token (kept in localStorage), every
// request under /api/v1 with the error shape {"error": {"code", "message"}} turned into an
// ApiError, and the live event stream (Server-Sent Events).

const TOKEN_KEY = 'pp.token';
const USER_KEY = 'pp.user';

/** The signed-in session of this browser (one per origin, as the token is per user). */
export const session = {
  get token() { return localStorage.getItem(TOKEN_KEY); },
  get user() {
    try { return JSON.parse(localStorage.getItem(USER_KEY) || 'null'); } catch { return null; }
  },
  set(token, user) {
    localStorage.setItem(TOKEN_KEY, token);
    localStorage.setItem(USER_KEY, JSON.stringify(user));
  },
  setUser(user) { localStorage.setItem(USER_KEY, JSON.stringify(user)); },
  clear() {
    localStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(USER_KEY);
  },
};

/** An answer of the API that is not a success: `status` 0 means the network failed. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
  /** Whether a retry later may succeed (offline, timeout, server trouble). */
  get transient() { return this.status === 0 || this.status === 429 || this.status >= 500; }
}

/** Listeners told when the server says the session is gone (401), so the app can sign out. */
const unauthorized = new Set();
export function onUnauthorized(fn) { unauthorized.add(fn); }

/**
 * One API call. `path` is below /api/v1 ("/tasks?near=…"). Options: `body` (sent as JSON),
 * `form` (a FormData, sent as multipart), `query` (object of parameters; undefined/null/''
 * values are left out), `signal`, `auth` (default true: send the session token).
 * Resolves to the parsed JSON (or null for an empty body); rejects with an ApiError.
 */
export async function api(method, path, { body, form, query, signal, auth = true } = {}) {
  let url = '/api/v1' + path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
    }
    const qs = params.toString();
    if (qs) url += (url.includes('?') ? '&' : '?') + qs;
  }
  const headers = { Accept: 'application/json' };
  const token = session.token;
  if (auth && token) headers.Authorization = `Bearer ${token}`;
  let payload;
  if (form) payload = form;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, { method, headers, body: payload, signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', e.message || 'network error');
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const err = data && data.error ? data.error : {};
    const error = new ApiError(res.status, err.code || `http_${res.status}`, err.message || res.statusText);
    if (res.status === 401 && auth && token) for (const fn of unauthorized) fn(error);
    throw error;
  }
  return data;
}

export const get = (path, query, opts) => api('GET', path, { ...opts, query });
export const post = (path, body, opts) => api('POST', path, { ...opts, body });
export const put = (path, body, opts) => api('PUT', path, { ...opts, body });
export const patch = (path, body, opts) => api('PATCH', path, { ...opts, body });
export const del = (path, opts) => api('DELETE', path, opts);

/** A GET URL that carries the token as `?token=` (images, tiles, downloads). */
export function authedUrl(path) {
  const url = path.startsWith('/') && !path.startsWith('/api/') ? '/api/v1' + path : path;
  const token = session.token;
  if (!token) return url;
  return url + (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token);
}

/**
 * The caller's live events: `handlers` maps an event name (`team`, `dispatch_alert`,
 * `dispatch_update`, `dispatch`, `incident`, `positions`) to a function of its parsed data.
 * EventSource reconnects by itself and resumes with Last-Event-ID. Returns `close()`.
 * `onState(open: boolean)` is told when the stream opens and drops.
 */
export function stream(handlers, { positions = false, onState } = {}) {
  const token = session.token;
  if (!token) return () => {};
  const qs = new URLSearchParams({ token });
  if (positions) qs.set('positions', '1');
  const source = new EventSource('/api/v1/stream?' + qs);
  for (const [name, fn] of Object.entries(handlers)) {
    source.addEventListener(name, (ev) => {
      let data;
      try { data = JSON.parse(ev.data); } catch { return; }
      fn(data, ev);
    });
  }
  if (onState) {
    source.addEventListener('open', () => onState(true));
    source.addEventListener('error', () => onState(false));
  }
  return () => source.close();
}

/** The web apps' settings (base map tiles, public URL); fetched once. */
let configPromise;
export function config() {
  configPromise ??= api('GET', '/config', { auth: false });
  return configPromise;
}
