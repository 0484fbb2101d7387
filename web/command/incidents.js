// The incident queue: filters (status, category, department), the reports on the map, a report's
// photos and timeline, one step along open → acknowledged → in_progress → resolved | rejected
// with a note, and re-routing to another department (commanders). Department staff get their
// department's queue (the API scopes it). Live: the SSE `incident` events.
import { authedUrl } from '../lib/api.js';
import { $, h, fill, debounce } from './dom.js';

const NEXT = {
  open: ['acknowledged'],
  acknowledged: ['in_progress'],
  in_progress: ['resolved', 'rejected'],
  resolved: [],
  rejected: [],
};
const COLORS = { open: '#9a6700', acknowledged: '#0969da', in_progress: '#0969da', resolved: '#1a7f37', rejected: '#57606a' };

let ctx;
let map;
let layer;
let incidents = [];
let selected = null;  // the selected report, with its timeline
let categories = [];  // routing rules: {category, name_zh, name_en, department}
let departments = []; // {code, name_zh, name_en}
let fitted = false;

export function init(c) {
  ctx = c;
  map = ctx.map;
  layer = L.layerGroup().addTo(map);
  ctx.incidents = { get list() { return incidents; }, get selected() { return selected; } };
  ctx.on('incident-layer', (on) => { if (on) layer.addTo(map); else layer.remove(); });
  if (!ctx.isCommander) $('#filter-department-wrap').hidden = true;
  for (const id of ['#filter-status', '#filter-category', '#filter-department']) $(id).addEventListener('change', load);
  $('#incident-filters').addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  const reload = debounce(load, 400);
  ctx.on('incident', (ev) => {
    if (selected && ev.incident?.id === selected.id) { selected = ev.incident; renderDetail(); }
    if (ev.change === 'reported' && ev.incident) {
      ctx.toast(ctx.t('incidents.new', { category: categoryName(ev.incident.category), text: ev.incident.description.slice(0, 40) }));
    }
    reload();
  });
  ctx.on('reset', reload);
  ctx.onTab('incidents', load);
  ctx.i18n.onChange(() => { fillFilters(); render(); renderDetail(); });
  loadLookups().then(load);
}

const nameOf = (x) => (ctx.i18n.lang === 'en' ? x.name_en : x.name_zh) || x.code || x.category;
function categoryName(code) {
  const c = categories.find((x) => x.category === code);
  return c ? nameOf(c) : code;
}
function departmentName(code) {
  const d = departments.find((x) => x.code === code);
  return d ? nameOf(d) : code || ctx.t('incidents.noDepartment');
}

async function loadLookups() {
  try {
    const [routing, depts] = await Promise.all([ctx.api('GET', '/routing'), ctx.api('GET', '/departments')]);
    categories = routing.rules;
    departments = depts.departments;
    ctx.departmentName = departmentName;
    ctx.renderWho?.();
    fillFilters();
  } catch (e) {
    $('#incident-status').textContent = ctx.errorText(e);
  }
}

function fillFilters() {
  for (const [id, items, code, name] of [
    ['#filter-category', categories, (x) => x.category, nameOf],
    ['#filter-department', departments, (x) => x.code, nameOf],
  ]) {
    const sel = $(id);
    const keep = sel.value;
    fill(sel, h('option', { value: '', text: ctx.t('filter.all') }), items.map((x) => h('option', { value: code(x), text: name(x) })));
    sel.value = keep;
  }
}

async function load() {
  const status = $('#incident-status');
  const query = { status: $('#filter-status').value, category: $('#filter-category').value, limit: 300 };
  if (ctx.isCommander) query.department = $('#filter-department').value;
  try {
    const res = await ctx.api('GET', '/incidents', { query });
    incidents = res.incidents;
    status.textContent = ctx.t('incidents.count', { n: incidents.length });
    render();
    // department staff: the map opens on their reports
    if (!ctx.isCommander && !fitted && incidents.length) {
      fitted = true;
      map.fitBounds(L.latLngBounds(incidents.map((i) => [i.lat, i.lng])), { maxZoom: 15, padding: [40, 40] });
    }
  } catch (e) {
    status.textContent = ctx.errorText(e);
  }
}

