// Where the statistics come from. There is no GET /stats yet, so this gathers them from the
// lists the API has (incidents, dispatches, tasks, leaderboard) for a period. When /stats
// arrives, only `loadStats` changes: the charts (charts.js) take the shape returned here.
//
// Shape: {from, to, totals: {tasks, teams, incidents, dispatches, alerted, median_response_s},
//   incidents_by_category: [{key, name_zh, name_en, count}], incidents_by_status: [{key, count}],
//   dispatch_outcomes: [{key, count}], tasks: [{title, teams, max_teams}],
//   leaderboard: [{name, points, patrol_minutes}], truncated: bool}

const STATUSES = ['open', 'acknowledged', 'in_progress', 'resolved', 'rejected'];
const OUTCOMES = ['notified', 'accepted', 'declined', 'expired', 'arrived'];

export async function loadStats(api, { from, to }) {
  const fromIso = from.toISOString();
  const toIso = to.toISOString();
  const inPeriod = (iso) => iso >= fromIso && iso < toIso;
  const [incidents, dispatches, tasks, board, routing] = await Promise.all([
    api('GET', '/incidents', { query: { from: fromIso, to: toIso, limit: 1000 } }),
    api('GET', '/dispatches', { query: { limit: 500 } }),
    api('GET', '/tasks', { query: { limit: 1000 } }),
    api('GET', '/leaderboard', { query: { from: fromIso, to: toIso, limit: 10 } }),
    api('GET', '/routing'),
  ]);

  const byCategory = new Map(routing.rules.map((r) => [r.category, { key: r.category, name_zh: r.name_zh, name_en: r.name_en, count: 0 }]));
  const byStatus = new Map(STATUSES.map((s) => [s, 0]));
  for (const inc of incidents.incidents) {
    if (!byCategory.has(inc.category)) byCategory.set(inc.category, { key: inc.category, name_zh: inc.category_name_zh, name_en: inc.category_name_en, count: 0 });
    byCategory.get(inc.category).count++;
    byStatus.set(inc.status, (byStatus.get(inc.status) || 0) + 1);
  }

  const ds = dispatches.dispatches.filter((d) => inPeriod(d.created_at));
  const outcomes = new Map(OUTCOMES.map((k) => [k, 0]));
  const responses = [];
  for (const d of ds) {
    for (const r of d.recipients || []) {
      outcomes.set(r.state, (outcomes.get(r.state) || 0) + 1);
      if ((r.state === 'accepted' || r.state === 'arrived') && r.answered_at) {
        responses.push((Date.parse(r.answered_at) - Date.parse(r.notified_at)) / 1000);
      }
    }
  }
  responses.sort((a, b) => a - b);
  const median = responses.length ? responses[Math.floor(responses.length / 2)] : null;

  const ts = tasks.tasks.filter((t) => inPeriod(t.created_at));
  return {
    from: fromIso,
    to: toIso,
    totals: {
      tasks: ts.length,
      teams: ts.reduce((n, t) => n + (t.teams || 0), 0),
      incidents: incidents.incidents.length,
      dispatches: ds.length,
      alerted: [...outcomes.values()].reduce((a, b) => a + b, 0),
      median_response_s: median,
    },
    incidents_by_category: [...byCategory.values()],
    incidents_by_status: [...byStatus].map(([key, count]) => ({ key, count })),
    dispatch_outcomes: [...outcomes].map(([key, count]) => ({ key, count })),
    tasks: ts.sort((a, b) => b.teams - a.teams).slice(0, 8).map((t) => ({ title: t.title, teams: t.teams, max_teams: t.max_teams })),
    leaderboard: board.rows.map((r) => ({ name: r.name, points: r.points, patrol_minutes: r.patrol_minutes })),
    truncated: incidents.incidents.length >= 1000 || dispatches.dispatches.length >= 500 || tasks.tasks.length >= 1000,
  };
}
