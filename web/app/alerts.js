// Dispatch alerts: an emergency near me rings (Web Audio beeps, vibration) and shows a dialog to
// accept or decline; once accepted, the dispatch screen gives the way (distance and compass
// direction from my position) and the arrival button.
import { get, post } from '/lib/api.js';
import { i18n, t, tracker, go, showError, errorText } from './ctx.js';
import { h, distanceM, bearing, compass, toast } from './ui.js';

let dialog = null;
let current = null;
let ticker = null;
let audio = null;

const mine = (d) => d.recipients?.[0] || null;

function routeText(d, fix) {
  if (!fix) {
    const r = mine(d);
    return r ? t('alert.distance', { d: i18n.distance(r.distance_m), dir: '…' }) : t('alert.routeUnknown');
  }
  const dist = distanceM(fix.lat, fix.lng, d.lat, d.lng);
  if (dist < 25) return t('alert.here');
  const dir = t('dir.' + compass(bearing(fix.lat, fix.lng, d.lat, d.lng)));
  return t('alert.distance', { d: i18n.distance(dist), dir });
}

function arrow(d, fix) {
  const deg = fix ? bearing(fix.lat, fix.lng, d.lat, d.lng) : 0;
  return h('span', { class: 'arrow', 'aria-hidden': 'true', style: `transform: rotate(${Math.round(deg)}deg)` }, '↑');
}

/** Beeps three times and vibrates, where the browser lets it. */
function ring() {
  // browsers refuse sound and vibration before the user has touched the page (it logs an error)
  if (navigator.userActivation && !navigator.userActivation.hasBeenActive) return;
  try { navigator.vibrate?.([400, 200, 400, 200, 400]); } catch { /* not everywhere */ }
  try {
    audio ??= new (window.AudioContext || window.webkitAudioContext)();
    if (audio.state === 'suspended') audio.resume().catch(() => {});
    const now = audio.currentTime;
    for (let i = 0; i < 3; i++) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = 'square';
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, now + i * 0.5);
      gain.gain.exponentialRampToValueAtTime(0.3, now + i * 0.5 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.5 + 0.35);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + i * 0.5);
      osc.stop(now + i * 0.5 + 0.4);
    }
  } catch { /* no audio */ }
}

function closeDialog() {
  clearInterval(ticker);
  ticker = null;
  if (dialog?.open) dialog.close();
  current = null;
}

/** A new alert (SSE `dispatch_alert`, or found open at start). */
export function alert(d) {
  const r = mine(d);
  if (!r || r.state !== 'notified' || d.state !== 'open') return;
  current = d;
  if (!dialog) {
    dialog = document.getElementById('alert');
    // an emergency needs an answer: Escape does not dismiss it (Tab reaches "decline")
    dialog.addEventListener('cancel', (ev) => ev.preventDefault());
  }
  const fix = tracker.status.fix;
  const route = h('p', { class: 'route', id: 'alert-route' }, arrow(d, fix), ' ', routeText(d, fix));
  const expires = h('p', { class: 'muted', id: 'alert-expires' });
  const error = h('p', { class: 'error-text', role: 'alert' });
  const answer = async (accept, btn) => {
    btn.disabled = true;
    try {
      await post(`/dispatches/${d.id}/respond`, { accept });
      closeDialog();
      toast(t(accept ? 'alert.accepted' : 'alert.declined'));
      if (accept) { tracker.want('dispatch', true); go(`#/dispatch/${d.id}`); }
    } catch (e) {
      error.textContent = errorText(e);
      btn.disabled = false;
    }
  };
  const accept = h('button', { type: 'button', id: 'alert-accept', onclick: (ev) => answer(true, ev.currentTarget) }, t('alert.accept'));
  const decline = h('button', { type: 'button', class: 'secondary', id: 'alert-decline', onclick: (ev) => answer(false, ev.currentTarget) }, t('alert.decline'));
  dialog.replaceChildren(
    h('h2', { id: 'alert-title' }, '⚠ ', t('alert.title')),
    h('p', { class: 'message', id: 'alert-message' }, d.message),
    route, expires, error,
    h('div', { class: 'row actions' }, accept, decline),
  );
  dialog.setAttribute('aria-labelledby', 'alert-title');
  dialog.setAttribute('aria-describedby', 'alert-message');
  const tick = () => {
    const left = Math.max(0, Math.round((new Date(r.expires_at) - Date.now()) / 1000));
    expires.textContent = t('alert.expires', { n: left });
    if (left === 0) { closeDialog(); toast(t('alert.expired')); }
  };
  tick();
  clearInterval(ticker);
  ticker = setInterval(tick, 1000);
  if (!dialog.open) dialog.showModal();
  accept.focus();
  ring();
  // give the way from a fresh position when there is none yet
  if (!fix && navigator.geolocation) {
    navigator.geolocation.getCurrentPosition((pos) => {
      const f = { lat: pos.coords.latitude, lng: pos.coords.longitude };
      if (current === d) route.replaceChildren(arrow(d, f), ' ', routeText(d, f));
    }, () => {}, { maximumAge: 30000, timeout: 10000 });
  }
}

