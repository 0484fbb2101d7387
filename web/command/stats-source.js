// Where the statistics come from: GET /stats for the period, with the same dates a year
// earlier beside each figure (counted by the server from its stored records), and the
// leaderboard of the same period. The exports are the server's (/stats/export.csv|.json).
//
// Shape: the /stats document (docs/api.md: {from, to, previous_from, tasks_published: {value,
// previous, change_pct}, …, teams_by_size, incidents_by_category, incidents_by_outcome}) plus
// leaderboard: [{name, points, patrol_minutes}] and category_names: {code: {zh, en}} (from the
// routing rules).

export async function loadStats(api, { from, to }) {
  const period = { from: from.toISOString(), to: to.toISOString() };
  const [stats, board, routing] = await Promise.all([
    api('GET', '/stats', { query: { ...period, compare: 'previous_year' } }),
    api('GET', '/leaderboard', { query: { ...period, limit: 10 } }),
    api('GET', '/routing'),
  ]);
  stats.category_names = Object.fromEntries(routing.rules.map((r) => [r.category, { zh: r.name_zh, en: r.name_en }]));
  stats.leaderboard = board.rows.map((r) => ({ name: r.name, points: r.points, patrol_minutes: r.patrol_minutes }));
  return stats;
}

/** The link of an export (`csv` or `json`) of the figures `stats` shows, for this session. */
export function exportHref(format, stats, token) {
  const q = new URLSearchParams({ from: stats.from, to: stats.to, compare: 'previous_year', token });
  return `/api/v1/stats/export.${format}?${q}`;
}
