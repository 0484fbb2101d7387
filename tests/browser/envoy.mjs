// Browser test of the envoy app (web/index.html, web/app/): a fresh server, a commander who
// publishes a task through the API, then four envoys on 360 px phones, each in its own browser
// context with a mocked position, through the UI only: register, see the task with its
// distance (list and map), claim (leader), QR lobby, join by decoding the lobby's QR image from
// a photo, join by the join link (before having an account), join by scanning the QR code with
// the camera (a second Chromium whose fake camera plays the code) and removal by the leader,
// live member list, start with a team photo, patrol with an offline period (positions queued in
// IndexedDB and sent on reconnect), finish, wallet award, incident report with a photo and its
// status followed live, availability switch, dispatch alert accepted and arrival, English, the
// app shell offline, first-load weight. Fails on any console error, a control without a name or
// a screen wider than the phone; screenshots go to target/screenshots/envoy-*.png.
// Usage (from the repository root): node tests/browser/envoy.mjs target/debug/peacepatrol
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startServer, launch, newPage, shot, overflows, finish, SHOTS, apiCaller } from './lib.mjs';

const bin = process.argv[2] ?? 'target/debug/peacepatrol';
const started = Date.now();
const failures = [];
let passed = 0;
const check = (ok, what) => { if (ok) passed++; else failures.push(what); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tmp = mkdtempSync(join(tmpdir(), 'pp-envoy-'));
const pages = {};
const positionLog = [];

// The task: a circle of 300 m around Canton Tower.
const CENTER = { latitude: 23.1066, longitude: 113.3245 };
const NEAR = { latitude: 23.1066 + 0.0054, longitude: 113.3245 }; // ~600 m north: 300 m outside
const at = (p, dLat = 0, dLng = 0) => ({ latitude: p.latitude + dLat, longitude: p.longitude + dLng, accuracy: 8 });

const server = await startServer(bin, 'serve');
const { base } = server;
const browser = await launch();
let camBrowser = null; // a second Chromium whose fake camera shows the QR code

const call = apiCaller(base);

/** A screenshot of the screen, and no sideways scrolling at 360 px. */
async function screen(page, name) {
  await page.waitForTimeout(150);
  await shot(page, `envoy-${name}`);
  check(!(await overflows(page)), `${name}: wider than a 360 px phone`);
  // every control has a name (its label, text or aria-label)
  const unnamed = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button, a[href]')]
    .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.textContent.trim()))
    .map((el) => el.outerHTML.slice(0, 80)));
  check(unnamed.length === 0, `${name}: controls without a name: ${unnamed.join(' ')}`);
}

/** An envoy's phone: its own context (localStorage, IndexedDB), position and permissions. */
async function phone(name, position, inBrowser = browser, permissions = ['geolocation']) {
  const page = await newPage(inBrowser, name, failures, {
    geolocation: at(position),
    permissions,
  });
  // test only: batches every 4 s and a fix every 4 s instead of 30 s / 15 s
  await page.context().addInitScript(() => {
    localStorage.setItem('pp.batchSeconds', '4');
    localStorage.setItem('pp.sampleSeconds', '4');
  });
  page.on('dialog', (d) => d.accept());
  page.on('request', (req) => {
    if (req.url().endsWith('/api/v1/positions')) positionLog.push(`${name} ${Math.round((Date.now() - started) / 100) / 10}s ${req.postDataJSON().points.length}`);
  });
  pages[name] = page;
  return page;
}

/**
 * One frame of a Y4M video (what Chromium's fake camera plays) showing the leader's QR code:
 * the lobby's image drawn on a white 640×480 picture, as luma with neutral chroma.
 */
async function cameraFrame(page) {
  const W = 640;
  const H = 480;
  const luma = await page.evaluate(([w, hgt]) => {
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = hgt;
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, w, hgt);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(document.querySelector('#qr'), (w - 360) / 2, (hgt - 360) / 2, 360, 360);
    const { data } = ctx.getImageData(0, 0, w, hgt);
    let out = '';
    for (let i = 0; i < data.length; i += 4) out += String.fromCharCode(Math.round(0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2]));
    return btoa(out);
  }, [W, H]);
  const y = Buffer.from(luma, 'base64');
  const chroma = Buffer.alloc((W / 2) * (H / 2), 128);
  return Buffer.concat([Buffer.from(`YUV4MPEG2 W${W} H${H} F10:1 Ip A1:1 C420jpeg\nFRAME\n`), y, chroma, chroma]);
}

