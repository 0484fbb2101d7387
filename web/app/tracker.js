// The position tracker: while a patrol (or an accepted dispatch) runs, it takes a fix every
// `sampleSeconds` (default 15), keeps each point in IndexedDB, and sends what is kept in batches
// every `batchSeconds` (default 30). Offline, the points stay in IndexedDB and go when the
// browser is back online (the server counts a retried point once: idempotent per timestamp).
// For tests only, localStorage `pp.batchSeconds` / `pp.sampleSeconds` override the intervals.
import { api, session } from '/lib/api.js';

const DB_NAME = 'pp-envoy';
const STORE = 'points';
const MAX_BATCH = 500;

function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE, { keyPath: 'key' });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

let dbPromise;
const db = () => (dbPromise ??= openDb());

function tx(mode, fn) {
  return db().then((d) => new Promise((resolve, reject) => {
    const t = d.transaction(STORE, mode);
    const result = fn(t.objectStore(STORE));
    t.oncomplete = () => resolve(result.value);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  }));
}

// Where IndexedDB is missing or refused (some private modes), points wait in memory instead:
// they survive going offline, not closing the app.
const memory = new Map();

/** Keeps one point (`{ts, lat, lng, accuracy_m}`) of user `uid`. */
export function keep(uid, point) {
  const row = { key: `${uid}|${point.ts}`, uid, ...point };
  return tx('readwrite', (s) => { s.put(row); return {}; }).catch(() => { memory.set(row.key, row); });
}

/** The kept points of `uid`, oldest first. */
export async function kept(uid) {
  let rows = [];
  try {
    rows = await tx('readonly', (s) => {
      const out = { value: [] };
      const req = s.getAll();
      req.onsuccess = () => { out.value = req.result; };
      return out;
    });
  } catch { /* memory only */ }
  return [...rows, ...memory.values()].filter((p) => p.uid === uid).sort((a, b) => (a.ts < b.ts ? -1 : 1));
}

async function drop(keys) {
  for (const k of keys) memory.delete(k);
  try {
    await tx('readwrite', (s) => { for (const k of keys) s.delete(k); return {}; });
  } catch { /* memory only */ }
}

const seconds = (key, fallback) => {
  const v = Number(localStorage.getItem(key));
  return Number.isFinite(v) && v > 0 ? v : fallback;
};

/**
 * The tracker (one per app). `listeners` get `{fix, queued, sent, lastSent, error}` whenever
 * something changes. `want(reason, on)` starts it while at least one reason holds.
 */
export function createTracker() {
  const reasons = new Set();
  const listeners = new Set();
  const status = {
    fix: null, queued: 0, sent: Number(localStorage.getItem('pp.sent') || 0), lastSent: null, error: null,
  };
  let running = false;
  let sampleTimer = null;
  let batchTimer = null;
  let flushing = null;

  const emit = () => { for (const fn of listeners) fn(status); };
  const uid = () => session.user?.id;

  async function count() {
    if (!uid()) return;
    try { status.queued = (await kept(uid())).length; } catch { /* private mode without IndexedDB */ }
    emit();
  }

  function onFix(pos) {
    status.fix = { lat: pos.coords.latitude, lng: pos.coords.longitude, accuracy: pos.coords.accuracy, at: pos.timestamp };
    status.error = null;
    emit();
  }
  function onGeoError(err) { status.error = err.message || 'geolocation error'; emit(); }

  async function sample() {
    try { await takeSample(); } catch (e) { status.error = e.message || String(e); emit(); }
  }

  async function takeSample() {
    const user = uid();
    if (!user || !navigator.geolocation) return;
    const pos = await new Promise((resolve) => {
      navigator.geolocation.getCurrentPosition(resolve, (e) => { onGeoError(e); resolve(null); },
        { enableHighAccuracy: true, maximumAge: 0, timeout: 20000 });
    });
    if (!pos) return;
    onFix(pos);
    const point = {
      // the time of this sample: a phone standing still (or an emulated position) may hand out
      // the same fix, with its old timestamp, for minutes; where it is now is what counts
      ts: new Date().toISOString(),
      lat: pos.coords.latitude,
      lng: pos.coords.longitude,
      accuracy_m: Math.min(500, Math.max(0, Math.round(pos.coords.accuracy || 0))),
    };
    await keep(user, point);
    await count();
  }

  /** Sends the kept points now (when online); resolves when done. */
  function flush() {
    flushing ??= (async () => {
      const user = uid();
      if (!user || !navigator.onLine) return;
      let points = await kept(user);
      while (points.length) {
        const batch = points.slice(0, MAX_BATCH);
        const body = { points: batch.map(({ ts, lat, lng, accuracy_m }) => ({ ts, lat, lng, accuracy_m })) };
        try {
          const res = await api('POST', '/positions', { body });
          status.sent += (res?.accepted || 0) + (res?.duplicates || 0);
          localStorage.setItem('pp.sent', String(status.sent));
          status.lastSent = new Date();
        } catch (e) {
          // offline or server trouble: keep them for the next round; a point the server will
          // never take (4xx) is dropped so it cannot block the queue
          if (e.transient || e.status === 401) break;
        }
        await drop(batch.map((p) => p.key));
        points = points.slice(MAX_BATCH);
      }
    })().catch(() => { /* next round */ }).finally(async () => { flushing = null; await count(); });
    return flushing;
  }

  // Fixes come from getCurrentPosition at each sample, not from watchPosition: with a watch
  // running, Chromium answers getCurrentPosition only when the position changes, and a phone
  // standing still may then report nothing for minutes.
  function start() {
    if (running || !navigator.geolocation) return;
    running = true;
    sample();
    sampleTimer = setInterval(sample, seconds('pp.sampleSeconds', 15) * 1000);
    batchTimer = setInterval(flush, seconds('pp.batchSeconds', 30) * 1000);
  }

  function stop() {
    if (!running) return;
    clearInterval(sampleTimer);
    clearInterval(batchTimer);
    running = false;
    flush();
  }

  window.addEventListener('online', () => { flush(); emit(); });
  window.addEventListener('offline', emit);
  count();

  return {
    status,
    get running() { return running; },
    want(reason, on) {
      if (on) reasons.add(reason); else reasons.delete(reason);
      if (reasons.size) start(); else stop();
    },
    flush,
    sample,
    onChange(fn) { listeners.add(fn); return () => listeners.delete(fn); },
  };
}
