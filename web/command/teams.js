// Tasks → their teams → each team's progress (GET /tasks, GET /tasks/{id},
// GET /teams/{id}/progress), refreshed while the tab is open; closing a task.
import { $, h, fill } from './dom.js';

const REFRESH_MS = 30_000;

let ctx;
let selected = null; // task id
let timer;

export function init(c) {
  ctx = c;
  $('#teams-status').addEventListener('change', loadTasks);
  $('#teams-refresh').addEventListener('click', () => { loadTasks(); if (selected) loadDetail(selected); });
  ctx.on('tasks-changed', () => { if (ctx.tab === 'teams') loadTasks(); });
  ctx.on('select-task', (id) => { selected = id; ctx.showTab('teams'); });
  ctx.onTab('teams', () => { loadTasks(); if (selected) loadDetail(selected); });
  ctx.i18n.onChange(() => { if (ctx.tab === 'teams') { loadTasks(); if (selected) loadDetail(selected); } });
}

let tasks = [];

async function loadTasks() {
  try {
    const res = await ctx.api('GET', '/tasks', { query: { status: $('#teams-status').value, limit: 200 } });
    tasks = res.tasks;
    renderTasks();
  } catch (e) {
    fill($('#task-list'), h('li', { class: 'error-text', text: ctx.errorText(e) }));
  }
}

function renderTasks() {
  const t = ctx.t;
  if (!tasks.length) { fill($('#task-list'), h('li', { class: 'muted compact', text: t('teams.noTasks') })); return; }
  fill($('#task-list'), tasks.map((task) => h('li', { class: 'task-row', dataset: { id: task.id } },
    h('button', {
      type: 'button', class: 'item-button', 'aria-current': String(task.id === selected),
      onclick: () => { selected = task.id; renderTasks(); loadDetail(task.id); ctx.showTaskArea?.(task); },
    },
    h('span', { class: 'item-title' }, task.title, ' ', h('span', { class: `pill ${task.status}`, text: t('task.status.' + task.status) })),
    h('span', { class: 'meta', text: t('teams.taskMeta', {
      place: task.place, teams: task.teams, max: task.max_teams, free: task.free_slots,
      from: ctx.i18n.dateTime(task.starts_at), to: ctx.i18n.dateTime(task.ends_at),
    }) })))));
}

async function loadDetail(id) {
  clearTimeout(timer);
  const box = $('#task-detail');
  try {
    const task = await ctx.api('GET', `/tasks/${id}`);
    const teams = task.teams_list || [];
    const progress = await Promise.all(teams.map((team) =>
      ['forming', 'active', 'finished'].includes(team.state)
        ? ctx.api('GET', `/teams/${team.id}/progress`).catch((e) => ({ error: e }))
        : null));
    if (selected !== id) return;
    renderDetail(task, teams, progress);
  } catch (e) {
    fill(box, h('p', { class: 'error-text', text: ctx.errorText(e) }));
  }
  if (ctx.tab === 'teams' && selected === id) timer = setTimeout(() => loadDetail(id), REFRESH_MS);
}

function renderDetail(task, teams, progress) {
  const t = ctx.t;
  fill($('#task-detail'), h('article', { class: 'detail', dataset: { taskId: task.id } },
    h('h3', { text: task.title }),
    h('p', { class: 'meta', text: t('teams.detailMeta', {
      place: task.place, minutes: task.patrol_minutes, min: task.team_min, max: task.team_max,
      points: task.reward_points, fund: ctx.i18n.money(task.reward_fund_cents),
    }) }),
    task.description && h('p', { text: task.description }),
    h('div', { class: 'button-row' },
      h('button', { type: 'button', class: 'secondary small', onclick: () => ctx.showTaskArea?.(task), text: t('showOnMap') }),
      task.status === 'open' && h('button', { type: 'button', class: 'secondary small', onclick: () => closeTask(task), text: t('teams.closeTask') })),
    h('h4', { text: t('teams.teams', { n: teams.length }) }),
    teams.length ? teams.map((team, i) => renderTeam(task, team, progress[i])) : h('p', { class: 'muted', text: t('teams.noTeams') })));
}

function renderTeam(task, team, prog) {
  const t = ctx.t;
  const head = h('p', {},
    h('b', { text: t('teams.leader', { name: team.leader_name }) }), ' ',
    h('span', { class: `pill ${team.state}`, text: t('team.state.' + team.state) }), ' ',
    h('span', { class: 'meta', text: t('teams.teamMeta', {
      n: team.members, started: team.started_at ? ctx.i18n.time(team.started_at) : '—',
    }) }));
  let body = null;
  if (prog?.error) body = h('p', { class: 'error-text', text: ctx.errorText(prog.error) });
  else if (prog) {
    body = h('table', { class: 'progress' },
      h('caption', { class: 'visually-hidden', text: t('teams.progressCaption', { name: team.leader_name }) }),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col', text: t('teams.member') }),
        h('th', { scope: 'col', text: t('teams.minutes') }),
        h('th', { scope: 'col', text: t('teams.inside') }),
        h('th', { scope: 'col', text: t('teams.qualified') }))),
      h('tbody', {}, prog.members.map((m) => {
        const pct = Math.min(100, Math.round((m.minutes_inside / Math.max(1, prog.patrol_minutes)) * 100));
        return h('tr', { class: 'member-row' },
          h('td', {}, m.name, m.role === 'leader' ? ` (${t('teams.leaderShort')})` : ''),
          h('td', {},
            h('div', { class: 'bar', role: 'img', 'aria-label': t('teams.minutesOf', { n: m.minutes_inside, of: prog.patrol_minutes }) },
              h('span', { style: `width:${pct}%` })),
            h('span', { class: 'meta', text: t('teams.minutesOf', { n: m.minutes_inside, of: prog.patrol_minutes }) })),
          h('td', { text: m.inside_now === null || m.inside_now === undefined ? '—' : t(m.inside_now ? 'yes' : 'no') }),
          h('td', { text: t(m.qualified ? 'yes' : 'no') }));
      })));
  }
  return h('section', { class: 'team-card', dataset: { teamId: team.id, state: team.state } }, head, body);
}

async function closeTask(task) {
  if (!confirm(ctx.t('teams.confirmClose', { title: task.title }))) return;
  try {
    await ctx.api('POST', `/tasks/${task.id}/close`);
    ctx.toast(ctx.t('teams.closed'));
    ctx.emit('tasks-changed');
    loadTasks();
    loadDetail(task.id);
  } catch (e) {
    ctx.toast(ctx.errorText(e), { error: true });
  }
}
