// The command dashboard (/command): sign-in, the map, the tabs, the live event stream; each
// tab is its own module (layers, publish, dispatch, teams, incidents, stats) that gets `ctx`.
import { api, session, stream, onUnauthorized, ApiError } from '../lib/api.js';
import { createI18n, COMMON, merge } from '../lib/i18n.js';
import { baseMap } from '../lib/map.js';
import { TEXT } from './text.js';
import { $ } from './dom.js';
import * as layers from './layers.js';
import * as publish from './publish.js';
import * as dispatch from './dispatch.js';
import * as teams from './teams.js';
import * as incidents from './incidents.js';
import * as stats from './stats.js';

const i18n = createI18n(merge(COMMON, TEXT));
const t = i18n.t;
const DASHBOARD_ROLES = ['commander', 'admin', 'staff'];

i18n.apply();
$('#lang').addEventListener('click', () => i18n.setLang(i18n.lang === 'zh' ? 'en' : 'zh'));

onUnauthorized(() => signOut(true));
$('#signout').addEventListener('click', () => signOut(false));

let leaving = false;
function signOut(expired) {
  if (leaving) return;
  leaving = true;
  const token = session.token;
  session.clear();
  // the logout outlives the page (keepalive); the session ends on the server too
  if (!expired && token) {
    fetch('/api/v1/auth/logout', { method: 'POST', headers: { Authorization: `Bearer ${token}` }, keepalive: true }).catch(() => {});
  }
  // a fresh page drops every timer, stream and layer of the old session
  const url = new URL(location.href);
  url.hash = '';
  if (expired) url.searchParams.set('expired', '1');
  else url.searchParams.delete('expired');
  history.replaceState(null, '', url.pathname + url.search);
  location.reload();
}

$('#signin').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const err = $('#signin-error');
  err.textContent = '';
  const phone = $('#signin-phone').value.trim();
  const password = $('#signin-password').value;
  if (!phone || !password) { err.textContent = t('signin.missing'); return; }
  const button = ev.submitter || $('#signin button[type=submit]');
  button.disabled = true;
  try {
    const res = await api('POST', '/auth/login', { body: { phone, password }, auth: false });
    if (!DASHBOARD_ROLES.includes(res.user.role)) {
      err.textContent = t('signin.wrongRole');
      // do not keep an envoy's session here: the envoy app has its own sign-in
      await fetch('/api/v1/auth/logout', { method: 'POST', headers: { Authorization: `Bearer ${res.token}` } }).catch(() => {});
      return;
    }
    session.set(res.token, res.user);
    $('#signin-password').value = '';
    await start(res.user);
  } catch (e) {
    err.textContent = e instanceof ApiError && e.code === 'invalid_credentials' ? t('signin.invalid') : errorText(e);
  } finally {
    button.disabled = false;
  }
});

function errorText(e) {
  if (e instanceof ApiError) {
    if (e.status === 0) return t('error.network');
    return t('error.generic', { message: e.message || e.code });
  }
  return t('error.generic', { message: e?.message || String(e) });
}

let toastTimer;
function toast(message, { error = false } = {}) {
  const el = $('#toast');
  el.textContent = message;
  el.classList.toggle('error', error);
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, error ? 7000 : 4000);
}

/** Event handlers by SSE event name. */
const eventHandlers = new Map();
function on(name, fn) {
  if (!eventHandlers.has(name)) eventHandlers.set(name, new Set());
  eventHandlers.get(name).add(fn);
}
function emit(name, data) {
  for (const fn of eventHandlers.get(name) || []) {
    try { fn(data); } catch (e) { console.warn('handler of', name, e); }
  }
}

/** One module at a time owns the map's clicks (drawing, picking a dispatch point). */
let mapOwner = null;
function claimMap(owner, { message, onClick, onMove, onCancel, keepDoubleClick = false }) {
  if (mapOwner && mapOwner.owner !== owner) mapOwner.onCancel?.();
  mapOwner = { owner, message, onClick, onMove, onCancel };
  ctx.map.getContainer().classList.add('picking');
  if (!keepDoubleClick) ctx.map.doubleClickZoom.disable();
  setMapMessage(message);
}
function releaseMap(owner) {
  if (!mapOwner || mapOwner.owner !== owner) return;
  mapOwner = null;
  ctx.map.getContainer().classList.remove('picking');
  ctx.map.doubleClickZoom.enable();
  setMapMessage(null);
}
function setMapMessage(text) {
  const message = typeof text === 'function' ? text() : text;
  const el = $('#map-mode');
  el.textContent = message || '';
  el.hidden = !message;
}

