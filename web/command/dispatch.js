// The dispatch tool: pick a point (on the map, or type it), see the nearest available envoys
// (GET /envoys/nearest) on the map and in a list, send an alert (POST /dispatches), and follow
// each open dispatch live (the SSE `dispatch` events, GET /dispatches/{id} as a fallback).
import { $, h, fill } from './dom.js';

const POLL_MS = 15_000;
const KEEP_CLOSED = 5;

let ctx;
let map;
let point = null;            // {lat, lng}
let pointLayer;              // marker and radius of the picked point
let nearestLayer;            // numbered markers of the nearest envoys
let dispatchLayer;           // the open dispatches' points
const dispatches = new Map(); // id → dispatch (open ones, and the last few closed)
let pollTimer;

export function init(c) {
  ctx = c;
  map = ctx.map;
  pointLayer = L.layerGroup().addTo(map);
  nearestLayer = L.layerGroup().addTo(map);
  dispatchLayer = L.layerGroup().addTo(map);
  ctx.dispatches = dispatches;

  const pick = $('#dispatch-pick');
  pick.addEventListener('click', () => {
    if (pick.getAttribute('aria-pressed') === 'true') { ctx.releaseMap('dispatch'); setPicking(false); return; }
    setPicking(true);
    ctx.claimMap('dispatch', {
      message: () => ctx.t('dispatch.pickHelp'),
      keepDoubleClick: true,
      onClick: (ev) => {
        ctx.releaseMap('dispatch');
        setPicking(false);
        setPoint(ev.latlng.lat, ev.latlng.lng);
        findNearest();
      },
      onCancel: () => setPicking(false),
    });
  });
  $('#dispatch-find').addEventListener('click', () => {
    const lat = parseFloat($('#dispatch-lat').value);
    const lng = parseFloat($('#dispatch-lng').value);
    if (!Number.isFinite(lat) || !Number.isFinite(lng) || Math.abs(lat) > 90 || Math.abs(lng) > 180) {
      $('#dispatch-error').textContent = ctx.t('dispatch.needPoint');
      return;
    }
    setPoint(lat, lng);
    map.setView([lat, lng], Math.max(map.getZoom(), 15));
    findNearest();
  });
  $('#dispatch-radius').addEventListener('change', () => { if (point) drawPoint(); });
  $('#dispatch-form').addEventListener('submit', send);

  ctx.on('dispatch', (d) => { upsert(d); });
  // from a report: its place and words
  ctx.on('dispatch-at', ({ lat, lng, message }) => {
    ctx.showTab('dispatch');
    setPoint(lat, lng);
    if (message) $('#dispatch-message').value = message;
    map.setView([lat, lng], Math.max(map.getZoom(), 15));
    findNearest();
    $('#dispatch-message').focus();
  });
  ctx.on('reset', loadOpen);
  ctx.onTab('dispatch', () => { if (!$('#dispatch-message').value) $('#dispatch-message').value = ctx.t('dispatch.defaultMessage'); });
  ctx.i18n.onChange(() => { render(); setPicking($('#dispatch-pick').getAttribute('aria-pressed') === 'true'); });
  setPicking(false);
  loadOpen();
}

function setPicking(on) {
  $('#dispatch-pick').setAttribute('aria-pressed', String(on));
  $('#dispatch-pick').textContent = ctx.t(on ? 'dispatch.picking' : 'dispatch.pick');
}

const radius = () => Math.max(10, parseInt($('#dispatch-radius').value, 10) || 1000);

function setPoint(lat, lng) {
  point = { lat: Math.round(lat * 1e6) / 1e6, lng: Math.round(lng * 1e6) / 1e6 };
  $('#dispatch-lat').value = point.lat;
  $('#dispatch-lng').value = point.lng;
  $('#dispatch-error').textContent = '';
  drawPoint();
}

