// The map's layers: live envoys (GET /live, polled, plus the SSE `positions` events), the heat
// map (H3 hexagons from GET /heatmap, or the raster tiles), task areas (GET /tasks).
import { authedUrl } from '../lib/api.js';
import { areaLayer } from '../lib/map.js';
import { $, h, fill, debounce, fromLocalInput, localInput } from './dom.js';

const LIVE_POLL_MS = 10_000;
const CANVAS_FROM = 1500;
const TASKS_POLL_MS = 60_000;
const HEAT_POLL_MS = { live: 30_000, other: 120_000 };

let ctx;
let map;

export function init(c) {
  ctx = c;
  map = ctx.map;
  // stacking: heat under the task areas under incidents under the live envoys under markers
  for (const [name, z] of [['heat', 350], ['tasks', 400], ['incidents', 440], ['live', 460]]) {
    map.createPane(name).style.zIndex = z;
  }
  if (ctx.isCommander) {
    initLive();
    initHeat();
    initTasks();
  }
  $('#layer-incidents').addEventListener('change', (ev) => ctx.emit('incident-layer', ev.target.checked));
}

/* ---------- live envoys ---------- */

const live = { layer: null, markers: new Map(), timer: null, envoys: new Map(), streamed: 0 };
export { live };

function initLive() {
  live.layer = L.layerGroup().addTo(map);
  ctx.live = live;
  const box = $('#layer-live');
  box.addEventListener('change', () => {
    if (box.checked) { live.layer.addTo(map); pollLive(); } else { live.layer.remove(); clearTimeout(live.timer); }
  });
  map.on('moveend', debounce(() => { if (box.checked) pollLive(); }, 500));
  // an envoy the stream shows before /live has named it: ask /live at once (once a second at
  // most), so the list says who it is and which team, not "unknown" until the next poll
  const pollForNewcomers = debounce(() => { if (box.checked) pollLive(); }, 1000);
  ctx.on('positions', (data) => {
    if (!box.checked) return;
    let newcomer = false;
    for (const p of data.points || []) {
      live.streamed++;
      const known = live.envoys.get(p.user_id);
      if (!known) newcomer = true;
      const envoy = { ...(known || { id: p.user_id, name: ctx.names.get(p.user_id) || '', team: null }),
        lat: p.lat, lng: p.lng, accuracy_m: p.accuracy_m, seen_at: p.ts };
      live.envoys.set(p.user_id, envoy);
      placeEnvoy(envoy);
    }
    renderLiveListSoon();
    if (newcomer) pollForNewcomers();
  });
  ctx.i18n.onChange(() => { renderLiveList(); for (const e of live.envoys.values()) placeEnvoy(e); });
  pollLive();
}

function bboxOf(bounds, pad = 0.2) {
  const b = bounds.pad(pad);
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  return [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90), clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)]
    .map((v) => v.toFixed(5)).join(',');
}

async function pollLive() {
  clearTimeout(live.timer);
  try {
    const res = await ctx.api('GET', '/live', { query: { bbox: bboxOf(map.getBounds()) } });
    // thousands of SVG circles slow the page down: a big crowd is drawn on a canvas
    const wantCanvas = res.envoys.length > CANVAS_FROM;
    if (wantCanvas !== !!live.renderer) {
      live.renderer = wantCanvas ? L.canvas({ pane: 'live' }) : null;
      live.layer.clearLayers();
      live.markers.clear();
    }
    const seen = new Set();
    for (const e of res.envoys) {
      seen.add(e.id);
      ctx.names.set(e.id, e.name);
      live.envoys.set(e.id, e);
      placeEnvoy(e);
    }
    // envoys no longer in the answer left the view or went quiet
    for (const id of [...live.envoys.keys()]) {
      if (!seen.has(id)) { live.envoys.delete(id); live.markers.get(id)?.remove(); live.markers.delete(id); }
    }
    live.polledAt = new Date().toISOString();
    renderLiveList();
  } catch (e) {
    $('#live-status').textContent = ctx.errorText(e);
  }
  if ($('#layer-live').checked) live.timer = setTimeout(pollLive, LIVE_POLL_MS);
}

function envoyStatus(e) {
  const team = e.team ? ctx.t('live.inTeam', { state: ctx.t('team.state.' + e.team.state) }) : ctx.t('live.noTeam');
  return `${team} · ${ctx.i18n.time(e.seen_at)}`;
}
const envoyTip = (e) => `${e.name || ctx.t('live.unknown')} · ${envoyStatus(e)}`;

