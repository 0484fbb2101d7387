// Small DOM helpers of the dashboard (building elements: web/lib/dom.js, shared with the envoy app).

export { h, fill } from '../lib/dom.js';

export const $ = (sel, root = document) => root.querySelector(sel);

/** `datetime-local` value of a Date (local time, minutes). */
export function localInput(date) {
  const d = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

/** A `datetime-local` value as an RFC 3339 UTC string, or null. */
export function fromLocalInput(value) {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** Calls `fn` at most once per `ms`, with the latest arguments, after calls stop. */
export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
