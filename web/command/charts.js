// The statistics tab: summary figures, each with the same dates a year earlier, and Chart.js
// charts (global `Chart`, pinned in /vendor/chart.js) of the document stats-source.js returns.
// Each chart's canvas carries a text summary (aria-label) and a data table follows it for
// screen readers and keyboard users.
import { h, fill } from './dom.js';

const PALETTE = ['#b3261e', '#0969da', '#1a7f37', '#9a6700', '#8250df', '#bf3989', '#57606a', '#1b7c83'];
const STATUS_COLORS = { open: '#9a6700', acknowledged: '#8250df', in_progress: '#0969da', resolved: '#1a7f37', rejected: '#57606a' };
const PREVIOUS_COLOR = '#d8d0c8';

const charts = new Map(); // id → Chart

/** The summary tiles: [figure key, label key, how to show a value]. */
const TILES = [
  ['tasks_published', 'stats.tasks'],
  ['teams_formed', 'stats.teams'],
  ['participants', 'stats.participants'],
  ['patrol_hours', 'stats.patrolHours', 'hours'],
  ['qualified_members', 'stats.qualified'],
  ['points_awarded', 'stats.pointsAwarded'],
  ['fund_awarded_cents', 'stats.fund', 'yuan'],
  ['incidents_reported', 'stats.incidents'],
  ['incident_median_resolve_s', 'stats.resolveTime', 'duration'],
  ['dispatches', 'stats.dispatches'],
  ['dispatch_median_first_accept_s', 'stats.acceptTime', 'duration'],
  ['dispatch_median_arrival_s', 'stats.arrivalTime', 'duration'],
  ['envoys_active', 'stats.active'],
  ['envoys_registered', 'stats.registered'],
];

function show(v, how, t, lang) {
  if (v === null || v === undefined) return '—';
  const n = (x, d = 0) => x.toLocaleString(lang === 'en' ? 'en' : 'zh-CN', { maximumFractionDigits: d });
  if (how === 'hours') return t('stats.hours', { n: n(v, 2) });
  if (how === 'yuan') return '¥' + n(v / 100, 2);
  if (how === 'duration') return v < 120 ? t('stats.seconds', { n: n(v, 1) }) : t('stats.minutes', { n: n(v / 60, 1) });
  return n(v);
}

/** "vs last year" under a tile: the change in percent, or the previous value when there is none. */
function change(f, how, t, lang) {
  if (f.previous === null || f.previous === undefined) return t('stats.noPrevious');
  if (f.change_pct === null) return t('stats.lastYear', { v: show(f.previous, how, t, lang) });
  const sign = f.change_pct > 0 ? '+' : '';
  return t('stats.change', { pct: sign + f.change_pct, v: show(f.previous, how, t, lang) });
}

export function renderStats(summaryEl, chartsEl, stats, i18n) {
  const t = i18n.t;
  const lang = i18n.lang;
  const categoryName = (code) => stats.category_names?.[code]?.[lang === 'en' ? 'en' : 'zh'] || code;
  fill(summaryEl, TILES.map(([key, label, how]) => {
    const f = stats[key];
    return h('div', { class: 'stat', dataset: { figure: key } },
      h('b', { text: show(f.value, how, t, lang) }),
      h('span', { text: t(label) }),
      h('small', { class: 'change', text: change(f, how, t, lang) }));
  }));

  for (const c of charts.values()) c.destroy();
  charts.clear();
  const entries = (m) => Object.entries(m || {});
  const lastYear = t('stats.previousYear');
  const byCategory = entries(stats.incidents_by_category).filter(([, f]) => f.value || f.previous);
  const bySize = entries(stats.teams_by_size);
  const specs = [
    {
      id: 'chart-category', title: t('stats.byCategory'), type: 'bar', horizontal: true,
      labels: byCategory.map(([k]) => categoryName(k)), values: byCategory.map(([, f]) => f.value),
      colors: byCategory.map((_, i) => PALETTE[i % PALETTE.length]), valueLabel: t('stats.thisPeriod'),
      second: { label: lastYear, values: byCategory.map(([, f]) => f.previous ?? 0) },
    },
    {
      id: 'chart-status', title: t('stats.byStatus'), type: 'doughnut',
      ...(() => {
        const xs = entries(stats.incidents_by_outcome).filter(([, f]) => f.value);
        return { labels: xs.map(([k]) => t('status.' + k)), values: xs.map(([, f]) => f.value), colors: xs.map(([k]) => STATUS_COLORS[k]) };
      })(),
    },
    {
      id: 'chart-sizes', title: t('stats.teamSizes'), type: 'bar',
      labels: bySize.map(([k]) => t('stats.size', { n: k })), values: bySize.map(([, f]) => f.value),
      colors: '#0969da', valueLabel: t('stats.thisPeriod'),
      second: { label: lastYear, values: bySize.map(([, f]) => f.previous ?? 0) },
    },
    {
      id: 'chart-leaderboard', title: t('stats.leaderboard'), type: 'bar', horizontal: true,
      labels: stats.leaderboard.map((x) => x.name), values: stats.leaderboard.map((x) => x.points),
      valueLabel: t('stats.points'), colors: '#b3261e',
    },
  ];
  fill(chartsEl, specs.map((s) => {
    const canvas = h('canvas', { id: s.id, role: 'img', 'aria-label': `${s.title}: ${s.labels.map((l, i) => `${l} ${s.values[i]}`).join(', ') || t('stats.empty')}` });
    return h('section', { class: 'chart-card', dataset: { chart: s.id } },
      h('h3', { text: s.title }),
      s.labels.length ? h('div', { class: 'chart-box' }, canvas) : h('p', { class: 'muted', text: t('stats.empty') }),
      s.labels.length ? h('details', { class: 'chart-table' }, h('summary', { text: t('stats.table') }),
        h('table', {}, h('tbody', {}, s.labels.map((l, i) => h('tr', {}, h('th', { scope: 'row', text: l }),
          h('td', { text: String(s.values[i]) }), s.second ? h('td', { text: String(s.second.values[i]) }) : null))))) : null);
  }));

  for (const s of specs) {
    if (!s.labels.length) continue;
    const canvas = chartsEl.querySelector('#' + s.id);
    const datasets = [{ label: s.valueLabel || s.title, data: s.values, backgroundColor: s.colors, borderWidth: s.type === 'doughnut' ? 2 : 0 }];
    if (s.second) datasets.push({ label: s.second.label, data: s.second.values, backgroundColor: PREVIOUS_COLOR });
    charts.set(s.id, new Chart(canvas, {
      type: s.type,
      data: { labels: s.labels, datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        indexAxis: s.horizontal ? 'y' : 'x',
        plugins: { legend: { display: s.type === 'doughnut' || !!s.second, position: 'bottom' } },
        scales: s.type === 'doughnut' ? {} : {
          x: { beginAtZero: true, ticks: { precision: 0, callback: s.horizontal ? undefined : shortLabel } },
          y: { beginAtZero: true, ticks: { precision: 0, callback: s.horizontal ? shortLabel : undefined } },
        },
      },
    }));
  }
}

/** A category axis label cut to fit (the full one is in the tooltip and the data table). */
function shortLabel(value) {
  const label = String(this.getLabelForValue(value));
  return label.length > 18 ? label.slice(0, 17) + '…' : label;
}

export function chartCount() { return charts.size; }