function placeEnvoy(e) {
  let m = live.markers.get(e.id);
  const color = e.team ? '#1a7f37' : '#0969da';
  if (!m) {
    m = L.circleMarker([e.lat, e.lng], {
      pane: 'live', radius: 6, weight: 2, color: '#fff', fillColor: color, fillOpacity: 0.95,
      className: 'live-envoy', ...(live.renderer ? { renderer: live.renderer } : {}),
    }).addTo(live.layer);
    m.bindTooltip('', { direction: 'top', offset: [0, -6] });
    live.markers.set(e.id, m);
  } else {
    m.setLatLng([e.lat, e.lng]);
    m.setStyle({ fillColor: color });
  }
  m.setTooltipContent(envoyTip(e));
}

const renderLiveListSoon = debounce(() => renderLiveList(), 1000);

function renderLiveList() {
  const list = [...live.envoys.values()].sort((a, b) => (b.seen_at || '').localeCompare(a.seen_at || '')).slice(0, 50);
  $('#live-count').textContent = `(${live.envoys.size})`;
  if (live.polledAt) $('#live-status').textContent = ctx.t('live.count', { n: live.envoys.size, time: ctx.i18n.time(live.polledAt) });
  fill($('#live-list'), list.map((e) => h('li', {},
    h('button', {
      type: 'button', class: 'item-button',
      onclick: () => { map.setView([e.lat, e.lng], Math.max(map.getZoom(), 16)); live.markers.get(e.id)?.openTooltip(); },
    }, h('span', { class: 'item-title', text: e.name || ctx.t('live.unknown') }),
    h('span', { class: 'meta', text: envoyStatus(e) })))));
}

/* ---------- heat map ---------- */

const heat = { layer: null, tiles: null, timer: null, seq: 0 };
const RAMP = ['#2b6cb0', '#38a169', '#d69e2e', '#dd6b20', '#c53030'];

function resForZoom(z) {
  return z <= 10 ? 7 : z <= 12 ? 8 : z <= 14 ? 9 : 10;
}

function initHeat() {
  const box = $('#layer-heat');
  const win = $('#heat-window');
  const style = $('#heat-style');
  const now = new Date();
  $('#heat-from').value = localInput(new Date(now.getTime() - 3 * 86400_000));
  $('#heat-to').value = localInput(now);
  const refresh = () => { if (box.checked) loadHeat(); };
  box.addEventListener('change', () => { if (box.checked) loadHeat(); else clearHeat(); });
  win.addEventListener('change', () => { $('#heat-custom').hidden = win.value !== 'custom'; refresh(); });
  style.addEventListener('change', refresh);
  $('#heat-from').addEventListener('change', refresh);
  $('#heat-to').addEventListener('change', refresh);
  map.on('moveend', debounce(() => { if (box.checked && style.value === 'hex') loadHeat(); }, 500));
  ctx.i18n.onChange(() => { if (box.checked) renderLegend(heat.max || 0); });
}

function clearHeat() {
  clearTimeout(heat.timer);
  heat.seq++;
  heat.layer?.remove();
  heat.tiles?.remove();
  heat.layer = heat.tiles = null;
  $('#heat-count').textContent = '';
  $('#heat-status').textContent = '';
  $('#legend').hidden = true;
}

function heatQuery() {
  const w = $('#heat-window').value;
  if (w !== 'custom') return { window: w };
  const from = fromLocalInput($('#heat-from').value);
  const to = fromLocalInput($('#heat-to').value);
  return { from, to };
}

