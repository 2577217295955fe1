// Server-made SVG markup (the room's QR code) turned into a DOM node without
// innerHTML: parsed as image/svg+xml, checked against a small allowlist of
// elements and attributes, then imported into the page.
//
//   importSvg(markup) -> SVGSVGElement | null
//
// The pure parts (isSafeTag, isSafeAttr, viewBoxFor, sanitize on any
// DOM-like tree) are tested in node.

export const SVG_NS = 'http://www.w3.org/2000/svg';

const TAGS = new Set(['svg', 'g', 'path', 'rect', 'title', 'desc', 'defs', 'use', 'polygon', 'circle']);
const ATTRS = new Set([
  'xmlns', 'width', 'height', 'viewbox', 'class', 'transform', 'd', 'x', 'y', 'fill', 'stroke',
  'stroke-width', 'stroke-linecap', 'stroke-linejoin', 'shape-rendering', 'fill-rule', 'clip-rule',
  'points', 'cx', 'cy', 'r', 'id', 'version', 'preserveaspectratio', 'opacity', 'fill-opacity',
  'stroke-opacity', 'href', 'xlink:href', 'xmlns:xlink',
]);

export function isSafeTag(name) {
  return TAGS.has(String(name || '').toLowerCase());
}

/** Allowlisted attribute; links only to a fragment of the same SVG (#id); no url() at all. */
export function isSafeAttr(name, value) {
  const n = String(name || '').toLowerCase();
  const v = String(value ?? '');
  if (!ATTRS.has(n)) return false;
  if (n === 'href' || n === 'xlink:href') return /^#[\w-]+$/.test(v);
  if (n === 'xmlns') return v === SVG_NS;
  if (n === 'xmlns:xlink') return v === 'http://www.w3.org/1999/xlink';
  return !/url\s*\(|javascript:|expression\s*\(/i.test(v);
}

/** A viewBox for an SVG that only has width and height (so CSS can scale it). */
export function viewBoxFor(width, height) {
  const w = parseFloat(width);
  const h = parseFloat(height);
  if (!(w > 0) || !(h > 0)) return null;
  return `0 0 ${w} ${h}`;
}

/**
 * Remove every element and attribute not on the allowlist, in place.
 * Works on any tree with tagName/localName, children, attributes and remove().
 * Returns the number of things removed.
 */
export function sanitize(el) {
  let removed = 0;
  for (const child of [...(el.children || [])]) {
    if (!isSafeTag(child.localName || child.tagName)) {
      child.remove();
      removed += 1;
    } else {
      removed += sanitize(child);
    }
  }
  for (const a of [...(el.attributes || [])]) {
    if (!isSafeAttr(a.name, a.value)) {
      el.removeAttribute(a.name);
      removed += 1;
    }
  }
  return removed;
}

/** Parse server-made SVG markup into an element of this document, or null. */
export function importSvg(markup, doc = (typeof document !== 'undefined' ? document : null)) {
  if (!markup || typeof markup !== 'string' || !doc || typeof DOMParser === 'undefined') return null;
  const parsed = new DOMParser().parseFromString(markup, 'image/svg+xml');
  const root = parsed.documentElement;
  if (!root || root.namespaceURI !== SVG_NS || root.localName !== 'svg') return null;
  if (parsed.getElementsByTagName('parsererror').length) return null;
  sanitize(root);
  if (!root.getAttribute('viewBox')) {
    const vb = viewBoxFor(root.getAttribute('width'), root.getAttribute('height'));
    if (vb) root.setAttribute('viewBox', vb);
  }
  root.removeAttribute('width');
  root.removeAttribute('height');
  root.setAttribute('focusable', 'false');
  return doc.importNode(root, true);
}
