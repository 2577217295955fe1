import test from 'node:test';
import assert from 'node:assert/strict';
import { layoutTree, treeNodes } from '../../static/js/model/layout.js';
import { reduce } from '../../static/js/model/reducer.js';
import { orphanRun } from './fixtures/handmade.js';

const opts = { nodeW: 10, nodeH: 10, gapX: 0, gapY: 10, margin: 0, maxPerRow: 4 };

function overlaps(pos, w) {
  const list = [...pos.values()];
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; j++) {
      if (list[i].y === list[j].y && Math.abs(list[i].x - list[j].x) < w) return true;
    }
  }
  return false;
}

test('parents are centred over their children', () => {
  const { pos } = layoutTree([
    { id: 1, parent: null }, { id: 2, parent: 1 }, { id: 3, parent: 1 }, { id: 4, parent: 2 }, { id: 5, parent: 2 }, { id: 6, parent: 3 },
  ], opts);
  assert.equal(pos.get(1).depth, 0);
  assert.equal(pos.get(4).depth, 2);
  assert.equal(pos.get(2).x, (pos.get(4).x + pos.get(5).x) / 2);
  assert.equal(pos.get(1).x, (pos.get(2).x + pos.get(3).x) / 2);
  assert.ok(pos.get(4).y > pos.get(2).y);
  assert.ok(!overlaps(pos, 10));
});

test('many leaf children wrap into rows', () => {
  const nodes = [{ id: 0, parent: null }];
  for (let i = 1; i <= 10; i++) nodes.push({ id: i, parent: 0 });
  const { pos, width } = layoutTree(nodes, opts);
  assert.equal(width, 40);
  const rows = new Set([...pos.values()].map((p) => p.y));
  assert.equal(rows.size, 4); // parent + 3 rows of at most 4
  assert.ok(!overlaps(pos, 10));
});

test('cycles and missing parents do not hang', () => {
  const { pos, roots } = layoutTree([{ id: 1, parent: 2 }, { id: 2, parent: 1 }, { id: 3, parent: 99 }], opts);
  assert.equal(pos.size, 3);
  assert.ok(roots.length >= 2);
});

test('orphan moves under init', () => {
  const ev = orphanRun();
  const before = treeNodes(reduce(ev.slice(0, 4)));
  assert.deepEqual(before, [{ id: 1, parent: null }, { id: 100, parent: 1 }, { id: 101, parent: 100 }]);
  const after = treeNodes(reduce(ev.slice(0, 6)));
  assert.deepEqual(after.find((n) => n.id === 101), { id: 101, parent: 1 });
  const lay = layoutTree(after);
  assert.equal(lay.pos.get(101).depth, 1);
});

test('200 processes lay out quickly', () => {
  const nodes = [{ id: 1, parent: null }];
  for (let i = 2; i <= 200; i++) nodes.push({ id: i, parent: i < 20 ? 1 : 1 + (i % 19) });
  const t0 = performance.now();
  const { pos } = layoutTree(nodes);
  assert.ok(performance.now() - t0 < 50);
  assert.equal(pos.size, 200);
});

test('indented layout: one row per node, in pre-order, indented by depth', async () => {
  const { layoutIndented } = await import('../../static/js/model/layout.js');
  const lay = layoutIndented([
    { id: 1, parent: null }, { id: 2, parent: 1 }, { id: 3, parent: 2 }, { id: 4, parent: 1 },
  ], { nodeW: 100, nodeH: 20, gapY: 0, indent: 10, margin: 0 });
  const ys = [1, 2, 3, 4].map((id) => lay.pos.get(id).y);
  assert.deepEqual(ys, [10, 30, 50, 70]);
  assert.deepEqual([1, 2, 3, 4].map((id) => lay.pos.get(id).depth), [0, 1, 2, 1]);
  assert.equal(lay.pos.get(3).x - lay.pos.get(1).x, 20);
  assert.equal(lay.height, 80);
  assert.equal(lay.width, 120);
});