function drawPoint() {
  pointLayer.clearLayers();
  if (!point) return;
  L.circle([point.lat, point.lng], { radius: radius(), color: '#b3261e', weight: 2, dashArray: '4 6', fillOpacity: 0.05, interactive: false }).addTo(pointLayer);
  L.circleMarker([point.lat, point.lng], { radius: 9, color: '#fff', weight: 3, fillColor: '#b3261e', fillOpacity: 1, className: 'dispatch-point' })
    .bindTooltip(ctx.t('dispatch.point')).addTo(pointLayer);
}

async function nameOf(id) {
  if (!ctx.names.has(id)) {
    try {
      const res = await ctx.api('GET', '/live');
      for (const e of res.envoys) ctx.names.set(e.id, e.name);
    } catch { /* names are a nicety */ }
  }
  return ctx.names.get(id) || ctx.t('live.unknown');
}

async function findNearest() {
  if (!point) return;
  const status = $('#nearest-status');
  status.textContent = ctx.t('loading');
  nearestLayer.clearLayers();
  fill($('#nearest-list'));
  try {
    const res = await ctx.api('GET', '/envoys/nearest', { query: { lat: point.lat, lng: point.lng, k: 10, radius_m: radius() } });
    const rows = [];
    for (const [i, e] of res.envoys.entries()) {
      const name = await nameOf(e.id);
      L.marker([e.lat, e.lng], {
        icon: L.divIcon({ className: 'nearest-icon', html: String(i + 1), iconSize: [22, 22] }),
        keyboard: false, title: name,
      }).addTo(nearestLayer);
      rows.push(h('li', { dataset: { userId: e.id }, class: 'nearest-row' },
        h('span', {}, h('b', { text: name }), ' ',
          h('span', { class: 'meta', text: ctx.t('dispatch.nearestMeta', { d: ctx.i18n.distance(e.distance_m), time: ctx.i18n.time(e.seen_at) }) }))));
    }
    fill($('#nearest-list'), rows);
    status.textContent = res.envoys.length ? ctx.t('dispatch.nearestCount', { n: res.envoys.length }) : ctx.t('dispatch.noneNear');
  } catch (e) {
    status.textContent = ctx.errorText(e);
  }
}

async function send(ev) {
  ev.preventDefault();
  const err = $('#dispatch-error');
  err.textContent = '';
  const lat = parseFloat($('#dispatch-lat').value);
  const lng = parseFloat($('#dispatch-lng').value);
  if (!Number.isFinite(lat) || !Number.isFinite(lng)) { err.textContent = ctx.t('dispatch.needPoint'); return; }
  const message = $('#dispatch-message').value.trim();
  if (!message) { err.textContent = ctx.t('dispatch.needMessage'); $('#dispatch-message').focus(); return; }
  const button = $('#dispatch-send');
  button.disabled = true;
  try {
    const d = await ctx.api('POST', '/dispatches', {
      body: { lat, lng, radius_m: radius(), needed: parseInt($('#dispatch-needed').value, 10) || 1, message },
    });
    upsert(d);
    ctx.lastDispatch = d;
    ctx.toast(ctx.t('dispatch.sent', { n: d.counts.notified }));
    nearestLayer.clearLayers();
    pointLayer.clearLayers();
    fill($('#nearest-list'));
    $('#nearest-status').textContent = '';
    point = null;
  } catch (e) {
    err.textContent = ctx.errorText(e);
  } finally {
    button.disabled = false;
  }
}

async function loadOpen() {
  try {
    const res = await ctx.api('GET', '/dispatches', { query: { state: 'open', limit: 50 } });
    for (const d of res.dispatches) dispatches.set(d.id, d);
    render();
  } catch (e) {
    fill($('#dispatch-list'), h('p', { class: 'error-text', text: ctx.errorText(e) }));
  }
  schedulePoll();
}

