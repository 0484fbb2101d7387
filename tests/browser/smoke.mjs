// Browser smoke test: starts the built binary's demo on a random port with a fresh data dir,
// opens every page in headless Chromium (Debian's, via playwright-core), fails on any console
// error, and saves screenshots under target/screenshots/.
// Usage: node tests/browser/smoke.mjs path/to/peacepatrol
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const bin = process.argv[2] ?? 'target/debug/peacepatrol';
const shots = 'target/screenshots';
mkdirSync(shots, { recursive: true });
const dataDir = mkdtempSync(join(tmpdir(), 'pp-browser-'));

const env = { ...process.env, PEACEPATROL_DATA_DIR: dataDir, PEACEPATROL_LISTEN: '127.0.0.1:0' };
delete env.PEACEPATROL_DATABASE_URL; // the demo's own SQLite file under the data dir
delete env.PEACEPATROL_CONFIG;
const server = spawn(bin, ['demo'], {
  env,
  stdio: ['ignore', 'pipe', 'inherit'],
});
const base = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('server did not start in 60 s')), 60_000);
  createInterface({ input: server.stdout }).on('line', (line) => {
    const m = line.match(/^peacepatrol listening on (\S+)/);
    if (m) { clearTimeout(timer); resolve(m[1]); }
  });
  server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
});

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--no-first-run'],
});
const failures = [];
async function visit(path, name, viewport, check) {
  const page = await browser.newPage({ viewport });
  page.on('console', (msg) => { if (msg.type() === 'error') failures.push(`${name}: console error: ${msg.text()}`); });
  page.on('pageerror', (err) => failures.push(`${name}: page error: ${err.message}`));
  page.on('requestfailed', (req) => failures.push(`${name}: request failed: ${req.url()}`));
  const res = await page.goto(base + path, { waitUntil: 'networkidle' });
  if (!res || res.status() !== 200) failures.push(`${name}: status ${res && res.status()}`);
  await check(page);
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  await page.close();
}

try {
  await visit('/', 'index-phone', { width: 360, height: 740 }, async (page) => {
    const title = await page.title();
    if (!title.includes('平安')) failures.push(`index: title ${title}`);
    const docsLink = page.locator('a[href="/api/docs"]');
    if ((await docsLink.count()) === 0) failures.push('index: no link to /api/docs');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    if (overflow) failures.push('index: wider than a 360 px phone');
  });
  await visit('/join?token=abc', 'join-phone', { width: 360, height: 740 }, async () => {});
  await visit('/api/docs', 'api-docs', { width: 1280, height: 900 }, async (page) => {
    await page.waitForSelector('.swagger-ui .info .title', { timeout: 15_000 });
    const ops = await page.locator('.opblock').count();
    if (ops < 10) failures.push(`api-docs: only ${ops} operations rendered`);
  });
} finally {
  await browser.close();
  server.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
}

if (failures.length) {
  console.error(failures.join('\n'));
  console.error(`browser smoke: ${failures.length} failed`);
  process.exit(1);
}
console.log(`browser smoke: 3 pages passed, screenshots in ${shots}/`);
