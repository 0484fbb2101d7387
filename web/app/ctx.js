// What every screen of the envoy app shares: texts, the signed-in envoy, the tracker, navigation.
import { ApiError, get, session } from '/lib/api.js';
import { createI18n, COMMON, merge } from '/lib/i18n.js';
import { TEXTS } from './texts.js';
import { createTracker } from './tracker.js';
import { toast } from './ui.js';

export const i18n = createI18n(merge(COMMON, TEXTS));
export const t = i18n.t;
export const tracker = createTracker();

/** App state: `me` (GET /me: the user with current_team_id), `team` (the current team, cached). */
export const state = { me: null, team: null, task: null };

/** Set by main.js: what runs after a sign-in (state, event stream). */
export const hooks = { signedIn: async () => {} };

export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}

/** An error as a sentence in the current language. */
export function errorText(e) {
  if (e instanceof ApiError) {
    if (e.status === 0) return t('error.network');
    const key = 'err.' + e.code;
    const text = t(key);
    return text === key ? t('error.generic', { message: e.message }) : text;
  }
  if (e && typeof e.code === 'number' && 'PERMISSION_DENIED' in e) return t('err.geo') + (e.message ? `: ${e.message}` : '');
  return t('error.generic', { message: e?.message || String(e) });
}

export function showError(e) { toast(errorText(e), 'error'); }

/** Reloads who I am and my current team (and its task); starts or stops the patrol tracker. */
/**
 * `forget`: a team id from a `team` event that is not finished: if I am in no team now, I left
 * it or was removed, and its outcome is not mine to show.
 */
export async function refreshMe({ forget = null } = {}) {
  let me;
  try {
    me = await get('/me');
  } catch (e) {
    // offline: carry on with what was known (the patrol keeps recording positions)
    const cached = e instanceof ApiError && e.status === 0 ? readCache() : null;
    if (!cached) throw e;
    Object.assign(state, cached);
    tracker.want('patrol', state.team?.state === 'active');
    return state.me;
  }
  state.me = me;
  session.setUser(me);
  const lastKey = `pp.lastTeam.${me.id}`;
  let teamId = me.current_team_id;
  if (!teamId && forget && localStorage.getItem(lastKey) === forget) localStorage.removeItem(lastKey);
  if (teamId) localStorage.setItem(lastKey, teamId);
  else teamId = localStorage.getItem(lastKey); // a finished patrol still shows its outcome
  state.team = null;
  if (teamId) {
    try {
      const team = await get(`/teams/${teamId}`);
      if (team.id === me.current_team_id || team.state === 'finished') {
        if (!state.task || state.task.id !== team.task_id) state.task = await get(`/tasks/${team.task_id}`);
        state.team = team;
      } else {
        localStorage.removeItem(lastKey);
      }
    } catch (e) {
      if (e instanceof ApiError && e.status < 500 && e.status !== 0) localStorage.removeItem(lastKey);
      else throw e;
    }
  }
  tracker.want('patrol', state.team?.state === 'active');
  writeCache();
  return me;
}

const CACHE_KEY = 'pp.state';
function writeCache() {
  try {
    localStorage.setItem(CACHE_KEY, JSON.stringify({ uid: session.user?.id, me: state.me, team: state.team, task: state.task }));
  } catch { /* full storage: not needed online */ }
}
function readCache() {
  try {
    const c = JSON.parse(localStorage.getItem(CACHE_KEY) || 'null');
    return c && c.uid === session.user?.id && c.me ? { me: c.me, team: c.team, task: c.task } : null;
  } catch { return null; }
}

/** The current team again (after a `team` event); keeps the tracker in step. */
export async function refreshTeam(teamId = state.team?.id || state.me?.current_team_id) {
  if (!teamId) return refreshMe();
  try {
    const team = await get(`/teams/${teamId}`);
    if (!state.task || state.task.id !== team.task_id) state.task = await get(`/tasks/${team.task_id}`);
    state.team = team;
    if (team.state === 'disbanded') return refreshMe();
  } catch (e) {
    if (e instanceof ApiError && (e.status === 403 || e.status === 404)) return refreshMe();
    throw e;
  }
  tracker.want('patrol', state.team?.state === 'active');
  writeCache();
  return state.team;
}

/** Screens subscribe to app events (team changes, incidents) while they are shown. */
const bus = new EventTarget();
export function emit(name, detail) { bus.dispatchEvent(new CustomEvent(name, { detail })); }
export function on(name, fn) {
  const listener = (ev) => fn(ev.detail);
  bus.addEventListener(name, listener);
  return () => bus.removeEventListener(name, listener);
}
