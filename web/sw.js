// The envoy app's service worker: keeps the app shell so the app opens offline (network first,
// the cached copy when the network fails). API answers (/api/…) are never cached: they pass
// straight through. The map library and the QR decoder are cached once they have been used.
const CACHE = 'pp-envoy-v1';
const SHELL = [
  '/',
  '/manifest.webmanifest',
  '/favicon.svg',
  '/lib/api.js',
  '/lib/dom.js',
  '/lib/i18n.js',
  '/lib/base.css',
  '/lib/map.js',
  '/app/app.css',
  '/app/main.js',
  '/app/ctx.js',
  '/app/texts.js',
  '/app/ui.js',
  '/app/tracker.js',
  '/app/qr.js',
  '/app/auth.js',
  '/app/tasks.js',
  '/app/team.js',
  '/app/join.js',
  '/app/report.js',
  '/app/wallet.js',
  '/app/alerts.js',
  '/app/icons/icon.svg',
];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  const path = url.pathname;
  if (path.startsWith('/api/') || path === '/healthz' || path === '/metrics' || path.startsWith('/command')) return;
  if (req.mode === 'navigate') {
    if (path !== '/' && path !== '/join' && path !== '/index.html') return;
    event.respondWith(networkFirst(req, '/'));
    return;
  }
  const ours = path.startsWith('/app/') || path.startsWith('/lib/') || SHELL.includes(path);
  const vendor = path.startsWith('/vendor/leaflet/') || path.startsWith('/vendor/jsqr/');
  if (ours || vendor) {
    event.respondWith(networkFirst(req));
  }
});

async function networkFirst(req, key) {
  const cache = await caches.open(CACHE);
  try {
    const res = await fetch(req);
    if (res.ok) await cache.put(key || req, res.clone());
    return res;
  } catch (e) {
    const hit = await cache.match(key || req, { ignoreSearch: true });
    if (hit) return hit;
    throw e;
  }
}