/** An alert changed (expired, my answer, the dispatch closed: SSE `dispatch_update`). */
export function update(d) {
  const r = mine(d);
  if (current && current.id === d.id && (d.state !== 'open' || r?.state !== 'notified')) {
    closeDialog();
    if (r?.state === 'expired') toast(t('alert.expired'));
  }
  if (d.state !== 'open' || ['declined', 'expired', 'arrived'].includes(r?.state)) {
    tracker.want('dispatch', false);
    if (d.state !== 'open') toast(t('alert.closed'));
  }
  window.dispatchEvent(new CustomEvent('pp-dispatch', { detail: d }));
}

/** At start: alerts that came while the app was closed or offline. */
export async function catchUp() {
  try {
    const { dispatches } = await get('/dispatches', { state: 'open', limit: 10 });
    for (const d of dispatches) {
      const r = mine(d);
      if (r?.state === 'accepted') tracker.want('dispatch', true);
      else if (r?.state === 'notified' && new Date(r.expires_at) > Date.now()) { alert(d); break; }
    }
  } catch { /* offline: the stream brings new ones */ }
}

/** #/dispatch/{id}: the way to an accepted emergency, and the arrival button. */
export async function renderDispatch(view, { args }) {
  let d = await get(`/dispatches/${args[0]}`);
  const route = h('p', { class: 'route big', id: 'route', role: 'status' });
  const state = h('p', { class: 'tag', id: 'dispatch-state' });
  const error = h('p', { class: 'error-text', role: 'alert' });
  const arrived = h('button', {
    type: 'button', class: 'wide', id: 'arrived',
    onclick: async () => {
      arrived.disabled = true;
      error.textContent = '';
      try {
        await tracker.sample();
        await tracker.flush();
        d = await post(`/dispatches/${d.id}/arrived`, {});
        toast(t('alert.arrivedDone'));
        tracker.want('dispatch', false);
        draw();
      } catch (e) {
        error.textContent = errorText(e);
      } finally {
        arrived.disabled = false;
      }
    },
  }, t('alert.arrived'));
  const withdraw = h('button', {
    type: 'button', class: 'secondary wide', id: 'withdraw',
    onclick: async () => {
      try {
        d = await post(`/dispatches/${d.id}/respond`, { accept: false });
        tracker.want('dispatch', false);
        go('#/tasks');
      } catch (e) { showError(e); }
    },
  }, t('alert.withdraw'));

  function draw() {
    const r = mine(d);
    const fix = tracker.status.fix;
    route.replaceChildren(arrow(d, fix), ' ', routeText(d, fix));
    const s = d.state !== 'open' ? 'closed' : r?.state || '';
    state.textContent = s === 'closed' ? t('alert.closed') : s === 'arrived' ? t('alert.arrivedDone')
      : s === 'accepted' ? t('alert.accepted') : s === 'expired' ? t('alert.expired') : s === 'declined' ? t('alert.declined') : s;
    const active = d.state === 'open' && r?.state === 'accepted';
    arrived.hidden = !active;
    withdraw.hidden = !active;
  }

  let map = null;
  const mapEl = h('div', { class: 'map small-map', role: 'region', 'aria-label': t('tasks.map') });
  const details = h('details', { class: 'map-box' }, h('summary', {}, t('alert.map')), mapEl);
  details.addEventListener('toggle', async () => {
    if (!details.open || map) return;
    const fix = tracker.status.fix;
    const { showMap } = await import('./tasks.js');
    map = await showMap(mapEl, [], fix ? { lat: fix.lat, lng: fix.lng } : null, { lat: d.lat, lng: d.lng, label: t('alert.scene') });
  });

  view.replaceChildren(
    h('h2', {}, t('alert.title')),
    h('p', { class: 'card message' }, d.message),
    state, route, error,
    h('p', { class: 'stack' }, arrived, withdraw),
    details,
  );
  const r = mine(d);
  if (d.state === 'open' && r?.state === 'accepted') tracker.want('dispatch', true);
  draw();
  const off = tracker.onChange(draw);
  const onUpdate = (ev) => { if (ev.detail.id === d.id) { d = ev.detail; draw(); } };
  window.addEventListener('pp-dispatch', onUpdate);
  return () => { off(); window.removeEventListener('pp-dispatch', onUpdate); map?.remove(); };
}
