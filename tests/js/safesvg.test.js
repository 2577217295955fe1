import test from 'node:test';
import assert from 'node:assert/strict';
import { isSafeTag, isSafeAttr, viewBoxFor, sanitize } from '../../static/js/safesvg.js';

// a minimal DOM-like tree: enough for sanitize()
function el(localName, attrs = {}, children = []) {
  const node = {
    localName,
    parent: null,
    children: [],
    attributes: Object.entries(attrs).map(([name, value]) => ({ name, value })),
    removeAttribute(name) {
      node.attributes = node.attributes.filter((a) => a.name !== name);
    },
    remove() {
      node.parent.children = node.parent.children.filter((c) => c !== node);
    },
  };
  for (const c of children) {
    c.parent = node;
    node.children.push(c);
  }
  return node;
}

test('tags and attributes of a QR code are allowed', () => {
  for (const t of ['svg', 'path', 'rect', 'g', 'title']) assert.ok(isSafeTag(t), t);
  assert.ok(isSafeAttr('xmlns', 'http://www.w3.org/2000/svg'));
  assert.ok(isSafeAttr('d', 'M2 2.5h7m1 0h1'));
  assert.ok(isSafeAttr('transform', 'scale(6)'));
  assert.ok(isSafeAttr('stroke', '#000'));
  assert.ok(isSafeAttr('viewBox', '0 0 10 10'));
  assert.ok(isSafeAttr('href', '#a'));
});

test('scripts, handlers, foreign objects and outside links are refused', () => {
  for (const t of ['script', 'foreignObject', 'iframe', 'image', 'style', 'a', 'animate', 'set']) assert.ok(!isSafeTag(t), t);
  assert.ok(!isSafeAttr('onload', 'alert(1)'));
  assert.ok(!isSafeAttr('onclick', ''));
  assert.ok(!isSafeAttr('style', 'fill:red'));
  assert.ok(!isSafeAttr('href', 'http://example.com/x.svg#a'));
  assert.ok(!isSafeAttr('xlink:href', 'javascript:alert(1)'));
  assert.ok(!isSafeAttr('fill', 'url(http://example.com/p)'));
  assert.ok(!isSafeAttr('xmlns', 'http://example.com/ns'));
});

test('viewBox from width and height', () => {
  assert.equal(viewBoxFor('198', '198'), '0 0 198 198');
  assert.equal(viewBoxFor('12.5mm', '10'), '0 0 12.5 10');
  assert.equal(viewBoxFor(null, '10'), null);
  assert.equal(viewBoxFor('0', '10'), null);
});

test('sanitize removes what is not allowed, anywhere in the tree', () => {
  const bad = el('script', {}, []);
  const deep = el('foreignObject', {}, []);
  const path = el('path', { d: 'M0 0h1', onclick: 'x()', stroke: '#000' });
  const g = el('g', { transform: 'scale(2)', style: 'x' }, [path, deep]);
  const root = el('svg', { xmlns: 'http://www.w3.org/2000/svg', width: '10', height: '10', onload: 'x()' }, [bad, g]);
  const n = sanitize(root);
  assert.equal(n, 5);
  assert.deepEqual(root.children.map((c) => c.localName), ['g']);
  assert.deepEqual(g.children.map((c) => c.localName), ['path']);
  assert.deepEqual(path.attributes.map((a) => a.name), ['d', 'stroke']);
  assert.deepEqual(root.attributes.map((a) => a.name), ['xmlns', 'width', 'height']);
});
