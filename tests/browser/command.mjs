// Browser test of the command dashboard (/command): a fresh server, a commander and a
// sanitation staff member made with the CLI, envoys with positions near Canton Tower, two
// incidents and a claimed team seeded through the API; then in Chromium the commander signs in,
// publishes a task by drawing a polygon and one by drawing a circle, turns on the heat map
// (7 days and live), sees the live envoys, dispatches (an envoy accepts through the API and the
// dashboard shows it live), looks at a team's progress and the statistics, moves an incident one
// step with a note, switches to English; the staff member sees only their department's queue;
// and the dashboard opens at 360 px. Fails on any console error; screenshots in target/screenshots.
// Usage (from the repository root): node tests/browser/command.mjs target/debug/peacepatrol
import { startServer, launch, newPage, shot, overflows, finish, DESKTOP, PHONE, SHOTS } from './lib.mjs';
import { polygonArea, selfIntersects } from '../../web/command/draw.js';

const bin = process.argv[2] ?? 'target/debug/peacepatrol';
const started = Date.now();
const failures = [];
let passed = 0;
function check(ok, message) {
  if (ok) passed++;
  else failures.push(message);
  return ok;
}

// the drawing tool's geometry, without a browser
{
  const square = polygonArea([[23.10, 113.32], [23.10, 113.33], [23.11, 113.33], [23.11, 113.32]]);
  check(square.coordinates[0].length === 5 && square.coordinates[0][0][0] === 113.32
    && JSON.stringify(square.coordinates[0][0]) === JSON.stringify(square.coordinates[0][4]), 'a polygon ring is [lng, lat] and closed');
  check(!selfIntersects(square.coordinates[0]), 'a square does not cross itself');
  const bowtie = polygonArea([[23.10, 113.32], [23.11, 113.33], [23.10, 113.33], [23.11, 113.32]]);
  check(selfIntersects(bowtie.coordinates[0]), 'a bow tie crosses itself');
}

const TOWER = { lat: 23.1066, lng: 113.3245 };
const PASSWORD = 'password-123';
// a 1×1 PNG: an incident photo
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==', 'base64');

// the files the binary embeds (set PEACEPATROL_WEB_DIR=web to test edited files without a rebuild)
const server = await startServer(bin, 'serve');
const base = server.base;

/** An API call from Node: resolves to the parsed body; throws on a non-2xx answer. */
async function call(method, path, { token, body, form } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload;
  if (form) payload = form;
  else if (body !== undefined) { headers['Content-Type'] = 'application/json'; payload = JSON.stringify(body); }
  const res = await fetch(`${base}/api/v1${path}`, { method, headers, body: payload });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return data;
}
const login = async (phone) => (await call('POST', '/auth/login', { body: { phone, password: PASSWORD } })).token;

