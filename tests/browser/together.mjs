// Browser test of both apps together, on one server, each user in their own browser context:
// a commander signs in to the dashboard (/command) and publishes a task by drawing a polygon
// around Canton Tower; an envoy on a 360 px phone registers in the envoy app (/), sees the task
// by its title, claims it (QR lobby), a second envoy joins through the API with the lobby's join
// link, the envoy starts the patrol with a team photo and the app sends positions (every 4 s,
// test overrides); with two more envoys posting positions through the API the commander turns
// on the heat layer and sees hexagons; the other envoys opt out of dispatch, the commander
// dispatches with the dashboard's tool near the envoy, the envoy's app rings, the envoy accepts
// in the app and the dashboard shows the acceptance live. Fails on any console error;
// screenshots in target/screenshots/together-*.png.
// Usage (from the repository root): node tests/browser/together.mjs target/debug/peacepatrol
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, launch, newPage, shot, overflows, finish, DESKTOP, SHOTS, apiCaller } from './lib.mjs';

const bin = process.argv[2] ?? 'target/debug/peacepatrol';
const started = Date.now();
const failures = [];
let passed = 0;
const check = (ok, what) => { if (ok) passed++; else failures.push(what); return ok; };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

const TOWER = { lat: 23.1066, lng: 113.3245 };
const PASSWORD = 'password-123';
const TITLE = '广州塔联合巡逻';
const MESSAGE = '广州塔南广场有游客晕倒，请就近协助';
const tmp = mkdtempSync(join(tmpdir(), 'pp-together-'));

const server = await startServer(bin, 'serve');
const { base } = server;

const call = apiCaller(base);
const login = async (phone, password = PASSWORD) => (await call(null, 'POST', '/auth/login', { phone, password })).token;

