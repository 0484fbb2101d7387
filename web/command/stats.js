// The statistics tab: a period, the figures (stats-source.js) and their charts (charts.js).
import { $, h, fill } from './dom.js';
import { loadStats } from './stats-source.js';
import { renderStats } from './charts.js';

let ctx;
let last = null;

export function init(c) {
  ctx = c;
  $('#stats-period').addEventListener('change', load);
  $('#stats-refresh').addEventListener('click', load);
  ctx.onTab('stats', load);
  ctx.i18n.onChange(() => { if (last && ctx.tab === 'stats') renderStats($('#stats-summary'), $('#stats-charts'), last, ctx.i18n); });
}

async function load() {
  const days = parseInt($('#stats-period').value, 10) || 30;
  const to = new Date(Date.now() + 60_000);
  const from = new Date(to.getTime() - days * 86400_000);
  try {
    last = await loadStats(ctx.api, { from, to });
    ctx.stats = last;
    renderStats($('#stats-summary'), $('#stats-charts'), last, ctx.i18n);
  } catch (e) {
    fill($('#stats-summary'), h('p', { class: 'error-text', text: ctx.errorText(e) }));
  }
}