async function loadHeat() {
  clearTimeout(heat.timer);
  const seq = ++heat.seq;
  const w = $('#heat-window').value;
  const status = $('#heat-status');
  if ($('#heat-style').value === 'tiles' && w !== 'custom') {
    heat.layer?.remove();
    heat.layer = null;
    const url = authedUrl(`/tiles/heat/${w}/{z}/{x}/{y}.png`);
    if (!heat.tiles || heat.tilesWindow !== w) {
      heat.tiles?.remove();
      heat.tiles = L.tileLayer(url, { pane: 'heat', opacity: 0.8, maxZoom: 19, className: 'heat-tiles' }).addTo(map);
      heat.tilesWindow = w;
    } else {
      heat.tiles.redraw();
    }
    status.textContent = ctx.t('heat.tilesShown');
    $('#heat-count').textContent = '';
    $('#legend').hidden = true;
    heat.timer = setTimeout(loadHeat, w === 'live' ? HEAT_POLL_MS.live : HEAT_POLL_MS.other);
    return;
  }
  heat.tiles?.remove();
  heat.tiles = null;
  const q = heatQuery();
  if (w === 'custom' && (!q.from || (q.to && q.to <= q.from))) {
    status.textContent = ctx.t('heat.badRange');
    return;
  }
  status.textContent = ctx.t('loading');
  try {
    const fc = await ctx.api('GET', '/heatmap', { query: { ...q, bbox: bboxOf(map.getBounds(), 0.1), res: resForZoom(map.getZoom()) } });
    if (seq !== heat.seq) return; // a newer request is on its way
    const max = fc.features.reduce((m, f) => Math.max(m, f.properties.visits), 0);
    heat.max = max;
    const layer = L.geoJSON(fc, {
      pane: 'heat',
      className: 'heat-cell',
      style: (f) => {
        const v = f.properties.visits;
        const x = max > 0 ? Math.log1p(v) / Math.log1p(max) : 0;
        const color = RAMP[Math.min(RAMP.length - 1, Math.floor(x * RAMP.length))];
        return { color, weight: 1, fillColor: color, fillOpacity: 0.25 + 0.45 * x };
      },
      onEachFeature: (f, l) => l.bindTooltip(ctx.t('heat.cellTip', { visits: f.properties.visits, envoys: f.properties.envoys })),
    });
    heat.layer?.remove();
    heat.layer = layer.addTo(map);
    heat.count = fc.features.length;
    $('#heat-count').textContent = `(${fc.features.length})`;
    status.textContent = ctx.t('heat.shown', {
      n: fc.features.length, from: ctx.i18n.dateTime(fc.from), to: ctx.i18n.dateTime(fc.to), res: fc.res,
    }) + ($('#heat-style').value === 'tiles' ? ' ' + ctx.t('heat.tilesNoCustom') : '');
    renderLegend(max);
  } catch (e) {
    if (seq !== heat.seq) return;
    status.textContent = e.code === 'heat_map_loading' ? ctx.t('heat.loadingLive') : ctx.errorText(e);
    if (e.code === 'heat_map_loading') { heat.timer = setTimeout(loadHeat, 3000); return; }
  }
  if ($('#layer-heat').checked) heat.timer = setTimeout(loadHeat, w === 'live' ? HEAT_POLL_MS.live : HEAT_POLL_MS.other);
}

function renderLegend(max) {
  fill($('#legend'), h('div', { text: ctx.t('heat.legend') }), h('div', { class: 'ramp', 'aria-hidden': 'true' }),
    h('div', { class: 'ends' }, h('span', { text: '1' }), h('span', { text: String(max) })));
  $('#legend').hidden = false;
}

/* ---------- task areas ---------- */

const tasks = { layer: null, timer: null, byId: new Map() };

function initTasks() {
  tasks.layer = L.layerGroup().addTo(map);
  const box = $('#layer-tasks');
  box.addEventListener('change', () => { if (box.checked) tasks.layer.addTo(map); else tasks.layer.remove(); });
  ctx.on('tasks-changed', loadTasks);
  ctx.showTaskArea = (task) => {
    const l = tasks.byId.get(task.id);
    const bounds = (l || areaLayer(task.area)).getBounds();
    map.fitBounds(bounds, { maxZoom: 17, padding: [40, 40] });
  };
  loadTasks();
}

async function loadTasks() {
  clearTimeout(tasks.timer);
  try {
    const res = await ctx.api('GET', '/tasks', { query: { status: 'open', limit: 500 } });
    tasks.layer.clearLayers();
    tasks.byId.clear();
    for (const task of res.tasks) {
      const l = areaLayer(task.area, { pane: 'tasks', className: 'task-area' });
      l.bindTooltip(`${task.title} · ${task.place}`);
      l.on('click', () => {
        // while drawing or picking, a click on an area is a click on the map (it bubbles there)
        if (!ctx.map.getContainer().classList.contains('picking')) ctx.emit('select-task', task.id);
      });
      l.addTo(tasks.layer);
      tasks.byId.set(task.id, l);
    }
    $('#tasks-count').textContent = `(${res.tasks.length})`;
  } catch (e) {
    $('#tasks-count').textContent = '';
    ctx.toast(ctx.errorText(e), { error: true });
  }
  tasks.timer = setTimeout(loadTasks, TASKS_POLL_MS);
}
