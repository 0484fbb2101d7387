// The statistics tab: a period, the figures (stats-source.js, from GET /stats) and their charts
// (charts.js), and the server's CSV / JSON exports of the same figures.
import { $, h, fill } from './dom.js';
import { loadStats, exportHref } from './stats-source.js';
import { renderStats } from './charts.js';

let ctx;
let last = null;

export function init(c) {
  ctx = c;
  $('#stats-period').addEventListener('change', load);
  $('#stats-refresh').addEventListener('click', load);
  ctx.onTab('stats', load);
  ctx.i18n.onChange(() => { if (last && ctx.tab === 'stats') render(); });
}

function render() {
  renderStats($('#stats-summary'), $('#stats-charts'), last, ctx.i18n);
  const token = ctx.session.token;
  for (const format of ['csv', 'json']) $(`#stats-export-${format}`).href = exportHref(format, last, token);
  $('#stats-exports').hidden = false;
}

async function load() {
  const days = parseInt($('#stats-period').value, 10) || 30;
  const to = new Date();
  const from = new Date(to.getTime() - days * 86400_000);
  try {
    last = await loadStats(ctx.api, { from, to });
    ctx.stats = last;
    render();
  } catch (e) {
    $('#stats-exports').hidden = true;
    fill($('#stats-summary'), h('p', { class: 'error-text', text: ctx.errorText(e) }));
  }
}
