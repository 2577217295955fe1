// Tiny DOM helpers. Text always goes through textContent, never innerHTML.

export const SVG_NS = 'http://www.w3.org/2000/svg';

function setAttrs(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') el.textContent = String(v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** HTML element: h('button', {class: 'btn', onclick}, 'text', child...) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** SVG element. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

export function clear(el) {
  while (el && el.firstChild) el.removeChild(el.firstChild);
}

/** Set an attribute only when it changes (cheap diffing for SVG updates). */
export function attr(el, name, value) {
  const v = value === null || value === undefined ? null : String(value);
  if (v === null) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
  } else if (el.getAttribute(name) !== v) el.setAttribute(name, v);
}

export function text(el, value) {
  const v = String(value ?? '');
  if (el.textContent !== v) el.textContent = v;
}

let toastBox = null;

/** A short message in the corner (role=status; errors use role=alert). */
export function toast(message, { error = false, ms = 4000 } = {}) {
  if (typeof document === 'undefined') return;
  if (!toastBox) {
    toastBox = h('div', { class: 'toasts', 'aria-live': 'polite' });
    document.body.append(toastBox);
  }
  const el = h('div', { class: `toast${error ? ' toast-error' : ''}`, role: error ? 'alert' : 'status' }, message);
  toastBox.append(el);
  setTimeout(() => el.classList.add('toast-out'), ms);
  setTimeout(() => el.remove(), ms + 400);
}

/** Turn `backticks` in an element's plain text into <code> elements (text only). */
export function inlineCode(el) {
  if (!el || el.children.length || !el.textContent.includes('`')) return;
  const parts = el.textContent.split('`');
  if (parts.length < 3) return;
  el.replaceChildren(...parts.map((p, i) => (i % 2 ? h('code', null, p) : document.createTextNode(p))));
}

// Text measurement without layout: a canvas with the element's font,
// looked up once per class, and a cache of fitted strings.
let measureCtx = null;
const fontByClass = new Map();
const fitted = new Map();

function fontOf(el) {
  const k = el.getAttribute('class') || '';
  let f = fontByClass.get(k);
  if (!f) {
    const cs = getComputedStyle(el);
    f = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
    if (cs.fontSize) fontByClass.set(k, f);
  }
  return f;
}

/** Forget measured fonts (after a theme or zoom change). */
export function resetTextMeasure() {
  fontByClass.clear();
  fitted.clear();
}

/** Whether str, in el's font, is at most maxWidth pixels wide. */
export function textFits(el, str, maxWidth) {
  if (!measureCtx) measureCtx = document.createElement('canvas').getContext('2d');
  measureCtx.font = fontOf(el);
  return measureCtx.measureText(String(str ?? '')).width <= maxWidth;
}

/** Set an SVG text, shortened with … so that it fits maxWidth pixels. */
export function fitText(el, str, maxWidth) {
  str = String(str ?? '');
  if (el.dataset.full === str) return;
  el.dataset.full = str;
  if (!measureCtx) measureCtx = document.createElement('canvas').getContext('2d');
  const font = fontOf(el);
  const key = `${font}|${maxWidth}|${str}`;
  let out = fitted.get(key);
  if (out === undefined) {
    measureCtx.font = font;
    out = str;
    if (measureCtx.measureText(str).width > maxWidth) {
      let lo = 0;
      let hi = str.length;
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1;
        if (measureCtx.measureText(`${str.slice(0, mid)}…`).width <= maxWidth) lo = mid;
        else hi = mid - 1;
      }
      out = `${str.slice(0, lo)}…`;
    }
    if (fitted.size > 5000) fitted.clear();
    fitted.set(key, out);
  }
  if (el.textContent !== out) el.textContent = out;
}
