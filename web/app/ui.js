// Small helpers of the envoy app: building elements, messages, geometry on the phone.

import { h } from '/lib/dom.js';

export { h };

let uid = 0;
/** A unique id for label/control pairs. */
export const nextId = (prefix = 'f') => `${prefix}-${++uid}`;

/** A labelled field: returns [label, control]. */
export function field(labelText, control, hint) {
  control.id ||= nextId();
  const parts = [h('label', { for: control.id }, labelText), control];
  if (hint) {
    const hintEl = h('p', { class: 'hint muted', id: control.id + '-hint' }, hint);
    control.setAttribute('aria-describedby', hintEl.id);
    parts.push(hintEl);
  }
  return parts;
}

/** Shows a short message in the live region (read out by screen readers). */
export function toast(text, kind = 'info') {
  const box = document.getElementById('toast');
  if (!box) return;
  const item = h('div', { class: `toast toast-${kind}` }, text);
  box.append(item);
  setTimeout(() => item.remove(), kind === 'error' ? 7000 : 4000);
}

/** Great-circle distance in metres. */
export function distanceM(lat1, lng1, lat2, lng2) {
  const R = 6371008.8;
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLng = (lng2 - lng1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** Initial bearing in degrees (0 = north, clockwise). */
export function bearing(lat1, lng1, lat2, lng2) {
  const rad = Math.PI / 180;
  const y = Math.sin((lng2 - lng1) * rad) * Math.cos(lat2 * rad);
  const x = Math.cos(lat1 * rad) * Math.sin(lat2 * rad)
    - Math.sin(lat1 * rad) * Math.cos(lat2 * rad) * Math.cos((lng2 - lng1) * rad);
  return (Math.atan2(y, x) / rad + 360) % 360;
}

/** The 8-point compass key of a bearing ('N', 'NE', …). */
export function compass(deg) {
  return ['N', 'NE', 'E', 'SE', 'S', 'SW', 'W', 'NW'][Math.round(deg / 45) % 8];
}

/** Whether a point is inside a task area (GeoJSON Polygon or the Circle object). */
export function insideArea(area, lat, lng) {
  if (!area) return null;
  if (area.type === 'Circle') return distanceM(lat, lng, area.center[1], area.center[0]) <= area.radius_m;
  if (area.type !== 'Polygon') return null;
  const [outer, ...holes] = area.coordinates;
  const inRing = (ring) => {
    let inside = false;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i];
      const [xj, yj] = ring[j];
      if ((yi > lat) !== (yj > lat) && lng < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  };
  return inRing(outer) && !holes.some(inRing);
}

/** The current position as a promise of GeolocationPosition. */
export function currentPosition({ maximumAge = 30000, timeout = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) { reject(new Error('geolocation unavailable')); return; }
    navigator.geolocation.getCurrentPosition(resolve, reject, { enableHighAccuracy: true, maximumAge, timeout });
  });
}

/** Loads a classic script once (vendor files that define a global). */
const scripts = new Map();
export function loadScript(src) {
  if (!scripts.has(src)) {
    scripts.set(src, new Promise((resolve, reject) => {
      const s = h('script', { src });
      s.onload = resolve;
      s.onerror = () => { scripts.delete(src); reject(new Error('cannot load ' + src)); };
      document.head.append(s);
    }));
  }
  return scripts.get(src);
}

/** Loads a stylesheet once. */
export function loadCss(href) {
  if (!document.querySelector(`link[href="${href}"]`)) document.head.append(h('link', { rel: 'stylesheet', href }));
}

/**
 * A photo made smaller for a weak connection: at most `max` px a side, JPEG. Falls back to the
 * original file when the browser cannot decode it.
 */
export async function shrinkPhoto(file, max = 1600) {
  try {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, max / Math.max(bitmap.width, bitmap.height));
    if (scale === 1 && file.size < 1_500_000) { bitmap.close?.(); return file; }
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close?.();
    const blob = await new Promise((r) => canvas.toBlob(r, 'image/jpeg', 0.85));
    return blob ? new File([blob], 'photo.jpg', { type: 'image/jpeg' }) : file;
  } catch {
    return file;
  }
}

/**
 * A file input shown as a button in the page's language (the browser's own one speaks the
 * browser's): the input stays focusable (visually hidden), its label is the button, and the
 * chosen file names show beside it.
 */
export function filePicker(labelText, input) {
  input.id ||= nextId();
  input.classList.add('file-input');
  const names = h('span', { class: 'file-names muted small', 'aria-live': 'polite' });
  input.addEventListener('change', () => { names.textContent = [...input.files].map((f) => f.name).join(', '); });
  const icon = '<svg aria-hidden="true" viewBox="0 0 24 24" width="22" height="22"><path fill="currentColor" d="M9 3 7.2 5H4a2 2 0 0 0-2 2v11a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V7a2 2 0 0 0-2-2h-3.2L15 3zm3 5a5 5 0 1 1 0 10 5 5 0 0 1 0-10zm0 2a3 3 0 1 0 0 6 3 3 0 0 0 0-6z"/></svg>';
  const label = h('label', { for: input.id, class: 'button secondary file-button' });
  label.innerHTML = icon;
  label.append(h('span', {}, labelText));
  return h('div', { class: 'file-pick' }, input, label, names);
}
