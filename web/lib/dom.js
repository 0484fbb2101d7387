// Building elements from data, for both web apps (text never goes through innerHTML).

/**
 * `h('li', {class: 'x', onclick: fn, 'aria-label': '…'}, child, 'text', [more])`: an element.
 * Props starting with `on` become listeners; `class`, `text`, `dataset` are handled; other
 * non-string values set the element's property (`checked`, `disabled`, …); `false`, `null` and
 * `undefined` props and children are skipped; arrays of children are flattened.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    // `list` (an input's datalist) is a read-only property: always the attribute
    else if (k in el && typeof v !== 'string' && k !== 'list') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}