/** Tabs: ARIA tablist with arrow keys; modules are told when their tab shows. */
const tabHandlers = new Map();
function onTab(name, fn) { tabHandlers.set(name, fn); }
function visibleTabs() { return [...document.querySelectorAll('[role=tab]')].filter((b) => !b.hidden); }
function showTab(name, { focus = false } = {}) {
  for (const tab of document.querySelectorAll('[role=tab]')) {
    const on = tab.dataset.tab === name;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $('#' + tab.getAttribute('aria-controls')).hidden = !on;
    if (on && focus) tab.focus();
  }
  ctx.tab = name;
  $('#panel').classList.toggle('wide', name === 'stats');
  history.replaceState(null, '', '#' + name);
  tabHandlers.get(name)?.();
}
for (const tab of document.querySelectorAll('[role=tab]')) {
  tab.addEventListener('click', () => showTab(tab.dataset.tab));
  tab.addEventListener('keydown', (ev) => {
    const tabs = visibleTabs();
    const i = tabs.indexOf(tab);
    let next = null;
    if (ev.key === 'ArrowRight' || ev.key === 'ArrowDown') next = tabs[(i + 1) % tabs.length];
    else if (ev.key === 'ArrowLeft' || ev.key === 'ArrowUp') next = tabs[(i - 1 + tabs.length) % tabs.length];
    else if (ev.key === 'Home') next = tabs[0];
    else if (ev.key === 'End') next = tabs[tabs.length - 1];
    if (next) { ev.preventDefault(); showTab(next.dataset.tab, { focus: true }); }
  });
}

const ctx = {
  i18n, t, api, session, errorText, toast, on, emit, claimMap, releaseMap, onTab, showTab,
  map: null, user: null, tab: null,
  isCommander: false,
  /** Envoy names by id, from the live layer (the nearest search gives ids only). */
  names: new Map(),
};
// for the browser tests and the console: the map and the modules' state
window.ppCommand = ctx;

async function start(user) {
  ctx.user = user;
  if (location.search.includes('expired')) history.replaceState(null, '', location.pathname + location.hash);
  ctx.isCommander = user.role === 'commander' || user.role === 'admin';
  $('#signin-view').hidden = true;
  $('#app-view').hidden = false;
  $('#signout').hidden = false;
  renderWho();
  for (const tab of document.querySelectorAll('[role=tab][data-role=commander]')) tab.hidden = !ctx.isCommander;

  ctx.map = await baseMap($('#map'), { zoom: 14 });
  ctx.map.on('click', (ev) => mapOwner?.onClick?.(ev));
  ctx.map.on('mousemove', (ev) => mapOwner?.onMove?.(ev));
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && mapOwner) { const m = mapOwner; m.onCancel?.(); releaseMap(m.owner); }
  });

  // every module sets itself up; a commander's first tab is the layers, staff's the incidents
  layers.init(ctx);
  incidents.init(ctx);
  if (ctx.isCommander) {
    publish.init(ctx);
    dispatch.init(ctx);
    teams.init(ctx);
    stats.init(ctx);
  }
  const wanted = location.hash.slice(1);
  const tabs = visibleTabs().map((b) => b.dataset.tab);
  showTab(tabs.includes(wanted) ? wanted : ctx.isCommander ? 'layers' : 'incidents');

  stream({
    dispatch: (d) => emit('dispatch', d),
    incident: (d) => emit('incident', d),
    positions: (d) => emit('positions', d),
    reset: (d) => emit('reset', d),
  }, {
    positions: ctx.isCommander,
    onState: (open) => {
      const el = $('#stream-state');
      el.classList.toggle('on', open);
      el.textContent = t(open ? 'stream.on' : 'stream.off');
      el.dataset.state = open ? 'on' : 'off';
    },
  });
  // Leaflet measures its box once: tell it when the layout changes
  new ResizeObserver(() => ctx.map.invalidateSize()).observe($('#map'));
}

ctx.renderWho = renderWho;
function renderWho() {
  const u = ctx.user;
  if (!u) return;
  const dept = u.department ? ` · ${ctx.departmentName ? ctx.departmentName(u.department) : u.department}` : '';
  $('#who').textContent = `${u.name} · ${t('role.' + u.role)}${dept}`;
}
i18n.onChange(() => {
  renderWho();
  const el = $('#stream-state');
  if (el.dataset.state) el.textContent = t(el.dataset.state === 'on' ? 'stream.on' : 'stream.off');
  if (mapOwner) setMapMessage(mapOwner.message);
});

async function boot() {
  if (new URLSearchParams(location.search).has('expired')) $('#signin-error').textContent = t('signin.expired');
  const token = session.token;
  if (token) {
    try {
      const me = await api('GET', '/me');
      if (DASHBOARD_ROLES.includes(me.role)) {
        session.setUser(me);
        await start(me);
        return;
      }
      // an envoy signed in on this browser (envoy app): keep their session, ask for another
      $('#signin-error').textContent = t('signin.wrongRole');
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) $('#signin-error').textContent = errorText(e);
    }
  }
  $('#signin-view').hidden = false;
  $('#signin-phone').focus();
}

boot();
