// Open tasks near me: a list with distances (nearest first), or a map; claim one to lead a team.
import { get, post } from '/lib/api.js';
import { i18n, t, state, go, showError, refreshMe } from './ctx.js';
import { h, currentPosition, loadScript, loadCss } from './ui.js';

let viewMode = 'list';
const CACHE_KEY = 'pp.tasks';

export async function render(view) {
  if (!state.me) await refreshMe().catch(() => {});
  let here = null;
  try {
    const pos = await currentPosition({ maximumAge: 60000, timeout: 10000 });
    here = { lat: pos.coords.latitude, lng: pos.coords.longitude };
  } catch { /* no position: newest tasks without distances */ }
  let tasks;
  let stale = null;
  try {
    ({ tasks } = here
      ? await get('/tasks', { near: `${here.lat},${here.lng}`, radius_m: 5000, status: 'open' })
      : await get('/tasks', { status: 'open' }));
    try { localStorage.setItem(CACHE_KEY, JSON.stringify({ at: new Date().toISOString(), tasks })); } catch { /* full */ }
  } catch (e) {
    // offline: the last list seen, marked as such
    const cached = e.status === 0 ? JSON.parse(localStorage.getItem(CACHE_KEY) || 'null') : null;
    if (!cached) throw e;
    ({ tasks } = cached);
    stale = h('p', { class: 'notice card' }, t('tasks.stale', { time: i18n.dateTime(cached.at) }));
  }

  const mine = state.me?.current_team_id;
  const header = h('div', { class: 'row between' },
    h('h2', {}, t('tasks.title')),
    h('button', { type: 'button', class: 'quiet small', onclick: () => go('#/tasks') }, t('tasks.refresh')));
  const banner = mine
    ? h('div', { class: 'card notice row between' }, h('span', {}, t('tasks.myTeam')),
      h('a', { class: 'button small', href: '#/team' }, t('tasks.openTeam')))
    : h('p', {}, h('a', { class: 'button secondary wide', href: '#/join' }, t('tasks.scan')));

  const listBtn = h('button', { type: 'button', 'aria-pressed': String(viewMode === 'list'), onclick: () => setMode('list') }, t('tasks.list'));
  const mapBtn = h('button', { type: 'button', 'aria-pressed': String(viewMode === 'map'), onclick: () => setMode('map') }, t('tasks.map'));
  const toggle = h('div', { class: 'segmented', role: 'group', 'aria-label': t('tasks.view') }, listBtn, mapBtn);
  const body = h('div', {});

  let map = null;
  async function setMode(mode) {
    viewMode = mode;
    listBtn.setAttribute('aria-pressed', String(mode === 'list'));
    mapBtn.setAttribute('aria-pressed', String(mode === 'map'));
    if (map) { map.remove(); map = null; }
    if (mode === 'list') body.replaceChildren(list());
    else {
      const el = h('div', { class: 'map', role: 'region', 'aria-label': t('tasks.map') });
      body.replaceChildren(el, list());
      map = await showMap(el, tasks, here);
    }
  }

  function list() {
    if (!tasks.length) return h('p', { class: 'muted' }, t('tasks.none'));
    return h('ul', { class: 'tasks plain' }, tasks.map((task) => h('li', { class: 'card task', 'data-task': task.id },
      h('h3', {}, task.title),
      h('p', { class: 'muted' }, task.place),
      task.distance_m !== undefined && task.distance_m !== null
        ? h('p', { class: 'distance' + (task.distance_m === 0 ? ' inside' : '') },
          task.distance_m === 0 ? t('tasks.inside') : t('tasks.away', { d: i18n.distance(task.distance_m) }))
        : null,
      h('p', {}, t('tasks.window', { from: i18n.dateTime(task.starts_at), to: i18n.time(task.ends_at) })),
      h('p', {}, `${t('tasks.patrol', { n: task.patrol_minutes })} · ${t('tasks.team', { min: task.team_min, max: task.team_max })}`),
      h('p', {}, t('tasks.reward', { points: task.reward_points, fund: i18n.money(task.reward_fund_cents) })),
      h('p', { class: 'muted' }, t('tasks.slots', { n: task.free_slots })),
      mine ? null : h('button', {
        type: 'button', class: 'wide claim', disabled: task.free_slots < 1,
        'aria-label': t('tasks.claimLabel', { title: task.title }),
        onclick: async (ev) => {
          ev.currentTarget.disabled = true;
          try {
            await post(`/tasks/${task.id}/teams`, {});
            await refreshMe();
            go('#/team');
          } catch (e) {
            showError(e);
            ev.target.disabled = false;
          }
        },
      }, t('tasks.claim')))));
  }

  view.replaceChildren(...[header, stale, banner, here ? null : h('p', { class: 'muted' }, t('tasks.noPosition')), toggle, body].filter(Boolean));
  body.replaceChildren(list());
  // the map needs its element on the page (sized): drawn once the screen is shown
  if (viewMode === 'map') setTimeout(() => { if (body.isConnected) setMode('map'); }, 0);
  return () => { if (map) map.remove(); };
}

/** Leaflet and the shared map helpers, loaded on first use (not part of the first load). */
export async function mapKit() {
  loadCss('/vendor/leaflet/dist/leaflet.css?v=1.9.4');
  await loadScript('/vendor/leaflet/dist/leaflet.js?v=1.9.4');
  return import('/lib/map.js');
}

/**
 * A map of task areas, me (`here`: {lat, lng}) and an optional `target` point ({lat, lng,
 * label}), fitted to them. Returns the Leaflet map.
 */
export async function showMap(el, tasks, here, target) {
  const { baseMap, areaLayer } = await mapKit();
  const center = here ? [here.lat, here.lng] : tasks[0] ? [tasks[0].center.lat, tasks[0].center.lng] : undefined;
  const map = await baseMap(el, { center, zoom: 14 });
  const bounds = L.latLngBounds([]);
  if (target) {
    L.circleMarker([target.lat, target.lng], { radius: 9, color: '#8c1d18', fillColor: '#b3261e', fillOpacity: 0.9 })
      .addTo(map).bindTooltip(escapeHtml(target.label || ''), { permanent: Boolean(target.label) });
    bounds.extend([target.lat, target.lng]);
  }
  for (const task of tasks) {
    const layer = areaLayer(task.area).addTo(map);
    layer.bindPopup(`${escapeHtml(task.title)}<br>${escapeHtml(task.place)}`);
    bounds.extend(layer.getBounds());
  }
  if (here) {
    L.circleMarker([here.lat, here.lng], { radius: 7, color: '#0969da', fillOpacity: 0.9 }).addTo(map).bindTooltip(t('tasks.me'));
    bounds.extend([here.lat, here.lng]);
  }
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [28, 28], maxZoom: 18, animate: false });
  return map;
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}