function upsert(d) {
  const old = dispatches.get(d.id);
  // events can overtake a poll's answer: a closed dispatch stays closed
  if (old && old.state === 'closed' && d.state === 'open') return;
  if (old) {
    for (const r of d.recipients || []) {
      const before = old.recipients?.find((x) => x.user_id === r.user_id)?.state;
      if (before !== r.state && (r.state === 'accepted' || r.state === 'arrived' || r.state === 'declined')) {
        ctx.toast(ctx.t('dispatch.news.' + r.state, { name: r.name || ctx.names.get(r.user_id) || ctx.t('live.unknown') }));
      }
    }
  }
  dispatches.set(d.id, d);
  render();
  schedulePoll();
}

function schedulePoll() {
  clearTimeout(pollTimer);
  if (![...dispatches.values()].some((d) => d.state === 'open')) return;
  pollTimer = setTimeout(async () => {
    for (const d of [...dispatches.values()].filter((x) => x.state === 'open')) {
      try { dispatches.set(d.id, await ctx.api('GET', `/dispatches/${d.id}`)); } catch { /* next time */ }
    }
    render();
    schedulePoll();
  }, POLL_MS);
}

async function closeDispatch(d) {
  try {
    upsert(await ctx.api('POST', `/dispatches/${d.id}/close`));
    ctx.toast(ctx.t('dispatch.closed'));
  } catch (e) {
    ctx.toast(ctx.errorText(e), { error: true });
  }
}

function render() {
  const t = ctx.t;
  // newest first; only the last few closed ones stay
  const all = [...dispatches.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
  let closed = 0;
  for (const d of all) if (d.state === 'closed' && ++closed > KEEP_CLOSED) dispatches.delete(d.id);
  const shown = [...dispatches.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));

  dispatchLayer.clearLayers();
  for (const d of shown.filter((x) => x.state === 'open')) {
    L.circle([d.lat, d.lng], { radius: d.radius_m, color: '#8c1d18', weight: 1, fillOpacity: 0.04, interactive: false }).addTo(dispatchLayer);
    L.circleMarker([d.lat, d.lng], { radius: 8, color: '#fff', weight: 3, fillColor: '#8c1d18', fillOpacity: 1 })
      .bindTooltip(d.message).addTo(dispatchLayer);
  }

  if (!shown.length) { fill($('#dispatch-list'), h('p', { class: 'muted', text: t('dispatch.none') })); return; }
  fill($('#dispatch-list'), shown.map((d) => h('article', { class: 'detail dispatch-card', dataset: { id: d.id, state: d.state } },
    h('h3', {}, d.message, ' ', h('span', { class: `pill ${d.state}`, text: t('dispatch.state.' + d.state) })),
    h('span', { class: 'meta', text: t('dispatch.meta', {
      time: ctx.i18n.time(d.created_at), r: ctx.i18n.distance(d.radius_m), needed: d.needed, esc: d.escalations,
    }) }),
    h('div', { class: 'counts' }, ['notified', 'accepted', 'declined', 'expired', 'arrived'].map((k) =>
      h('span', { class: `count-${k}` }, t('recipient.' + k), ' ', h('b', { text: String(d.counts[k] ?? 0) })))),
    d.recipients?.length
      ? h('ul', { class: 'plain-list compact' }, d.recipients.map((r) => h('li', { class: 'recipient', dataset: { userId: r.user_id, state: r.state } },
        h('b', { text: r.name || ctx.names.get(r.user_id) || t('live.unknown') }), ' ',
        h('span', { class: `pill ${r.state}`, text: t('recipient.' + r.state) }), ' ',
        h('span', { class: 'meta', text: t('dispatch.recipientMeta', {
          d: ctx.i18n.distance(r.distance_m), wave: r.wave + 1,
          time: ctx.i18n.time(r.arrived_at || r.answered_at || r.notified_at),
        }) }))))
      : h('p', { class: 'muted', text: t('dispatch.noRecipients') }),
    h('div', { class: 'button-row' },
      h('button', { type: 'button', class: 'secondary small', onclick: () => map.setView([d.lat, d.lng], Math.max(map.getZoom(), 16)), text: t('showOnMap') }),
      d.state === 'open' && h('button', { type: 'button', class: 'secondary small', onclick: () => closeDispatch(d), text: t('dispatch.close') })))));
}