async function register(page, phoneNo, name) {
  await page.getByRole('link', { name: /注册成为平安使者/ }).click();
  await page.getByLabel('手机号').fill(phoneNo);
  await page.getByLabel('姓名').fill(name);
  await page.getByLabel('密码').fill('secret-pass-1');
  await page.getByRole('button', { name: '注册' }).click();
}

try {
  // --- the commander publishes a task ------------------------------------------------------
  server.user('13900000001', '指挥员', 'commander', 'password-123');
  const cmd = (await call(null, 'POST', '/auth/login', { phone: '13900000001', password: 'password-123' })).token;
  const now = Date.now();
  const task = await call(cmd, 'POST', '/tasks', {
    title: '广州塔周边巡逻',
    place: '广州塔',
    description: '国庆假期人流巡逻',
    area: { type: 'Circle', center: [CENTER.longitude, CENTER.latitude], radius_m: 300 },
    starts_at: new Date(now - 60_000).toISOString(),
    ends_at: new Date(now + 2 * 3600_000).toISOString(),
    patrol_minutes: 1,
    team_min: 3,
    team_max: 5,
    max_teams: 5,
    reward_points: 10,
    reward_fund_cents: 500,
  });

  // --- envoy A: register, see the task with its distance, map, claim -----------------------
  const a = await phone('envoy-a', NEAR);
  // first load: under 500 KB, no map library, no QR decoder
  const loaded = [];
  a.on('response', (r) => { if (!r.url().includes('/api/')) loaded.push(r); });
  await a.goto(base + '/', { waitUntil: 'networkidle' });
  let bytes = 0;
  for (const r of loaded) bytes += (await r.body().catch(() => Buffer.alloc(0))).length;
  check(bytes < 500_000, `first load ${bytes} bytes`);
  check(!loaded.some((r) => r.url().includes('/vendor/')), 'first load: no vendor files');
  console.log(`first load: ${loaded.length} files, ${Math.round(bytes / 1024)} KB (uncompressed)`);
  a.removeAllListeners('response');
  await a.waitForURL(/#\/login/);
  await screen(a, 'login');
  await register(a, '13800138001', '张三');
  const card = a.locator(`[data-task="${task.id}"]`);
  await card.waitFor();
  const distance = await card.locator('.distance').textContent();
  check(/距离 \d+ 米/.test(distance), `task list: distance shown (${distance})`);
  await screen(a, 'tasks');
  await a.getByRole('button', { name: '地图' }).click();
  await a.locator('.map .leaflet-interactive').first().waitFor();
  await screen(a, 'tasks-map');
  await a.getByRole('button', { name: '列表' }).click();
  await a.context().setGeolocation(at(CENTER));
  await card.getByRole('button', { name: /认领任务/ }).click();
  await a.waitForURL(/#\/team/);
  const qr = a.locator('#qr');
  await qr.waitFor();
  await a.waitForFunction(() => document.querySelector('#qr')?.naturalWidth > 0);
  await a.waitForFunction(() => document.querySelector('#join-link')?.value.includes('/join?token='));
  await screen(a, 'lobby-leader');
  const qrFile = join(tmp, 'qr.png');
  await a.locator('.qr-frame').screenshot({ path: qrFile });
  const joinUrl = await a.locator('#join-link').inputValue();
  const teamId = (await call(cmd, 'GET', `/tasks/${task.id}`)).teams_list[0].id;

  // --- envoy B: register, the task is inside (distance 0), join by the QR photo ------------
  const b = await phone('envoy-b', CENTER);
  await b.goto(base + '/');
  await register(b, '13800138002', '李四');
  await b.locator(`[data-task="${task.id}"] .distance.inside`).waitFor();
  await b.getByRole('link', { name: '扫码加入队伍' }).click();
  await b.waitForURL(/#\/join/);
  await screen(b, 'join');
  const noCode = join(tmp, 'nocode.png');
  await b.screenshot({ path: noCode });
  await b.locator('#qr-photo').setInputFiles(noCode); // a picture without a code: said so
  await b.getByText('没有在图片里找到二维码').waitFor();
  await b.locator('#qr-photo').setInputFiles(qrFile);
  await b.waitForURL(/#\/team/);
  await b.getByText('等待队长拍合影开始巡逻').waitFor();
  await a.locator('#members li').nth(1).waitFor(); // the leader's list, live
  check((await a.locator('#members li').count()) === 2, 'leader lobby: 2 members after the QR join');
  await screen(b, 'lobby-member');

  // --- envoy C: opens the join link before having an account ------------------------------
  const c = await phone('envoy-c', at(CENTER, 0.0005, 0.0005));
  await c.goto(joinUrl.replace(/^https?:\/\/[^/]+/, base));
  await c.waitForURL(/#\/login/);
  await c.getByText('登录后将自动加入扫码的队伍').waitFor();
  await register(c, '13800138003', '王五');
  await c.waitForURL(/#\/team/);
  await c.getByText('等待队长拍合影开始巡逻').waitFor();
  await a.locator('#members li').nth(2).waitFor();
  check((await a.locator('#members li').count()) === 3, 'leader lobby: 3 members after the link join');

  // --- envoy D: scans the QR code with the camera (Chromium's fake camera plays the code) ----
  // (and is removed by the leader before the start)
  const y4m = join(tmp, 'qr.y4m');
  writeFileSync(y4m, await cameraFrame(a));
  camBrowser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`],
  });
  const d = await phone('envoy-d', at(CENTER, -0.0004, -0.0003), camBrowser, ['geolocation', 'camera']);
  await d.goto(base + '/');
  await register(d, '13800138004', '赵六');
  await d.locator(`[data-task="${task.id}"]`).waitFor();
  await d.getByRole('link', { name: '扫码加入队伍' }).click();
  await d.getByRole('button', { name: '用相机扫码' }).click();
  await d.waitForURL(/#\/team/, { timeout: 20_000 });
  await d.getByText('等待队长拍合影开始巡逻').waitFor();
  await a.locator('#members li').nth(3).waitFor();
  check((await a.locator('#members li').count()) === 4, 'leader lobby: 4 members after the camera scan');
  await screen(a, 'lobby-four');
  // the leader removes D again; D's app hears it at once
  await a.getByRole('button', { name: '移出队员 赵六' }).click();
  await d.getByText('你还没有加入队伍').waitFor();
  await d.getByText('队长把你移出了队伍').waitFor();
  await a.waitForFunction(() => document.querySelectorAll('#members li').length === 3);
  await screen(d, 'removed');
  check(await a.locator('#start').isEnabled(), 'leader lobby: start enabled with 3 members');
  await screen(a, 'lobby-full');

  // --- the leader starts with a team photo ---------------------------------------------------
  const photo = join(tmp, 'team.png');
  await b.screenshot({ path: photo });
  await a.locator('#start-photo').setInputFiles(photo);
  await a.locator('#start').click();
  await a.locator('#where.inside').waitFor({ timeout: 20_000 });
  const patrolStart = Date.now();
  await b.locator('#where').waitFor(); // the members' apps switch to the patrol screen live
  await c.locator('#where').waitFor();
  check((await call(cmd, 'GET', `/teams/${teamId}`)).state === 'active', 'team active after the start');

  // --- patrol, with an offline period for B --------------------------------------------------
  await sleep(12_000);
  await a.context().setGeolocation(at(CENTER, 0.0003, 0));
  await c.context().setGeolocation(at(CENTER, -0.0003, 0.0002));
  const offlineAt = new Date().toISOString();
  await b.context().setOffline(true);
  await b.locator('#netstatus:not([hidden])').waitFor();
  await b.context().setGeolocation(at(CENTER, 0.0002, -0.0002));
  await b.waitForFunction(() => /待上传 ([3-9]|\d\d)/.test(document.querySelector('#netstatus')?.textContent || ''), null, { timeout: 20_000 });
  await screen(b, 'patrol-offline');
  // the points kept in IndexedDB while offline
  const keptTs = await b.evaluate(() => new Promise((resolve, reject) => {
    const req = indexedDB.open('pp-envoy');
    req.onsuccess = () => {
      const all = req.result.transaction('points').objectStore('points').getAll();
      all.onsuccess = () => resolve(all.result.map((p) => p.ts));
      all.onerror = () => reject(all.error);
    };
    req.onerror = () => reject(req.error);
  }));
  check(keptTs.filter((ts) => ts >= offlineAt).length >= 2, `offline: points kept in IndexedDB (${keptTs.length})`);
  // back online: the kept points go in the next batch and the server takes them
  const sentBack = b.waitForResponse((res) => res.url().endsWith('/api/v1/positions') && res.request().method() === 'POST', { timeout: 20_000 });
  await b.context().setOffline(false);
  const res = await sentBack;
  const sentTs = res.request().postDataJSON().points.map((p) => p.ts);
  const answer = await res.json();
  check(keptTs.every((ts) => sentTs.includes(ts)), 'online again: the kept points are sent');
  check(answer.accepted + answer.duplicates === sentTs.length && answer.rejected.length === 0, `online again: the server took them (${JSON.stringify(answer)})`);
  await b.waitForFunction(() => document.querySelector('#netstatus')?.hidden === true, null, { timeout: 15_000 });
  // offline failures of B's requests are expected; nothing else may fail
  for (let i = failures.length - 1; i >= 0; i--) {
    if (failures[i].startsWith('envoy-b') && /ERR_INTERNET_DISCONNECTED/.test(failures[i])) failures.splice(i, 1);
  }
  const bId = (await call(cmd, 'GET', `/teams/${teamId}`)).members.find((m) => m.name === '李四').user_id;

  // everyone qualifies after a minute inside the area
  let progress;
  for (let i = 0; i < 60; i++) {
    progress = await call(cmd, 'GET', `/teams/${teamId}/progress`);
    if (progress.members.every((m) => m.qualified)) break;
    await sleep(3000);
  }
  check(progress.members.every((m) => m.qualified), `patrol: all qualified (${JSON.stringify(progress.members.map((m) => [m.name, m.minutes_inside]))})`);
  const bLast = progress.members.find((m) => m.user_id === bId).last_seen;
  check(bLast && bLast > offlineAt, 'patrol: B seen after the offline period');
  await a.waitForFunction(() => /已达标/.test(document.querySelector('#left')?.textContent || ''), null, { timeout: 40_000 });
  await a.getByText('地图：任务区域和我的位置').click();
  await a.locator('.small-map .leaflet-interactive').first().waitFor();
  await screen(a, 'patrol');
  await screen(b, 'patrol-member');

  // --- the leader finishes; the wallet shows the award --------------------------------------
  await a.locator('#finish').click();
  await a.getByText('达标：获得 10 积分').waitFor();
  await screen(a, 'finished');
  await b.getByText('巡逻已结束').waitFor(); // live, by the team event
  await b.getByRole('link', { name: '我的', exact: true }).first().click();
  await b.locator('#points').waitFor();
  check((await b.locator('#points').textContent()) === '10', 'wallet: 10 points');
  check((await b.locator('#fund').textContent()).includes('5.00'), 'wallet: ¥5.00 fund');
  await screen(b, 'wallet');
  console.log(`patrol of ${Math.round((Date.now() - patrolStart) / 1000)} s done at ${Math.round((Date.now() - started) / 1000)} s`);

  // --- C reports an incident with a photo ---------------------------------------------------
  await c.getByRole('link', { name: '任务', exact: true }).click();
  await c.locator(`[data-task="${task.id}"]`).waitFor();
  await c.getByRole('link', { name: '上报', exact: true }).click();
  await c.getByLabel('类别').selectOption('lost_child');
  await c.getByLabel('描述').fill('南门广场有一名走失儿童，穿红色上衣');
  await c.locator('#report-photo').setInputFiles(photo);
  await c.locator('#send-report').click();
  await c.locator('#my-reports [data-incident]').waitFor();
  const { incidents } = await call(cmd, 'GET', '/incidents');
  check(incidents.length === 1 && incidents[0].category === 'lost_child' && incidents[0].photos.length === 1,
    'incident: stored with its photo');
  // the command centre acknowledges it: the reporter's list follows live, with the step's note
  await call(cmd, 'PATCH', `/incidents/${incidents[0].id}`, { status: 'acknowledged', note: '已通知南门民警' });
  await c.locator('#my-reports .status-acknowledged').waitFor();
  await c.getByText('处理进度').click();
  await c.getByText('已通知南门民警').waitFor();
  await screen(c, 'report');

  // --- B, C and D opt out of dispatch; A gets the alert and accepts ---------------------------
  for (const p of [b, c, d]) {
    await p.getByRole('link', { name: '我的', exact: true }).first().click();
    const sw = p.getByRole('switch', { name: '接收紧急调度' });
    await sw.waitFor();
    const put = p.waitForResponse((r) => r.url().endsWith('/api/v1/me/availability'));
    await sw.uncheck();
    check((await (await put).json()).available === false, 'availability switch: off');
  }
  await screen(c, 'me-unavailable');
  const dispatch = await call(cmd, 'POST', '/dispatches', { // ~70 m east of A
    lat: CENTER.latitude + 0.0003, lng: CENTER.longitude + 0.0007, radius_m: 500, needed: 1, message: '南门有老人摔倒，请就近协助',
  });
  check(dispatch.recipients.length === 1, `dispatch: only the available envoy alerted (${dispatch.recipients.length})`);
  const dialog = a.locator('dialog#alert[open]');
  await dialog.waitFor();
  check((await dialog.textContent()).includes('南门有老人摔倒'), 'alert: message shown');
  check(/方向：正东/.test(await a.locator('#alert-route').textContent()), 'alert: route hint');
  await screen(a, 'alert');
  await a.locator('#alert-accept').click();
  await a.waitForURL(/#\/dispatch\//);
  const accepted = await call(cmd, 'GET', `/dispatches/${dispatch.id}`);
  check(accepted.recipients[0].state === 'accepted', `dispatch: accepted (${accepted.recipients[0].state})`);
  await a.locator('#route').waitFor();
  await a.getByText('地图：现场和我的位置').click();
  await a.locator('.small-map .leaflet-interactive').first().waitFor();
  await screen(a, 'dispatch');
  await a.locator('#arrived').click();
  await a.getByText('已确认到达').first().waitFor();
  const arrived = await call(cmd, 'GET', `/dispatches/${dispatch.id}`);
  check(arrived.recipients[0].state === 'arrived', `dispatch: arrived (${arrived.recipients[0].state})`);

  // --- English, the app shell offline ------------------------------------------------------
  await a.getByRole('button', { name: 'English' }).click();
  await a.getByRole('link', { name: 'Me', exact: true }).click();
  await a.getByText('Welfare fund').waitFor();
  await screen(a, 'wallet-en');
  await a.getByRole('link', { name: 'Tasks', exact: true }).click();
  await a.getByText('Patrol tasks near you').waitFor();
  await screen(a, 'tasks-en');
  await a.getByRole('button', { name: '中文' }).click();
  await a.getByText('附近的巡逻任务').waitFor();

  await c.evaluate(() => navigator.serviceWorker.ready);
  await c.context().setOffline(true);
  await c.reload();
  await c.locator('#nav').waitFor();
  await c.getByRole('link', { name: '队伍', exact: true }).click();
  await c.getByText('巡逻已结束').waitFor();
  await screen(c, 'offline-shell');
  await c.getByRole('link', { name: '任务', exact: true }).click();
  await c.getByText('离线：这是').waitFor(); // the last task list seen
  await c.locator(`[data-task="${task.id}"]`).waitFor();
  await screen(c, 'offline-tasks');
  await c.context().setOffline(false);
  for (let i = failures.length - 1; i >= 0; i--) {
    if (failures[i].startsWith('envoy-c') && /ERR_INTERNET_DISCONNECTED/.test(failures[i])) failures.splice(i, 1);
  }
} catch (e) {
  failures.push(`envoy: ${e.stack || e}`);
  // where each phone was, for the diagnosis
  failures.push(`position batches: ${positionLog.join('; ')}`);
  for (const [name, page] of Object.entries(pages)) {
    try {
      const where = await page.evaluate(() => `${document.visibilityState} ${localStorage.getItem('pp.sampleSeconds')} ${location.hash} | ${document.querySelector('#netstatus')?.textContent} | ${document.querySelector('main')?.innerText.slice(0, 400)}`);
      failures.push(`${name} at ${where}`);
      await shot(page, `envoy-failed-${name}`);
    } catch { /* closed */ }
  }
} finally {
  await browser.close();
  await camBrowser?.close();
  server.stop();
  rmSync(tmp, { recursive: true, force: true });
}
finish('browser envoy', failures, `${passed} checks passed in ${Math.round((Date.now() - started) / 1000)} s, screenshots in ${SHOTS}/envoy-*.png`);
