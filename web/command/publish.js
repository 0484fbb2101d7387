// Publishing a task: the area drawn on the map (draw.js) or typed (vertices, or centre and
// radius), then the form → POST /tasks. The typed fields are the one source of the area: a
// drawing fills them in, and the form sends what they say.
import { $, localInput, fromLocalInput } from './dom.js';
import { createDrawTool, polygonArea, selfIntersects } from './draw.js';

let ctx;
let draw;

export function init(c) {
  ctx = c;
  draw = createDrawTool(ctx, {
    onDone: (area) => { fillFields(area); $('#task-title').focus(); },
    onState: (mode) => {
      $('#draw-actions').hidden = !mode;
      $('#draw-polygon').setAttribute('aria-pressed', String(mode === 'polygon'));
      $('#draw-circle').setAttribute('aria-pressed', String(mode === 'circle'));
    },
  });
  ctx.draw = draw;
  $('#draw-polygon').addEventListener('click', () => { setType('polygon'); draw.start('polygon'); });
  $('#draw-circle').addEventListener('click', () => { setType('circle'); draw.start('circle'); });
  $('#draw-finish').addEventListener('click', () => draw.finish());
  $('#draw-undo').addEventListener('click', () => draw.undo());
  $('#draw-cancel').addEventListener('click', () => draw.cancel());
  for (const r of document.querySelectorAll('input[name=area-type]')) r.addEventListener('change', () => setType(r.value));
  $('#area-preview').addEventListener('click', preview);
  for (const id of ['#area-vertices', '#circle-lat', '#circle-lng', '#circle-radius']) {
    $(id).addEventListener('change', () => { const a = readArea(); if (a.area) draw.show(a.area); });
  }
  resetTimes();
  $('#publish-form').addEventListener('submit', submit);
}

function resetTimes() {
  const start = new Date();
  start.setSeconds(0, 0);
  start.setMinutes(Math.ceil(start.getMinutes() / 15) * 15);
  $('#task-starts').value = localInput(start);
  $('#task-ends').value = localInput(new Date(start.getTime() + 4 * 3600_000));
}

function setType(type) {
  for (const r of document.querySelectorAll('input[name=area-type]')) r.checked = r.value === type;
  $('#area-polygon').hidden = type !== 'polygon';
  $('#area-circle').hidden = type !== 'circle';
}

function areaType() {
  return document.querySelector('input[name=area-type]:checked').value;
}

function fillFields(area) {
  if (area.type === 'Circle') {
    setType('circle');
    $('#circle-lat').value = area.center[1];
    $('#circle-lng').value = area.center[0];
    $('#circle-radius').value = area.radius_m;
  } else {
    setType('polygon');
    $('#area-vertices').value = area.coordinates[0].slice(0, -1).map(([lng, lat]) => `${lat}, ${lng}`).join('\n');
  }
}

/** The area the fields describe: `{area}` or `{error}` (a text for the user). */
function readArea() {
  if (areaType() === 'circle') {
    const lat = parseFloat($('#circle-lat').value);
    const lng = parseFloat($('#circle-lng').value);
    const r = parseFloat($('#circle-radius').value);
    if (!Number.isFinite(lat) || !Number.isFinite(lng) || Math.abs(lat) > 90 || Math.abs(lng) > 180) return { error: ctx.t('area.badCentre') };
    if (!Number.isFinite(r) || r < 10 || r > 5000) return { error: ctx.t('area.badRadius') };
    return { area: { type: 'Circle', center: [lng, lat], radius_m: Math.round(r) } };
  }
  const lines = $('#area-vertices').value.split('\n').map((s) => s.trim()).filter(Boolean);
  const points = [];
  for (const line of lines) {
    const nums = line.split(/[\s,;，]+/).filter(Boolean).map(Number);
    if (nums.length !== 2 || !nums.every(Number.isFinite) || Math.abs(nums[0]) > 90 || Math.abs(nums[1]) > 180) {
      return { error: ctx.t('area.badVertex', { line }) };
    }
    points.push(nums);
  }
  // a ring typed closed (last = first) is fine too
  if (points.length > 3 && points[0][0] === points.at(-1)[0] && points[0][1] === points.at(-1)[1]) points.pop();
  if (points.length < 3) return { error: ctx.t('draw.needThree') };
  const area = polygonArea(points);
  if (selfIntersects(area.coordinates[0])) return { error: ctx.t('area.crossing') };
  return { area };
}

function preview() {
  const { area, error } = readArea();
  if (error) { ctx.toast(error, { error: true }); return; }
  draw.show(area);
  ctx.map.fitBounds(draw.shape.getBounds(), { maxZoom: 17, padding: [40, 40] });
}

const int = (id) => parseInt($(id).value, 10);

async function submit(ev) {
  ev.preventDefault();
  const err = $('#publish-error');
  err.textContent = '';
  if (draw.mode) draw.finish();
  const { area, error } = readArea();
  if (error) { err.textContent = error; return; }
  const title = $('#task-title').value.trim();
  const place = $('#task-place').value.trim();
  if (!title) { err.textContent = ctx.t('publish.needTitle'); $('#task-title').focus(); return; }
  if (!place) { err.textContent = ctx.t('publish.needPlace'); $('#task-place').focus(); return; }
  const starts = fromLocalInput($('#task-starts').value);
  const ends = fromLocalInput($('#task-ends').value);
  if (!starts || !ends || ends <= starts) { err.textContent = ctx.t('publish.badWindow'); return; }
  const teamMin = int('#task-team-min');
  const teamMax = int('#task-team-max');
  if (!(teamMin >= 2 && teamMin <= teamMax && teamMax <= 10)) { err.textContent = ctx.t('publish.badTeamSize'); return; }
  const body = {
    title, place,
    description: $('#task-description').value.trim(),
    area,
    starts_at: starts,
    ends_at: ends,
    patrol_minutes: int('#task-minutes'),
    team_min: teamMin,
    team_max: teamMax,
    max_teams: int('#task-teams'),
    reward_points: int('#task-points') || 0,
    reward_fund_cents: Math.round((parseFloat($('#task-fund').value) || 0) * 100),
  };
  const button = $('#publish-submit');
  button.disabled = true;
  try {
    const task = await ctx.api('POST', '/tasks', { body });
    ctx.lastTask = task;
    ctx.toast(ctx.t('publish.done', { title: task.title }));
    ctx.emit('tasks-changed', task);
    draw.clear();
    for (const id of ['#task-title', '#task-place', '#task-description', '#area-vertices', '#circle-lat', '#circle-lng', '#circle-radius']) $(id).value = '';
    setType('polygon');
  } catch (e) {
    err.textContent = ctx.errorText(e);
  } finally {
    button.disabled = false;
  }
}
