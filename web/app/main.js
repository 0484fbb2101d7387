// The envoy app: shell, hash routes, the live event stream, the service worker.
import { session, stream, onUnauthorized } from '/lib/api.js';
import { i18n, t, state, tracker, go, refreshMe, emit, showError, errorText, hooks } from './ctx.js';
import { h, toast } from './ui.js';
import * as auth from './auth.js';
import * as tasks from './tasks.js';
import * as team from './team.js';
import * as join from './join.js';
import * as report from './report.js';
import * as wallet from './wallet.js';
import * as alerts from './alerts.js';

const ROUTES = {
  login: auth.login,
  register: auth.register,
  tasks: tasks.render,
  team: team.render,
  join: join.render,
  report: report.render,
  wallet: wallet.render,
  dispatch: alerts.renderDispatch,
};
const PUBLIC = new Set(['login', 'register']);
const NAV = { tasks: 'tasks', team: 'team', join: 'team', report: 'report', wallet: 'wallet', dispatch: 'tasks' };

const view = document.getElementById('view');
let cleanup = null;
let closeStream = null;
let rendering = 0;

// A join link (/join?token=…, what the leader's QR code holds) becomes the #/join screen.
if (location.pathname === '/join') {
  const token = new URLSearchParams(location.search).get('token');
  if (token) sessionStorage.setItem('pp.joinToken', token);
  history.replaceState(null, '', '/#/join');
}

function parseHash() {
  const [path, qs] = location.hash.replace(/^#\/?/, '').split('?');
  const [name, ...rest] = path.split('/');
  return { name: name || 'tasks', args: rest, query: new URLSearchParams(qs || '') };
}

async function route() {
  const my = ++rendering;
  let { name, args, query } = parseHash();
  if (!ROUTES[name]) name = 'tasks';
  if (!session.token && !PUBLIC.has(name)) {
    go('#/login');
    return;
  }
  if (session.token && PUBLIC.has(name)) {
    go(sessionStorage.getItem('pp.joinToken') ? '#/join' : '#/tasks');
    return;
  }
  if (cleanup) { try { cleanup(); } catch { /* ignore */ } cleanup = null; }
  document.body.classList.toggle('signed-in', Boolean(session.token));
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.route === NAV[name]) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  view.replaceChildren(h('p', { class: 'muted loading' }, t('common.loading')));
  // each screen draws into its own element, shown once ready: a slow screen the user has
  // already left never overwrites the next one
  const screen = h('div', { class: 'screen' });
  try {
    const done = await ROUTES[name](screen, { args, query });
    if (my !== rendering) { if (typeof done === 'function') done(); return; }
    cleanup = typeof done === 'function' ? done : null;
  } catch (e) {
    if (my !== rendering) return;
    screen.replaceChildren(
      h('p', { class: 'error-text', role: 'alert' }, errorText(e)),
      h('button', { type: 'button', class: 'secondary', onclick: route }, t('common.retry')),
    );
  }
  view.replaceChildren(screen);
  i18n.apply(view);
}

/** Focus moves to the new screen's heading on navigation (screen readers, keyboards). */
function focusHeading() {
  const heading = view.querySelector('h1, h2');
  if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); }
}

function startStream() {
  closeStream?.();
  closeStream = null;
  if (!session.token || !navigator.onLine) return;
  closeStream = stream({
    team: async (data) => {
      try {
        await refreshMe({ forget: data.state === 'finished' ? null : data.team_id });
      } catch { /* shown on the team screen */ }
      if (data.change === 'removed' && state.me && state.me.current_team_id !== data.team_id) toast(t('team.removed'));
      if (data.change === 'joined' && data.by !== session.user?.id) {
        const m = state.team?.members?.find((x) => x.user_id === data.by);
        if (m) toast(t('team.joined', { name: m.name }));
      }
      emit('team', data);
    },
    // the server no longer has the events we missed: read the state again
    reset: async () => {
      try { await refreshMe(); } catch { /* offline */ }
      emit('team', {});
      alerts.catchUp();
    },
    dispatch_alert: (d) => alerts.alert(d),
    dispatch_update: (d) => alerts.update(d),
    incident: (data) => {
      emit('incident', data);
      if (data.change === 'status') toast(t('report.updated', { status: t('inc.' + data.incident.status) }));
    },
  });
}

async function signedIn() {
  try {
    await refreshMe();
  } catch (e) {
    if (e?.status !== 401) showError(e);
  }
  startStream();
  alerts.catchUp();
}

function renderShell() {
  const lang = document.getElementById('lang');
  lang.textContent = t('lang.switch');
  lang.lang = i18n.lang === 'zh' ? 'en' : 'zh-CN'; // the button names the other language in it
  lang.title = t('lang.label');
  i18n.apply(document);
  updateStatus();
}

function updateStatus() {
  const bar = document.getElementById('netstatus');
  const s = tracker.status;
  const parts = [];
  if (!navigator.onLine) parts.push(t(tracker.running ? 'status.offline' : 'status.offlineIdle'));
  if (s.queued && !navigator.onLine) parts.push(t('status.queued', { n: s.queued }));
  bar.textContent = parts.join(' · ');
  bar.hidden = parts.length === 0;
}

// --- start -------------------------------------------------------------------------------
document.getElementById('lang').addEventListener('click', () => i18n.setLang(i18n.lang === 'zh' ? 'en' : 'zh'));
i18n.onChange(() => { renderShell(); route(); });
tracker.onChange(updateStatus);
window.addEventListener('online', () => { updateStatus(); startStream(); if (session.token) refreshMe().catch(() => {}); });
window.addEventListener('offline', () => { updateStatus(); closeStream?.(); closeStream = null; });
window.addEventListener('hashchange', async () => { await route(); window.scrollTo(0, 0); focusHeading(); });
hooks.signedIn = signedIn;
window.addEventListener('pp-signed-out', () => {
  closeStream?.();
  closeStream = null;
  tracker.want('patrol', false);
  tracker.want('dispatch', false);
  state.me = null; state.team = null; state.task = null;
  localStorage.removeItem('pp.state');
  go('#/login');
});
onUnauthorized(() => { session.clear(); window.dispatchEvent(new Event('pp-signed-out')); });

renderShell();
if (session.token) await signedIn();
await route();

if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('/sw.js').catch(() => { /* the app works without it */ });
}
