// Page weight and time to interactive of both web apps on a local server (a benchmark: it
// prints figures, asserts nothing about speed). For each app and state, RUNS cold loads, each
// in a fresh browser context (empty cache, no service worker): bytes transferred on the wire
// (headers and gzip included, as DevTools counts them) split into the app's own files, the map
// library (web/vendor/leaflet), other pinned libraries and API calls; and the time from
// navigation start until the first screen is usable (its main control is visible and the main
// thread is idle after it). Medians are printed.
// Usage: node tests/browser/weight.mjs path/to/peacepatrol [RUNS]
import { startServer, launch, apiCaller } from './lib.mjs';

const bin = process.argv[2] ?? 'target/release/peacepatrol';
const RUNS = Number(process.argv[3] ?? 5);
const server = await startServer(bin, 'serve');
const { base } = server;
const CENTER = { latitude: 23.1066, longitude: 113.3245 };

const call = apiCaller(base);

// a commander and an envoy, and a few tasks so the signed-in screens have something to show
server.user('13900000001', 'Commander', 'commander', 'password-123');
const commander = await call(null, 'POST', '/auth/login', { phone: '13900000001', password: 'password-123' });
await call(null, 'POST', '/auth/register', { phone: '13800000001', name: 'Envoy', password: 'password-123' });
const envoy = await call(null, 'POST', '/auth/login', { phone: '13800000001', password: 'password-123' });
const now = Date.now();
for (let i = 0; i < 5; i++) {
  await call(commander.token, 'POST', '/tasks', {
    title: `Patrol ${i + 1}`, place: 'Canton Tower', description: 'weight test',
    area: { type: 'Circle', center: [CENTER.longitude + i * 0.003, CENTER.latitude], radius_m: 300 },
    starts_at: new Date(now).toISOString(), ends_at: new Date(now + 3 * 3600e3).toISOString(),
    patrol_minutes: 30, team_min: 3, team_max: 5, max_teams: 2, reward_points: 10, reward_fund_cents: 500,
  });
}

function kind(url) {
  const path = new URL(url).pathname;
  if (path.startsWith('/vendor/leaflet/')) return 'map';
  if (path.startsWith('/vendor/')) return 'vendor';
  if (path.startsWith('/api/')) return 'api';
  return 'app';
}

async function measure(browser, { path, session, ready }) {
  const context = await browser.newContext({
    viewport: path === '/command' ? { width: 1440, height: 900 } : { width: 360, height: 740 },
    geolocation: { ...CENTER, accuracy: 10 },
    permissions: ['geolocation'],
  });
  if (session) {
    await context.addInitScript(([token, user]) => {
      localStorage.setItem('pp.token', token);
      localStorage.setItem('pp.user', JSON.stringify(user));
    }, [session.token, session.user]);
  }
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  const urls = new Map();
  const bytes = { app: 0, map: 0, vendor: 0, api: 0 };
  cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
  cdp.on('Network.loadingFinished', (e) => {
    const url = urls.get(e.requestId);
    if (url && !url.startsWith('data:')) bytes[kind(url)] += e.encodedDataLength;
  });
  await page.goto(base + path);
  await page.locator(ready).first().waitFor({ state: 'visible', timeout: 30_000 });
  const tti = await page.evaluate(() => new Promise((resolve) => {
    requestIdleCallback(() => resolve(performance.now()), { timeout: 5000 });
  }));
  await page.waitForTimeout(500); // late requests of the first screen
  const nav = await page.evaluate(() => {
    const [n] = performance.getEntriesByType('navigation');
    return { dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd };
  });
  await context.close();
  return { ...bytes, tti, ...nav };
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const kb = (b) => (b / 1024).toFixed(1);

const cases = [
  { name: 'envoy app, signed out (sign-in screen)', path: '/', ready: '#view form button[type=submit]' },
  { name: 'envoy app, signed in (tasks near me)', path: '/', session: envoy, ready: '#view li.task' },
  { name: 'command dashboard, signed out', path: '/command', ready: '#signin button[type=submit]' },
  { name: 'command dashboard, signed in (map, live layer)', path: '/command', session: commander, ready: '#app-view .leaflet-container' },
];
const browser = await launch();
try {
  console.log(`page weight and time to interactive: ${RUNS} cold loads each, ${base}, ${bin}`);
  console.log('| page | own files KB | map library KB | other pinned KB | API KB | total KB | without map KB | DOMContentLoaded ms | interactive ms |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const c of cases) {
    await measure(browser, c); // warm the server's gzip cache
    const runs = [];
    for (let i = 0; i < RUNS; i++) runs.push(await measure(browser, c));
    const m = (f) => median(runs.map(f));
    const total = (r) => r.app + r.map + r.vendor + r.api;
    console.log(`| ${c.name} | ${kb(m((r) => r.app))} | ${kb(m((r) => r.map))} | ${kb(m((r) => r.vendor))} | ${kb(m((r) => r.api))} | ${kb(m(total))} | ${kb(m((r) => total(r) - r.map))} | ${m((r) => r.dcl).toFixed(0)} | ${m((r) => r.tti).toFixed(0)} |`);
  }
} finally {
  await browser.close();
  server.stop();
}