function render() {
  const t = ctx.t;
  layer.clearLayers();
  for (const inc of incidents) {
    L.circleMarker([inc.lat, inc.lng], {
      pane: 'incidents', radius: 7, weight: 3, color: COLORS[inc.status] || '#9a6700', fillColor: '#fff', fillOpacity: 1, className: 'incident-marker',
    }).bindTooltip(`${categoryName(inc.category)} · ${t('status.' + inc.status)}`)
      .on('click', () => { if (!map.getContainer().classList.contains('picking')) select(inc.id); })
      .addTo(layer);
  }
  const count = $('#incidents-count');
  if (count) count.textContent = `(${incidents.length})`;
  if (!incidents.length) { fill($('#incident-list'), h('li', { class: 'muted compact', text: t('incidents.none') })); return; }
  fill($('#incident-list'), incidents.map((inc) => h('li', { class: 'incident-row', dataset: { id: inc.id, status: inc.status, category: inc.category, department: inc.department || '' } },
    h('button', { type: 'button', class: 'item-button', 'aria-current': String(selected?.id === inc.id), onclick: () => select(inc.id) },
      h('span', { class: 'item-title' }, categoryName(inc.category), ' ', h('span', { class: `pill ${inc.status}`, text: t('status.' + inc.status) })),
      h('span', { text: inc.description.length > 90 ? inc.description.slice(0, 90) + '…' : inc.description }),
      h('span', { class: 'meta', text: t('incidents.meta', {
        dept: departmentName(inc.department), time: ctx.i18n.dateTime(inc.created_at), who: inc.reporter_name || '—',
      }) }),
      inc.photos?.length ? h('span', { class: 'meta', text: t('incidents.photos', { n: inc.photos.length }) }) : null))));
}

async function select(id) {
  try {
    selected = await ctx.api('GET', `/incidents/${id}`);
    render();
    renderDetail();
    $('#incident-detail').scrollIntoView({ block: 'nearest' });
  } catch (e) {
    ctx.toast(ctx.errorText(e), { error: true });
  }
}

function renderDetail() {
  const box = $('#incident-detail');
  if (!selected) { fill(box); return; }
  // a note being written survives a re-render of its report that changed nothing it is about
  // (a language switch, a photo); a move or a re-route starts the next note afresh
  const shown = box.firstElementChild?.dataset;
  const kept = shown && shown.id === selected.id && shown.status === selected.status && shown.department === (selected.department || '')
    ? { note: $('#incident-note')?.value, reroute: $('#incident-reroute-note')?.value } : {};
  build(box);
  if (kept.note && $('#incident-note')) $('#incident-note').value = kept.note;
  if (kept.reroute && $('#incident-reroute-note')) $('#incident-reroute-note').value = kept.reroute;
}

