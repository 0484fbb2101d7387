// What the browser tests share: a fresh server (the built binary, its own data dir and SQLite
// file, a random port, no base map tiles), accounts made with the CLI, headless Chromium
// (Debian's, via playwright-core), pages that record console errors, and screenshots.
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const SHOTS = 'target/screenshots';
export const PHONE = { width: 360, height: 740 };
export const DESKTOP = { width: 1440, height: 900 };

/**
 * Starts `bin` with `command` (`serve` or `demo`) on a fresh data dir; resolves to
 * `{base, bin, env, dataDir, stop(), user(phone, name, role, password, department?)}`.
 */
export async function startServer(bin, command = 'serve', extraEnv = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'pp-browser-'));
  const env = {
    ...process.env,
    PEACEPATROL_DATA_DIR: dataDir,
    PEACEPATROL_LISTEN: '127.0.0.1:0',
    PEACEPATROL_MAP_TILES: '', // no internet here: the maps show their layers on a plain ground
    ...extraEnv,
  };
  delete env.PEACEPATROL_DATABASE_URL; // its own SQLite file under the data dir
  delete env.PEACEPATROL_CONFIG;
  const server = spawn(bin, [command], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = [];
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start in 60 s')), 60_000);
    createInterface({ input: server.stdout }).on('line', (line) => {
      lines.push(line);
      const m = line.match(/^peacepatrol listening on (\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return {
    base,
    bin,
    env,
    dataDir,
    lines,
    /** Adds an account with the CLI (commanders, staff, admins cannot register themselves). */
    user(phone, name, role, password = 'password-123', department) {
      const args = ['user', 'add', '--phone', phone, '--name', name, '--role', role, '--password', password];
      if (department) args.push('--department', department);
      execFileSync(bin, args, { env, stdio: 'pipe' });
      return { phone, password };
    },
    stop() {
      server.kill('SIGTERM');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A plain API client of the server at `base` (the tests' own calls: seeding, checks):
 * `call(token, method, path, body)` resolves to the parsed body (null when empty) and throws
 * on a non-2xx answer.
 */
export function apiCaller(base) {
  return async function call(token, method, path, body) {
    const res = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
}

export async function launch() {
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run'],
  });
}

/**
 * A new page in its own browser context (its own localStorage: one user), whose console
 * errors, page errors and failed requests go into `failures` under `name`.
 * `contextOptions` go to browser.newContext (viewport, geolocation, permissions, …).
 */
export async function newPage(browser, name, failures, contextOptions = {}) {
  const context = await browser.newContext({ viewport: PHONE, ...contextOptions });
  const page = await context.newPage();
  watch(page, name, failures);
  return page;
}

/** Records console errors, page errors and failed requests of `page` into `failures`. */
export function watch(page, name, failures) {
  page.on('console', (msg) => { if (msg.type() === 'error') failures.push(`${name}: console error: ${msg.text()}`); });
  page.on('pageerror', (err) => failures.push(`${name}: page error: ${err.message}`));
  page.on('requestfailed', (req) => {
    // a page that navigates away cancels its open event stream: not a failure
    if (req.failure()?.errorText === 'net::ERR_ABORTED') return;
    failures.push(`${name}: request failed: ${req.url()} ${req.failure()?.errorText}`);
  });
}

export async function shot(page, name) {
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

/** Whether the page is wider than its viewport (a 360 px phone must not scroll sideways). */
export async function overflows(page) {
  return page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
}

/** Ends a test file: prints the failures and exits non-zero when there are any. */
export function finish(name, failures, passed) {
  if (failures.length) {
    console.error(failures.join('\n'));
    console.error(`${name}: ${failures.length} failed`);
    process.exit(1);
  }
  console.log(`${name}: ${passed}`);
}