let browser;
try {
  // ---------- accounts and data ----------
  const commander = server.user('13900000001', '王指挥', 'commander', PASSWORD);
  const staff = server.user('13900000002', '李环卫', 'staff', PASSWORD, 'sanitation');
  const commanderToken = await login(commander.phone);

  const envoys = [];
  const now = Date.now();
  for (let i = 0; i < 6; i++) {
    const phone = `1380013800${i}`;
    const user = await call('POST', '/auth/register', { body: { phone, name: `使者${i + 1}`, password: PASSWORD } });
    const token = await login(phone);
    // three points over the last minutes, a few hundred metres around the tower
    const lat = TOWER.lat + (i % 3 - 1) * 0.0012;
    const lng = TOWER.lng + (Math.floor(i / 3) - 0.5) * 0.0016;
    const points = [150, 90, 30].map((s, k) => ({
      ts: new Date(now - s * 1000).toISOString(), lat: lat + k * 0.0001, lng: lng + k * 0.0001, accuracy_m: 10,
    }));
    const res = await call('POST', '/positions', { token, body: { points } });
    check(res.accepted === 3, `envoy ${i}: positions ${JSON.stringify(res)}`);
    envoys.push({ ...user, token, phone });
  }
  const byId = new Map(envoys.map((e) => [e.id, e]));

  // two incidents: one for sanitation (the staff member's department), one for urban management
  const routing = await call('GET', '/routing', { token: commanderToken });
  const deptOf = Object.fromEntries(routing.rules.map((r) => [r.category, r.department]));
  async function report(envoy, category, description, photo) {
    const form = new FormData();
    form.set('category', category);
    form.set('description', description);
    form.set('lat', String(TOWER.lat + 0.0005));
    form.set('lng', String(TOWER.lng - 0.0005));
    if (photo) form.set('photo', new Blob([PNG], { type: 'image/png' }), 'photo.png');
    return call('POST', '/incidents', { token: envoy.token, form });
  }
  const dirty = await report(envoys[0], 'sanitation', '塔下广场垃圾满溢', true);
  const bikes = await report(envoys[1], 'bike_parking', '地铁口共享单车乱停放', false);
  check(dirty.department === deptOf.sanitation, `incident routed to ${dirty.department}`);

  // a task with a claimed team of two
  const seededTask = await call('POST', '/tasks', {
    token: commanderToken,
    body: {
      title: '广州塔巡逻', place: '广州塔', description: '国庆游客高峰', area: { type: 'Circle', center: [TOWER.lng, TOWER.lat], radius_m: 300 },
      starts_at: new Date(now - 10 * 60_000).toISOString(), ends_at: new Date(now + 3 * 3600_000).toISOString(),
      patrol_minutes: 30, team_min: 2, team_max: 5, max_teams: 4, reward_points: 10, reward_fund_cents: 2000,
    },
  });
  const team = await call('POST', `/tasks/${seededTask.id}/teams`, { token: envoys[4].token });
  const teamForLeader = await call('GET', `/teams/${team.id}`, { token: envoys[4].token });
  await call('POST', '/teams/join', { token: envoys[5].token, body: { token: teamForLeader.join_token } });

  // the live heat window is rebuilt in the seconds after a start (503 until then)
  for (let i = 0; i < 40; i++) {
    const res = await fetch(`${base}/api/v1/heatmap?window=live`, { headers: { Authorization: `Bearer ${commanderToken}` } });
    if (res.ok) break;
    await new Promise((r) => setTimeout(r, 500));
  }

  browser = await launch();

  // ---------- the commander ----------
  const page = await newPage(browser, 'commander', failures, { viewport: DESKTOP });
  await page.goto(`${base}/command`, { waitUntil: 'load' });
  check((await page.title()).includes('平安'), 'title in Chinese');
  // an envoy is sent to the phone app
  await page.fill('#signin-phone', envoys[0].phone);
  await page.fill('#signin-password', PASSWORD);
  await page.click('#signin button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#signin-error').textContent.length > 0);
  check(await page.locator('#app-view').isHidden() && (await page.textContent('#signin-error')).includes('平安使者'),
    'an envoy does not get the dashboard');
  await page.fill('#signin-phone', commander.phone);
  await page.fill('#signin-password', commander.password);
  await shot(page, 'command-signin');
  await page.click('#signin button[type=submit]');
  await page.waitForSelector('#app-view:not([hidden])');
  await page.waitForFunction(() => document.querySelectorAll('path.live-envoy').length >= 6, null, { timeout: 15_000 })
    .catch(() => {});
  check(await page.locator('path.live-envoy').count() >= 6, `live envoys: ${await page.locator('path.live-envoy').count()} markers`);
  check((await page.locator('#live-list li').count()) >= 6, 'live list lists the envoys');
  await page.waitForSelector('#stream-state.on', { timeout: 10_000 }).catch(() => check(false, 'event stream did not open'));
  await shot(page, 'command-live');

  // a new position arrives through the event stream (`positions`), before the next poll
  const mover = envoys[2];
  const moverLat = TOWER.lat + 0.003;
  const streamedBefore = await page.evaluate(() => window.ppCommand.live.streamed);
  await call('POST', '/positions', {
    token: mover.token, body: { points: [{ ts: new Date().toISOString(), lat: moverLat, lng: TOWER.lng, accuracy_m: 8 }] },
  });
  const moved = await page.waitForFunction(([id, lat, before]) => window.ppCommand.live.streamed > before
    && Math.abs((window.ppCommand.live.envoys.get(id)?.lat ?? 0) - lat) < 1e-6, [mover.id, moverLat, streamedBefore], { timeout: 5000 })
    .then(() => true).catch(() => false);
  check(moved, 'a new position moves the envoy on the map through the event stream');

  const mapBox = await page.locator('#map').boundingBox();
  const toLatLng = (pts) => page.evaluate((ps) => ps.map(([x, y]) => {
    const ll = window.ppCommand.map.containerPointToLatLng([x, y]);
    return [ll.lat, ll.lng];
  }), pts);
  const clickMap = (x, y) => page.mouse.click(mapBox.x + x, mapBox.y + y);
  const cx = Math.round(mapBox.width / 2);
  const cy = Math.round(mapBox.height / 2);

  // ---------- publish by drawing a polygon ----------
  // the tabs take the arrow keys
  await page.focus('#tab-layers');
  await page.keyboard.press('ArrowRight');
  check(await page.getAttribute('#tab-publish', 'aria-selected') === 'true'
    && await page.evaluate(() => document.activeElement.id) === 'tab-publish', 'arrow keys move between tabs');
  await page.click('#draw-polygon');
  check(await page.locator('#map-mode').isVisible(), 'drawing shows its help on the map');
  // Esc gives up a drawing
  await clickMap(cx - 300, cy + 200);
  await clickMap(cx - 200, cy + 220);
  check(await page.locator('path.draw-vertex').count() === 2, 'two vertices placed');
  await page.keyboard.press('Escape');
  check(await page.locator('path.draw-vertex').count() === 0 && await page.locator('#map-mode').isHidden(), 'Esc cancels the drawing');
  await page.click('#draw-polygon');
  const vertices = [[cx - 260, cy - 140], [cx - 60, cy - 170], [cx - 20, cy + 40], [cx - 240, cy + 70]];
  const expected = await toLatLng(vertices);
  for (const [x, y] of vertices) { await clickMap(x, y); await page.waitForTimeout(80); }
  await shot(page, 'command-draw-polygon');
  await page.click('#draw-finish');
  const lines = (await page.inputValue('#area-vertices')).split('\n').filter(Boolean);
  check(lines.length === 4, `the drawn polygon fills 4 vertex lines, got ${lines.length}`);
  await page.fill('#task-title', '海心沙夜巡');
  await page.fill('#task-place', '海心沙');
  await page.fill('#task-description', '灯光秀散场');
  let posted = page.waitForResponse((r) => r.url().endsWith('/api/v1/tasks') && r.request().method() === 'POST');
  await page.click('#publish-submit');
  let res = await posted;
  check(res.status() === 201, `POST /tasks from the polygon: ${res.status()} ${await res.text()}`);
  if (res.status() === 201) {
    const stored = await call('GET', `/tasks/${(await res.json()).id}`, { token: commanderToken });
    const ring = stored.area.coordinates?.[0] || [];
    check(stored.area.type === 'Polygon' && ring.length === 5, `stored polygon: ${JSON.stringify(stored.area)}`);
    const close = expected.every(([lat, lng], i) => ring[i] && Math.abs(ring[i][0] - lng) < 1e-5 && Math.abs(ring[i][1] - lat) < 1e-5);
    check(close, `stored vertices ${JSON.stringify(ring)} match the drawn ${JSON.stringify(expected)}`);
    check(stored.title === '海心沙夜巡' && stored.place === '海心沙', 'stored title and place');
  }
  await page.waitForFunction(() => document.querySelectorAll('.task-area').length >= 2, null, { timeout: 5000 })
    .catch(() => check(false, 'the new task area is not on the map'));

  // ---------- publish by drawing a circle ----------
  await page.click('#draw-circle');
  const [centre, edge] = [[cx + 150, cy - 120], [cx + 230, cy - 120]];
  const [cLL, eLL] = await toLatLng([centre, edge]);
  const radius = await page.evaluate(([a, b]) => window.ppCommand.map.distance(a, b), [cLL, eLL]);
  await clickMap(...centre);
  await page.mouse.move(mapBox.x + edge[0] - 20, mapBox.y + edge[1]);
  await page.mouse.move(mapBox.x + edge[0], mapBox.y + edge[1]);
  await shot(page, 'command-draw-circle');
  await clickMap(...edge);
  check(!!(await page.inputValue('#circle-radius')), 'the drawn circle fills the radius');
  await page.fill('#task-title', '猎德大桥');
  await page.fill('#task-place', '猎德大桥北');
  posted = page.waitForResponse((r) => r.url().endsWith('/api/v1/tasks') && r.request().method() === 'POST');
  await page.click('#publish-submit');
  res = await posted;
  check(res.status() === 201, `POST /tasks from the circle: ${res.status()}`);
  if (res.status() === 201) {
    const stored = await call('GET', `/tasks/${(await res.json()).id}`, { token: commanderToken });
    check(stored.area.type === 'Circle' && Math.abs(stored.area.radius_m - radius) <= 1
      && Math.abs(stored.area.center[0] - cLL[1]) < 1e-5 && Math.abs(stored.area.center[1] - cLL[0]) < 1e-5,
    `stored circle ${JSON.stringify(stored.area)} matches centre ${cLL} radius ${radius}`);
  }
  await page.waitForFunction(() => document.querySelectorAll('.task-area').length >= 3, null, { timeout: 5000 })
    .catch(() => check(false, 'the circle task is not on the map'));

  // ---------- publish without the map: centre and radius typed ----------
  await page.check('input[name=area-type][value=circle]');
  await page.fill('#circle-lat', '23.1150');
  await page.fill('#circle-lng', '113.3300');
  await page.fill('#circle-radius', '250');
  await page.fill('#task-title', '花城广场');
  await page.fill('#task-place', '花城广场南');
  posted = page.waitForResponse((r) => r.url().endsWith('/api/v1/tasks') && r.request().method() === 'POST');
  await page.focus('#publish-submit');
  await page.keyboard.press('Enter');
  res = await posted;
  const typed = res.status() === 201 ? await call('GET', `/tasks/${(await res.json()).id}`, { token: commanderToken }) : null;
  check(typed?.area.type === 'Circle' && typed.area.radius_m === 250 && typed.area.center[0] === 113.33 && typed.area.center[1] === 23.115,
    `typed circle stored: ${res.status()} ${JSON.stringify(typed?.area)}`);
  await shot(page, 'command-published');

  // ---------- heat map: 7 days, then live ----------
  await page.click('#tab-layers');
  let heat = page.waitForResponse((r) => r.url().includes('/api/v1/heatmap?') && r.url().includes('window=7d'));
  await page.check('#layer-heat');
  res = await heat;
  const fc7 = await res.json();
  check(res.status() === 200 && fc7.features.length > 0, `heat 7d: ${res.status()} ${fc7.features?.length} cells`);
  await page.waitForFunction((n) => document.querySelectorAll('path.heat-cell').length === n, fc7.features.length, { timeout: 5000 })
    .catch(() => {});
  check(await page.locator('path.heat-cell').count() === fc7.features.length,
    `7d hexagons drawn: ${await page.locator('path.heat-cell').count()} of ${fc7.features.length}`);
  await shot(page, 'command-heat-7d');
  heat = page.waitForResponse((r) => r.url().includes('/api/v1/heatmap?') && r.url().includes('window=live'));
  await page.selectOption('#heat-window', 'live');
  res = await heat;
  const fcLive = await res.json();
  check(res.status() === 200 && fcLive.features.length > 0, `heat live: ${res.status()} ${fcLive.features?.length} cells`);
  await page.waitForFunction((n) => document.querySelectorAll('path.heat-cell').length === n, fcLive.features.length, { timeout: 5000 })
    .catch(() => {});
  check(await page.locator('path.heat-cell').count() === fcLive.features.length, 'live hexagons drawn');
  await shot(page, 'command-heat-live');
  heat = page.waitForResponse((r) => r.url().includes('/api/v1/heatmap?') && r.url().includes('from='));
  await page.selectOption('#heat-window', 'custom');
  res = await heat;
  const fcCustom = await res.json();
  check(res.status() === 200 && fcCustom.features.length > 0, `heat custom period: ${res.status()} ${fcCustom.features?.length} cells`);
  await page.waitForFunction((n) => document.querySelectorAll('path.heat-cell').length === n, fcCustom.features.length, { timeout: 5000 })
    .catch(() => check(false, 'custom period hexagons not drawn'));
  // the raster tiles of a window load without errors
  await page.selectOption('#heat-window', '7d');
  await page.selectOption('#heat-style', 'tiles');
  await page.waitForSelector('img.leaflet-tile-loaded', { timeout: 10_000 }).catch(() => check(false, 'no heat tile loaded'));
  check(await page.locator('path.heat-cell').count() === 0, 'tiles replace the hexagons');
  await page.selectOption('#heat-style', 'hex');
  await page.uncheck('#layer-heat');

  // ---------- dispatch ----------
  await page.click('#tab-dispatch');
  await page.click('#dispatch-pick');
  const towerPt = await page.evaluate(([lat, lng]) => {
    const p = window.ppCommand.map.latLngToContainerPoint([lat, lng]);
    return [p.x, p.y];
  }, [TOWER.lat, TOWER.lng]);
  await clickMap(towerPt[0] + 3, towerPt[1] + 3);
  await page.waitForSelector('.nearest-row', { timeout: 10_000 }).catch(() => {});
  const nearest = await page.locator('.nearest-row').count();
  check(nearest >= 4, `nearest list: ${nearest} envoys`);
  check(await page.locator('.nearest-icon').count() === nearest, 'nearest envoys numbered on the map');
  await shot(page, 'command-dispatch-nearest');
  await page.fill('#dispatch-message', '广州塔东门有老人晕倒，请就近协助');
  posted = page.waitForResponse((r) => r.url().endsWith('/api/v1/dispatches') && r.request().method() === 'POST');
  await page.click('#dispatch-send');
  res = await posted;
  check(res.status() === 201, `POST /dispatches: ${res.status()}`);
  const dispatch = await res.json();
  await page.waitForSelector(`.dispatch-card[data-id="${dispatch.id}"]`);
  const alerted = (await call('GET', `/dispatches/${dispatch.id}`, { token: commanderToken })).recipients;
  const responder = alerted.map((r) => byId.get(r.user_id)).find(Boolean);
  check(!!responder, `an alerted envoy: ${JSON.stringify(alerted)}`);
  if (responder) {
    const acceptedAt = Date.now();
    await call('POST', `/dispatches/${dispatch.id}/respond`, { token: responder.token, body: { accept: true } });
    // the poll is every 15 s: seeing it sooner is the event stream
    const sel = `.dispatch-card[data-id="${dispatch.id}"] .recipient[data-user-id="${responder.id}"][data-state="accepted"]`;
    const live = await page.waitForSelector(sel, { timeout: 8000 }).then(() => true).catch(() => false);
    check(live, 'the acceptance shows live (SSE) without a reload');
    check(Date.now() - acceptedAt < 8000, 'acceptance shown within 8 s');
    check((await page.textContent(`.dispatch-card[data-id="${dispatch.id}"] .count-accepted b`)) === '1', 'accepted count 1');
  }
  await shot(page, 'command-dispatch-accepted');

  // ---------- teams and progress ----------
  await page.click('#tab-teams');
  await page.waitForSelector(`.task-row[data-id="${seededTask.id}"] button`);
  await page.click(`.task-row[data-id="${seededTask.id}"] button`);
  await page.waitForSelector(`.team-card[data-team-id="${team.id}"] .member-row`, { timeout: 10_000 }).catch(() => {});
  check(await page.locator(`.team-card[data-team-id="${team.id}"] .member-row`).count() === 2, 'the team shows its 2 members with progress');
  check((await page.textContent('#task-detail')).includes('使者5'), 'the leader is named');
  await shot(page, 'command-teams');

  // ---------- statistics ----------
  await page.click('#tab-stats');
  await page.waitForSelector('#stats-summary .stat[data-figure="incidents_reported"]', { timeout: 10_000 }).catch(() => {});
  await page.waitForFunction(() => document.querySelectorAll('#stats-charts canvas').length >= 2, null, { timeout: 10_000 }).catch(() => {});
  const charts = await page.evaluate(() => [...document.querySelectorAll('#stats-charts canvas')].filter((c) => Chart.getChart(c)).length);
  check(charts >= 2, `charts rendered: ${charts}`);
  const stats = await page.evaluate(() => window.ppCommand.stats);
  check(stats?.incidents_reported.value === 2 && stats.dispatches.value === 1 && stats.tasks_published.value === 4,
    `stats from /stats: ${JSON.stringify(stats && [stats.incidents_reported, stats.dispatches, stats.tasks_published])}`);
  check(stats?.compare === 'previous_year' && stats.tasks_published.previous === 0, 'each figure beside the previous year');
  const tiles = await page.$$eval('#stats-summary .stat', (els) => els.map((e) => [e.dataset.figure, e.querySelector('b').textContent]));
  check(tiles.length === 14 && tiles.find(([k]) => k === 'tasks_published')?.[1] === '4', `summary tiles: ${JSON.stringify(tiles)}`);
  // the export links download the server's files for the same period
  const exported = await page.evaluate(async () => {
    const res = await fetch(document.querySelector('#stats-export-csv').href);
    return { status: res.status, disposition: res.headers.get('content-disposition'), text: await res.text() };
  });
  check(exported.status === 200 && exported.disposition?.startsWith('attachment') &&
    exported.text.startsWith('figure,key,value,previous,change_pct\n') && exported.text.includes('\ntasks_published,,4,0,\n'),
    `CSV export: ${exported.status} ${exported.disposition} ${exported.text.slice(0, 120)}`);
  const json = await page.evaluate(async () => (await fetch(document.querySelector('#stats-export-json').href)).json());
  check(json.tasks_published?.value === 4 && json.from === stats.from, 'JSON export: the same figures');
  await shot(page, 'command-stats');

  // ---------- the incident queue ----------
  await page.click('#tab-incidents');
  await page.waitForFunction(() => document.querySelectorAll('.incident-row').length === 2, null, { timeout: 10_000 }).catch(() => {});
  check(await page.locator('.incident-row').count() === 2, 'the commander sees both incidents');
  await page.selectOption('#filter-status', 'open');
  await page.selectOption('#filter-category', 'sanitation');
  await page.waitForFunction(() => document.querySelectorAll('.incident-row').length === 1, null, { timeout: 5000 }).catch(() => {});
  check(await page.locator('.incident-row').count() === 1, 'the category filter leaves one');
  await page.click(`.incident-row[data-id="${dirty.id}"] button`);
  await page.waitForSelector('.incident-detail .photos img');
  check(await page.waitForFunction(() => {
    const img = document.querySelector('.incident-detail .photos img');
    return img && img.complete && img.naturalWidth === 1;
  }, null, { timeout: 5000 }).then(() => true).catch(() => false), 'the photo loads');
  await page.selectOption('#incident-next', 'acknowledged');
  await page.fill('#incident-note', '已通知保洁班组');
  await page.click('.incident-status-form button[type=submit]');
  await page.waitForSelector(`.incident-detail[data-status="acknowledged"]`, { timeout: 5000 }).catch(() => {});
  const after = await call('GET', `/incidents/${dirty.id}`, { token: commanderToken });
  check(after.status === 'acknowledged' && after.timeline.at(-1).note === '已通知保洁班组', `incident moved: ${after.status}`);
  // the open filter now hides it
  await page.waitForFunction(() => document.querySelectorAll('.incident-row').length === 0, null, { timeout: 5000 }).catch(() => {});
  check(await page.locator('.incident-row').count() === 0, 'filtered by open, the acknowledged one leaves the list');
  await shot(page, 'command-incidents');

  // a commander re-routes the other report to public security, with a note
  await page.selectOption('#filter-category', '');
  await page.waitForSelector(`.incident-row[data-id="${bikes.id}"] button`, { timeout: 5000 });
  await page.click(`.incident-row[data-id="${bikes.id}"] button`);
  await page.waitForSelector(`.incident-detail[data-id="${bikes.id}"] .incident-reroute-form`);
  await page.selectOption('#incident-department', 'public_security');
  await page.fill('#incident-reroute-note', '堵塞消防通道，请公安处理');
  await page.click('.incident-reroute-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('.incident-detail .timeline').textContent.includes('堵塞消防通道'), null, { timeout: 5000 })
    .catch(() => {});
  const rerouted = await call('GET', `/incidents/${bikes.id}`, { token: commanderToken });
  check(rerouted.department === 'public_security' && rerouted.timeline.at(-1).kind === 'rerouted', `re-routed: ${rerouted.department}`);

  // from the report to the dispatch tool: its place, its words, the nearest envoys
  await page.click('.incident-detail .incident-dispatch');
  await page.waitForSelector('#pane-dispatch:not([hidden])');
  check(parseFloat(await page.inputValue('#dispatch-lat')) === bikes.lat
    && (await page.inputValue('#dispatch-message')).includes('地铁口共享单车乱停放'), 'dispatch from a report takes its place and words');
  await page.waitForSelector('.nearest-row', { timeout: 5000 }).catch(() => check(false, 'no nearest envoys for the report'));
  await page.click('#tab-incidents');

  // every form control has a name for assistive technology
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
    .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.textContent.trim()))
    .map((el) => el.id || el.outerHTML.slice(0, 60)));
  check(unlabelled.length === 0, `controls without a label: ${unlabelled}`);

  // ---------- English ----------
  await page.click('#lang');
  check((await page.textContent('#tab-layers')) === 'Layers', 'English tab names');
  check(await page.evaluate(() => document.documentElement.lang) === 'en', 'html lang en');
  await page.click('#tab-stats');
  await page.waitForTimeout(300);
  await shot(page, 'command-stats-en');
  await page.click('#lang');
  // a reload keeps the session and the tab; signing out ends it
  await page.reload({ waitUntil: 'load' });
  await page.waitForSelector('#app-view:not([hidden])');
  check(await page.getAttribute('#tab-stats', 'aria-selected') === 'true', 'a reload keeps the session and the tab');
  const pageToken = await page.evaluate(() => localStorage.getItem('pp.token'));
  await page.click('#signout');
  await page.waitForSelector('#signin-view:not([hidden])');
  let revoked = false;
  for (let i = 0; i < 20 && !revoked; i++) {
    revoked = (await fetch(`${base}/api/v1/me`, { headers: { Authorization: `Bearer ${pageToken}` } })).status === 401;
    if (!revoked) await new Promise((r) => setTimeout(r, 100));
  }
  check(revoked, 'signing out ends the session on the server');
  check(await page.evaluate(() => localStorage.getItem('pp.token')) === null, 'signing out forgets the token');
  const dead = await fetch(`${base}/api/v1/me`, { headers: { Authorization: `Bearer ${commanderToken}` } });
  check(dead.ok, 'signing out the page leaves other sessions alone');
  await page.close();

  // ---------- department staff ----------
  const staffPage = await newPage(browser, 'staff', failures, { viewport: DESKTOP });
  await staffPage.goto(`${base}/command`, { waitUntil: 'load' });
  await staffPage.fill('#signin-phone', staff.phone);
  await staffPage.fill('#signin-password', staff.password);
  await staffPage.click('#signin button[type=submit]');
  await staffPage.waitForSelector('#app-view:not([hidden])');
  await staffPage.waitForSelector('.incident-row', { timeout: 10_000 }).catch(() => {});
  const depts = await staffPage.$$eval('.incident-row', (rows) => rows.map((r) => r.dataset.department));
  check(depts.length === 1 && depts.every((d) => d === 'sanitation'), `staff sees their department only: ${depts}`);
  check(await staffPage.locator('#tab-layers').isHidden() && await staffPage.locator('#tab-dispatch').isHidden(), 'staff get no commander tabs');
  check(await staffPage.locator('#filter-department-wrap').isHidden(), 'staff get no department filter');
  await staffPage.click(`.incident-row[data-id="${dirty.id}"] button`);
  await staffPage.selectOption('#incident-next', 'in_progress');
  await staffPage.fill('#incident-note', '保洁员已到场');
  await staffPage.click('.incident-status-form button[type=submit]');
  await staffPage.waitForSelector('.incident-detail[data-status="in_progress"]', { timeout: 5000 })
    .catch(() => check(false, 'staff could not move the incident'));
  check(await staffPage.locator('.incident-reroute-form').count() === 0, 'staff cannot re-route');
  check(await staffPage.inputValue('#incident-note') === '', 'the next step starts with an empty note');
  await shot(staffPage, 'command-staff');
  await staffPage.close();

  // ---------- a session ended elsewhere: back to the sign-in, saying why ----------
  const expiryFailures = [];
  const expiry = await newPage(browser, 'expiry', expiryFailures, { viewport: DESKTOP });
  await expiry.goto(`${base}/command`, { waitUntil: 'load' });
  await expiry.fill('#signin-phone', commander.phone);
  await expiry.fill('#signin-password', commander.password);
  await expiry.click('#signin button[type=submit]');
  await expiry.waitForSelector('#app-view:not([hidden])');
  await call('POST', '/auth/logout', { token: await expiry.evaluate(() => localStorage.getItem('pp.token')) });
  // its next request gets a 401: a click that asks the API, unless a poll or the event
  // stream met the 401 first and the page is already back at the sign-in
  await expiry.click('#tab-teams', { timeout: 3000 }).catch(() => {});
  await expiry.waitForSelector('#signin-view:not([hidden])', { timeout: 10_000 }).catch(() => {});
  check((await expiry.textContent('#signin-error')).includes('过期'), 'an ended session comes back to the sign-in, saying so');
  // the browser logs the 401 itself; anything else is a failure
  failures.push(...expiryFailures.filter((f) => !f.includes('status of 401')));
  await expiry.close();

  // ---------- a 360 px screen ----------
  const phone = await newPage(browser, 'phone', failures, { viewport: PHONE });
  await phone.goto(`${base}/command`, { waitUntil: 'load' });
  await phone.fill('#signin-phone', commander.phone);
  await phone.fill('#signin-password', commander.password);
  await phone.click('#signin button[type=submit]');
  await phone.waitForSelector('#app-view:not([hidden])');
  await phone.waitForFunction(() => document.querySelectorAll('path.live-envoy').length >= 1, null, { timeout: 10_000 }).catch(() => {});
  check(!(await overflows(phone)), 'no sideways scrolling at 360 px');
  const mapBoxPhone = await phone.locator('#map').boundingBox();
  const panel = await phone.locator('#panel').boundingBox();
  check(mapBoxPhone?.height > 200 && panel && panel.y >= mapBoxPhone.y + mapBoxPhone.height - 1,
    `stacked at 360 px: map ${JSON.stringify(mapBoxPhone)}, panel ${JSON.stringify(panel)}`);
  await shot(phone, 'command-phone');
  await phone.click('#tab-publish');
  check(!(await overflows(phone)), 'the publish form fits 360 px');
  await shot(phone, 'command-phone-publish');
  await phone.close();
} catch (e) {
  failures.push(`command: ${e.stack || e}`);
} finally {
  await browser?.close();
  server.stop();
}

finish('browser command', failures, `${passed} checks passed in ${((Date.now() - started) / 1000).toFixed(1)} s, screenshots in ${SHOTS}/command-*.png`);