function build(box) {
  const t = ctx.t;
  const inc = selected;
  const next = NEXT[inc.status] || [];
  const closed = !next.length;
  fill(box, h('article', { class: 'detail incident-detail', dataset: { id: inc.id, status: inc.status, department: inc.department || '' }, 'aria-labelledby': 'incident-detail-title' },
    h('h3', { id: 'incident-detail-title' }, categoryName(inc.category), ' ', h('span', { class: `pill ${inc.status}`, text: t('status.' + inc.status) })),
    h('p', { text: inc.description }),
    h('p', { class: 'meta', text: t('incidents.detailMeta', {
      dept: departmentName(inc.department), time: ctx.i18n.dateTime(inc.created_at), who: inc.reporter_name || '—',
      lat: inc.lat.toFixed(5), lng: inc.lng.toFixed(5),
    }) }),
    inc.photos?.length ? h('div', { class: 'photos' }, inc.photos.map((url, i) =>
      h('a', { href: authedUrl(url), target: '_blank', rel: 'noopener' },
        h('img', { src: authedUrl(url), alt: t('incidents.photoAlt', { n: i + 1 }), loading: 'lazy' })))) : null,
    inc.media_url ? h('p', {}, h('a', { href: inc.media_url, target: '_blank', rel: 'noopener noreferrer', text: t('incidents.media') })) : null,
    h('div', { class: 'button-row' },
      h('button', { type: 'button', class: 'secondary small', text: t('showOnMap'), onclick: () => map.setView([inc.lat, inc.lng], Math.max(map.getZoom(), 16)) }),
      ctx.isCommander && !closed && h('button', {
        type: 'button', class: 'secondary small incident-dispatch', text: t('incidents.dispatchHere'),
        onclick: () => ctx.emit('dispatch-at', { lat: inc.lat, lng: inc.lng, message: `${categoryName(inc.category)}：${inc.description}`.slice(0, 500) }),
      })),
    h('h4', { text: t('incidents.timeline') }),
    h('ol', { class: 'timeline' }, (inc.timeline || []).map((step) => h('li', {},
      h('span', { class: 'meta', text: `${ctx.i18n.dateTime(step.at)} · ${step.actor_name || '—'}` }),
      step.kind === 'rerouted'
        ? t('incidents.step.rerouted', { dept: departmentName(step.department) })
        : step.kind === 'reported'
          ? t('incidents.step.reported', { dept: departmentName(step.department) })
          : t('status.' + (step.status || 'open')),
      step.note ? h('span', { class: 'meta', text: `“${step.note}”` }) : null))),
    closed ? h('p', { class: 'muted', text: t('incidents.closed') }) : statusForm(inc, next),
    ctx.isCommander && !closed ? rerouteForm(inc) : null));
}

function statusForm(inc, next) {
  const t = ctx.t;
  const sel = h('select', { id: 'incident-next', required: true }, next.map((s) => h('option', { value: s, text: t('status.' + s) })));
  const note = h('textarea', { id: 'incident-note', maxlength: 1000, rows: 2 });
  const err = h('p', { class: 'error-text', role: 'alert' });
  return h('form', {
    class: 'incident-status-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      err.textContent = '';
      const button = ev.submitter;
      if (button) button.disabled = true;
      try {
        selected = await ctx.api('PATCH', `/incidents/${inc.id}`, { body: { status: sel.value, note: note.value.trim() || undefined } });
        ctx.toast(t('incidents.moved', { status: t('status.' + selected.status) }));
        note.value = '';
        renderDetail();
        load();
      } catch (e) {
        err.textContent = ctx.errorText(e);
        if (button) button.disabled = false;
      }
    },
  },
  h('h4', { text: t('incidents.change') }),
  h('label', { for: 'incident-next', text: t('incidents.nextStatus') }), sel,
  h('label', { for: 'incident-note', text: t('incidents.note') }), note,
  err,
  h('button', { type: 'submit', text: t('incidents.apply') }));
}

function rerouteForm(inc) {
  const t = ctx.t;
  const sel = h('select', { id: 'incident-department' }, departments.filter((d) => d.code !== inc.department)
    .map((d) => h('option', { value: d.code, text: nameOf(d) })));
  const note = h('textarea', { id: 'incident-reroute-note', maxlength: 1000, rows: 2 });
  const err = h('p', { class: 'error-text', role: 'alert' });
  return h('form', {
    class: 'incident-reroute-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      err.textContent = '';
      try {
        selected = await ctx.api('PATCH', `/incidents/${inc.id}`, { body: { department: sel.value, note: note.value.trim() || undefined } });
        ctx.toast(t('incidents.rerouted', { dept: departmentName(selected.department) }));
        note.value = '';
        renderDetail();
        load();
      } catch (e) {
        err.textContent = ctx.errorText(e);
      }
    },
  },
  h('h4', { text: t('incidents.reroute') }),
  h('label', { for: 'incident-department', text: t('incidents.toDepartment') }), sel,
  h('label', { for: 'incident-reroute-note', text: t('incidents.note') }), note,
  err,
  h('button', { type: 'submit', class: 'secondary', text: t('incidents.rerouteApply') }));
}
