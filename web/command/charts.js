// The statistics tab: summary figures and Chart.js charts (global `Chart`, pinned in
// /vendor/chart.js) of the shape stats-source.js returns. Each chart's canvas carries a text
// summary (aria-label) and a data table follows it for screen readers and keyboard users.
import { h, fill } from './dom.js';

const PALETTE = ['#b3261e', '#0969da', '#1a7f37', '#9a6700', '#8250df', '#bf3989', '#57606a', '#1b7c83'];
const STATUS_COLORS = { open: '#9a6700', acknowledged: '#8250df', in_progress: '#0969da', resolved: '#1a7f37', rejected: '#57606a' };
const OUTCOME_COLORS = { notified: '#9a6700', accepted: '#0969da', declined: '#b3261e', expired: '#57606a', arrived: '#1a7f37' };

const charts = new Map(); // id → Chart

export function renderStats(summaryEl, chartsEl, stats, i18n) {
  const t = i18n.t;
  const name = (x) => (i18n.lang === 'en' ? x.name_en : x.name_zh) || x.key;
  const resp = stats.totals.median_response_s;
  fill(summaryEl, [
    ['stats.tasks', stats.totals.tasks],
    ['stats.teams', stats.totals.teams],
    ['stats.incidents', stats.totals.incidents],
    ['stats.dispatches', stats.totals.dispatches],
    ['stats.alerted', stats.totals.alerted],
    ['stats.response', resp === null ? '—' : t('stats.seconds', { n: Math.round(resp) })],
  ].map(([k, v]) => h('div', { class: 'stat' }, h('b', { text: String(v) }), h('span', { text: t(k) }))),
  stats.truncated ? h('p', { class: 'muted small-text', text: t('stats.truncated') }) : null);

  for (const c of charts.values()) c.destroy();
  charts.clear();
  const specs = [
    {
      id: 'chart-category', title: t('stats.byCategory'), type: 'bar', horizontal: true,
      labels: stats.incidents_by_category.map(name), values: stats.incidents_by_category.map((x) => x.count),
      colors: stats.incidents_by_category.map((_, i) => PALETTE[i % PALETTE.length]),
    },
    {
      id: 'chart-status', title: t('stats.byStatus'), type: 'doughnut',
      labels: stats.incidents_by_status.map((x) => t('status.' + x.key)), values: stats.incidents_by_status.map((x) => x.count),
      colors: stats.incidents_by_status.map((x) => STATUS_COLORS[x.key]),
    },
    {
      id: 'chart-dispatch', title: t('stats.dispatchOutcomes'), type: 'bar',
      labels: stats.dispatch_outcomes.map((x) => t('recipient.' + x.key)), values: stats.dispatch_outcomes.map((x) => x.count),
      colors: stats.dispatch_outcomes.map((x) => OUTCOME_COLORS[x.key]),
    },
    {
      id: 'chart-tasks', title: t('stats.taskTeams'), type: 'bar', horizontal: true,
      labels: stats.tasks.map((x) => x.title), values: stats.tasks.map((x) => x.teams),
      second: { label: t('stats.teamsWanted'), values: stats.tasks.map((x) => x.max_teams) },
      valueLabel: t('stats.teamsFormed'), colors: '#0969da',
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
    if (s.second) datasets.push({ label: s.second.label, data: s.second.values, backgroundColor: '#d8d0c8' });
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