let browser;
let cmdPage;
let envoyPage;
try {
  // ---------- accounts ----------
  const commander = server.user('13900000001', '王指挥', 'commander', PASSWORD);
  const cmdToken = await login(commander.phone);
  // three envoys through the API: one joins the UI envoy's team, all post positions (heat map)
  const others = [];
  for (let i = 0; i < 3; i++) {
    const phone = `1380013810${i}`;
    const user = await call(null, 'POST', '/auth/register', { phone, name: `助手${i + 1}`, password: PASSWORD });
    others.push({ ...user, phone, token: await login(phone) });
  }

  browser = await launch();

  // ---------- 1. the commander publishes a task by drawing a polygon ----------
  cmdPage = await newPage(browser, 'commander', failures, { viewport: DESKTOP });
  const page = cmdPage;
  await page.goto(`${base}/command`, { waitUntil: 'load' });
  await page.fill('#signin-phone', commander.phone);
  await page.fill('#signin-password', commander.password);
  await page.click('#signin button[type=submit]');
  await page.waitForSelector('#app-view:not([hidden])');
  await page.waitForSelector('#stream-state.on', { timeout: 10_000 }).catch(() => check(false, 'dashboard: event stream did not open'));
  await shot(page, 'together-1-dashboard');

  const mapBox = await page.locator('#map').boundingBox();
  const clickMap = (x, y) => page.mouse.click(mapBox.x + x, mapBox.y + y);
  const toPoint = ([lat, lng]) => page.evaluate(([a, b]) => {
    const p = window.ppCommand.map.latLngToContainerPoint([a, b]);
    return [p.x, p.y];
  }, [lat, lng]);
  const toLatLng = (pts) => page.evaluate((ps) => ps.map(([x, y]) => {
    const ll = window.ppCommand.map.containerPointToLatLng([x, y]);
    return [ll.lat, ll.lng];
  }), pts);

  await page.click('#tab-publish');
  await page.click('#draw-polygon');
  // a quadrilateral ~120 px around the tower (inside the map whatever its first view)
  let [tx, ty] = await toPoint([TOWER.lat, TOWER.lng]);
  if (tx < 200 || ty < 200 || tx > mapBox.width - 200 || ty > mapBox.height - 200) {
    await page.evaluate(([a, b]) => window.ppCommand.map.setView([a, b], 16, { animate: false }), [TOWER.lat, TOWER.lng]);
    [tx, ty] = await toPoint([TOWER.lat, TOWER.lng]);
  }
  const vertices = [[tx - 120, ty - 110], [tx + 130, ty - 100], [tx + 120, ty + 120], [tx - 110, ty + 110]]
    .map(([x, y]) => [Math.round(x), Math.round(y)]);
  const drawn = await toLatLng(vertices);
  for (const [x, y] of vertices) { await clickMap(x, y); await page.waitForTimeout(80); }
  check(await page.locator('path.draw-vertex').count() === 4, 'publish: four vertices drawn');
  await shot(page, 'together-1-polygon');
  await page.click('#draw-finish');
  check((await page.inputValue('#area-vertices')).split('\n').filter(Boolean).length === 4, 'publish: the polygon fills 4 vertex lines');
  await page.fill('#task-title', TITLE);
  await page.fill('#task-place', '广州塔');
  await page.fill('#task-description', '国庆夜间人流巡逻');
  // the window: from now (this minute) to two hours later, in the browser's local time
  const [startsVal, endsVal] = await page.evaluate(() => {
    const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    const now = new Date();
    now.setSeconds(0, 0);
    return [local(now), local(new Date(now.getTime() + 2 * 3600_000))];
  });
  await page.fill('#task-starts', startsVal);
  await page.fill('#task-ends', endsVal);
  await page.fill('#task-team-min', '2');
  const posted = page.waitForResponse((r) => r.url().endsWith('/api/v1/tasks') && r.request().method() === 'POST');
  await page.click('#publish-submit');
  const taskRes = await posted;
  check(taskRes.status() === 201, `publish: POST /tasks ${taskRes.status()}`);
  const task = await call(cmdToken, 'GET', `/tasks/${(await taskRes.json()).id}`);
  const ring = task.area.coordinates?.[0] || [];
  check(task.area.type === 'Polygon' && ring.length === 5
    && drawn.every(([lat, lng], i) => Math.abs(ring[i][0] - lng) < 1e-5 && Math.abs(ring[i][1] - lat) < 1e-5),
  `publish: the stored polygon is the drawn one (${JSON.stringify(task.area)})`);
  const hours = (Date.parse(task.ends_at) - Date.parse(task.starts_at)) / 3600_000;
  check(task.title === TITLE && hours === 2 && Math.abs(Date.parse(task.starts_at) - Date.now()) < 120_000,
    `publish: title and window now..+2 h (${task.starts_at} .. ${task.ends_at})`);
  await page.waitForFunction(() => document.querySelectorAll('.task-area').length >= 1, null, { timeout: 5000 })
    .catch(() => check(false, 'publish: the task area is not on the map'));
  await shot(page, 'together-1-published');
  console.log(`published at ${elapsed()}`);

  // ---------- 2. the envoy registers, sees the task, claims it ----------
  envoyPage = await newPage(browser, 'envoy', failures, {
    geolocation: { latitude: TOWER.lat, longitude: TOWER.lng + 0.0002, accuracy: 8 },
    permissions: ['geolocation'],
  });
  const a = envoyPage;
  // test only: a fix every 2 s and a batch every 3 s instead of 15 s / 30 s
  await a.context().addInitScript(() => {
    localStorage.setItem('pp.batchSeconds', '3');
    localStorage.setItem('pp.sampleSeconds', '2');
  });
  a.on('dialog', (d) => d.accept());
  await a.goto(`${base}/`);
  await a.waitForURL(/#\/login/);
  await a.getByRole('link', { name: /注册成为平安使者/ }).click();
  await a.getByLabel('手机号').fill('13800138001');
  await a.getByLabel('姓名').fill('张三');
  await a.getByLabel('密码').fill('secret-pass-1');
  await a.getByRole('button', { name: '注册' }).click();
  const card = a.locator('[data-task]', { hasText: TITLE });
  await card.waitFor();
  check(await card.getAttribute('data-task') === task.id, 'envoy: the task card is the published task');
  await card.locator('.distance.inside').waitFor({ timeout: 10_000 })
    .catch(() => check(false, 'envoy: the task is not shown as around me'));
  check(!(await overflows(a)), 'envoy: tasks list fits 360 px');
  await shot(a, 'together-2-tasks');
  await card.getByRole('button', { name: /认领任务/ }).click();
  await a.waitForURL(/#\/team/);
  await a.locator('#qr').waitFor();
  await a.waitForFunction(() => document.querySelector('#qr')?.naturalWidth > 0);
  await a.waitForFunction(() => document.querySelector('#join-link')?.value.includes('/join?token='));
  await shot(a, 'together-2-lobby');
  const envoyToken = await a.evaluate(() => localStorage.getItem('pp.token'));
  const envoy = await call(envoyToken, 'GET', '/me');
  const teamId = (await call(cmdToken, 'GET', `/tasks/${task.id}`)).teams_list?.[0]?.id;
  check(!!teamId, 'envoy: the claim made a team');
  console.log(`claimed at ${elapsed()}`);

  // ---------- 3. positions from the app (a patrol) and from the API; the heat layer ----------
  // a second envoy joins with the lobby's link (team_min 2), the leader starts with a photo
  const joinToken = new URL(await a.locator('#join-link').inputValue()).searchParams.get('token');
  await call(others[0].token, 'POST', '/teams/join', { token: joinToken });
  await a.locator('#members li').nth(1).waitFor();
  const photo = join(tmp, 'team.png');
  await a.screenshot({ path: photo });
  await a.locator('#start-photo').setInputFiles(photo);
  const firstBatch = a.waitForResponse((r) => r.url().endsWith('/api/v1/positions') && r.request().method() === 'POST', { timeout: 20_000 });
  await a.locator('#start').click();
  await a.locator('#where').waitFor({ timeout: 20_000 });
  const batch = await firstBatch;
  const sent = await batch.json();
  check(batch.status() === 200 && sent.accepted >= 1, `envoy app: positions sent (${batch.status()} ${JSON.stringify(sent)})`);
  await shot(a, 'together-3-patrol');
  // the others' positions, a few dozen metres around the tower
  const now = Date.now();
  for (const [i, o] of others.entries()) {
    const points = [60, 30, 5].map((s, k) => ({
      ts: new Date(now - s * 1000).toISOString(),
      lat: TOWER.lat + (i - 1) * 0.0003 + k * 0.00005,
      lng: TOWER.lng - 0.0003 + k * 0.00005,
      accuracy_m: 10,
    }));
    const res = await call(o.token, 'POST', '/positions', { points });
    check(res.accepted === 3, `envoy ${o.name}: positions ${JSON.stringify(res)}`);
  }
  const live = await call(cmdToken, 'GET', '/live');
  const liveIds = new Set(live.envoys.map((e) => e.id));
  check(liveIds.has(envoy.id) && liveIds.size >= 3, `live: ${liveIds.size} envoys, the app's envoy among them`);

  await page.click('#tab-layers');
  const heat = page.waitForResponse((r) => r.url().includes('/api/v1/heatmap?'));
  await page.check('#layer-heat');
  const heatRes = await heat;
  const fc = await heatRes.json();
  check(heatRes.status() === 200 && fc.features.length > 0, `heat: ${heatRes.status()} ${fc.features?.length} cells`);
  const cells = await page.waitForFunction((n) => document.querySelectorAll('path.heat-cell').length === n, fc.features.length, { timeout: 5000 })
    .then(() => true).catch(() => false);
  check(cells && fc.features.length > 0, `heat: hexagons drawn (${await page.locator('path.heat-cell').count()} of ${fc.features.length})`);
  const heatEnvoys = await call(cmdToken, 'GET', '/heatmap?window=7d');
  const counted = heatEnvoys.features.reduce((n, f) => n + f.properties.envoys, 0);
  check(counted >= 4 && heatEnvoys.features.some((f) => f.properties.envoys >= 3),
    `heat: the cells count the 4 envoys, ≥ 3 in one cell (${heatEnvoys.features.map((f) => f.properties.envoys)})`);
  await page.waitForFunction((id) => document.querySelector(`path.live-envoy`) && window.ppCommand.live.envoys.has(id), envoy.id, { timeout: 10_000 })
    .catch(() => check(false, 'dashboard: the app\'s envoy is not on the live map'));
  await page.waitForFunction(() => Number(document.querySelector('#live-count').textContent.replace(/\D/g, '')) >= 4, null, { timeout: 5000 })
    .catch(async () => check(false, `dashboard: live count ${await page.textContent('#live-count')}`));
  await shot(page, 'together-3-heat');
  await page.uncheck('#layer-heat');
  console.log(`heat at ${elapsed()}`);

  // ---------- 4. dispatch from the dashboard; the envoy accepts in the app ----------
  for (const o of others) {
    const r = await call(o.token, 'PUT', '/me/availability', { available: false });
    check(r.available === false, `${o.name}: opted out of dispatch`);
  }
  await page.click('#tab-dispatch');
  await page.click('#dispatch-pick');
  // a point some 30 px south-east of the envoy (a few hundred metres, off the markers)
  const [px, py] = await toPoint([TOWER.lat, TOWER.lng + 0.0002]);
  const [ex, ey] = [Math.round(px + 30), Math.round(py + 25)];
  const [picked] = await toLatLng([[ex, ey]]);
  await clickMap(ex, ey);
  const [plat, plng] = [parseFloat(await page.inputValue('#dispatch-lat')), parseFloat(await page.inputValue('#dispatch-lng'))];
  check(Math.abs(plat - picked[0]) < 1e-5 && Math.abs(plng - picked[1]) < 1e-5, `dispatch: the picked point ${plat}, ${plng} is the clicked ${picked}`);
  await page.waitForSelector('.nearest-row', { timeout: 10_000 }).catch(() => {});
  const nearest = await page.locator('.nearest-row').count();
  check(nearest === 1, `dispatch: nearest list has the one available envoy (${nearest})`);
  await page.fill('#dispatch-message', MESSAGE);
  await shot(page, 'together-4-dispatch');
  const sentDispatch = page.waitForResponse((r) => r.url().endsWith('/api/v1/dispatches') && r.request().method() === 'POST');
  await page.click('#dispatch-send');
  const dRes = await sentDispatch;
  check(dRes.status() === 201, `dispatch: POST /dispatches ${dRes.status()}`);
  const dispatch = await dRes.json();
  check(dispatch.recipients?.length === 1 && dispatch.recipients[0].user_id === envoy.id,
    `dispatch: the app's envoy alone is alerted (${JSON.stringify(dispatch.recipients)})`);
  await page.waitForSelector(`.dispatch-card[data-id="${dispatch.id}"] .recipient[data-user-id="${envoy.id}"][data-state="notified"]`, { timeout: 5000 })
    .catch(() => check(false, 'dashboard: the alerted envoy is not listed as notified'));

  const dialog = a.locator('dialog#alert[open]');
  await dialog.waitFor({ timeout: 15_000 });
  check((await dialog.textContent()).includes(MESSAGE), 'envoy: the alert shows the message');
  await shot(a, 'together-4-alert');
  const acceptedAt = Date.now();
  await a.locator('#alert-accept').click();
  await a.waitForURL(/#\/dispatch\//);
  const sel = `.dispatch-card[data-id="${dispatch.id}"] .recipient[data-user-id="${envoy.id}"][data-state="accepted"]`;
  const shown = await page.waitForSelector(sel, { timeout: 8000 }).then(() => true).catch(() => false);
  check(shown && Date.now() - acceptedAt < 8000, `dashboard: the acceptance shows live (${Date.now() - acceptedAt} ms)`);
  check((await page.textContent(`.dispatch-card[data-id="${dispatch.id}"] .count-accepted b`).catch(() => '')) === '1', 'dashboard: accepted count 1');
  const stored = await call(cmdToken, 'GET', `/dispatches/${dispatch.id}`);
  check(stored.recipients.length === 1 && stored.recipients[0].user_id === envoy.id && stored.recipients[0].state === 'accepted',
    `API: the recipient accepted (${JSON.stringify(stored.recipients.map((r) => [r.name, r.state]))})`);
  await a.locator('#route').waitFor({ timeout: 10_000 }).catch(() => {});
  await shot(a, 'together-4-accepted');
  await shot(page, 'together-4-accepted-dashboard');
  console.log(`accepted at ${elapsed()}`);
} catch (e) {
  failures.push(`together: ${e.stack || e}`);
  for (const [name, p] of [['commander', cmdPage], ['envoy', envoyPage]]) {
    try {
      failures.push(`${name} at ${await p.evaluate(() => `${location.href} | ${document.body.innerText.slice(0, 300)}`)}`);
      await shot(p, `together-failed-${name}`);
    } catch { /* not opened */ }
  }
} finally {
  await browser?.close();
  server.stop();
  rmSync(tmp, { recursive: true, force: true });
}

finish('browser together', failures, `${passed} checks passed in ${elapsed()}, screenshots in ${SHOTS}/together-*.png`);
