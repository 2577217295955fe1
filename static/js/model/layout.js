// Tidy tree layout (pure, no DOM).
//
//   layoutTree([{id, parent}], opts) -> {pos: Map id -> {x, y, depth}, width, height}
//
// Parents are centred over their children, siblings keep their input order,
// subtrees never overlap. A node with many leaf children lays them out in
// rows of at most `maxPerRow` (a fork of 200 children stays readable).
// x and y are node centres, in the same units as the options.

const DEFAULTS = { nodeW: 96, nodeH: 44, gapX: 16, gapY: 46, maxPerRow: 10, margin: 12 };

export function layoutTree(nodes, opts = {}) {
  const o = { ...DEFAULTS, ...opts };
  const byId = new Map();
  for (const n of nodes) byId.set(n.id, { id: n.id, parent: n.parent, children: [] });
  const roots = [];
  for (const n of nodes) {
    const rec = byId.get(n.id);
    const par = n.parent != null && n.parent !== n.id ? byId.get(n.parent) : null;
    if (par && !createsCycle(byId, rec.id, par.id)) par.children.push(rec);
    else roots.push(rec);
  }

  const unitW = o.nodeW + o.gapX;
  const unitH = o.nodeH + o.gapY;

  // Post-order: width of every subtree, and how its children are arranged.
  const stack = [];
  for (const r of roots) stack.push([r, false]);
  while (stack.length) {
    const [n, done] = stack.pop();
    if (!done) {
      stack.push([n, true]);
      for (const c of n.children) stack.push([c, false]);
      continue;
    }
    const kids = n.children;
    if (!kids.length) {
      n.w = unitW;
      n.h = unitH;
      n.grid = false;
      continue;
    }
    const allLeaves = kids.every((c) => c.children.length === 0);
    if (allLeaves && kids.length > o.maxPerRow) {
      n.grid = true;
      const cols = o.maxPerRow;
      const rows = Math.ceil(kids.length / cols);
      n.w = Math.max(unitW, cols * unitW);
      n.h = unitH + rows * unitH;
    } else {
      n.grid = false;
      let w = 0;
      let h = 0;
      for (const c of kids) {
        w += c.w;
        h = Math.max(h, c.h);
      }
      n.w = Math.max(unitW, w);
      n.h = unitH + h;
    }
  }

  // Pre-order: positions.
  const pos = new Map();
  let left = o.margin;
  let height = 0;
  const place = (n, x0, y, depth) => {
    // x0: left edge of the subtree's box
    const cx = x0 + n.w / 2;
    if (!n.children.length) {
      pos.set(n.id, { x: cx, y, depth });
      return;
    }
    if (n.grid) {
      const cols = o.maxPerRow;
      const rowW = Math.min(cols, n.children.length) * unitW;
      const gx0 = x0 + (n.w - rowW) / 2;
      n.children.forEach((c, i) => {
        const r = Math.floor(i / cols);
        const col = i % cols;
        pos.set(c.id, { x: gx0 + col * unitW + unitW / 2, y: y + unitH * (r + 1), depth: depth + 1, row: r });
      });
      pos.set(n.id, { x: cx, y, depth });
      return;
    }
    let cx0 = x0 + (n.w - n.children.reduce((s, c) => s + c.w, 0)) / 2;
    for (const c of n.children) {
      place(c, cx0, y + unitH, depth + 1);
      cx0 += c.w;
    }
    // centre over the first and last child
    const first = pos.get(n.children[0].id).x;
    const last = pos.get(n.children[n.children.length - 1].id).x;
    pos.set(n.id, { x: (first + last) / 2, y, depth });
  };
  const y0 = o.margin + o.nodeH / 2;
  for (const r of roots) {
    place(r, left, y0, 0);
    left += r.w;
    height = Math.max(height, r.h);
  }
  return {
    pos,
    width: left + o.margin - o.gapX,
    height: o.margin * 2 + Math.max(0, height - o.gapY),
    roots: roots.map((r) => r.id),
  };
}

function createsCycle(byId, childId, parentId) {
  // walking up from the parent must not reach the child
  let cur = byId.get(parentId);
  let guard = 0;
  while (cur && guard++ < 100000) {
    if (cur.id === childId) return true;
    const up = cur.parent;
    if (up == null || up === cur.id) return false;
    cur = byId.get(up);
  }
  return false;
}

/** Nodes for layoutTree() from a reducer state: init, then every process. */
export function treeNodes(state, { includeReaped = true } = {}) {
  const nodes = [];
  const ids = new Set();
  const init = state.initPid;
  if (init != null) {
    nodes.push({ id: init, parent: null });
    ids.add(init);
  }
  for (const pid of state.order) {
    const p = state.procs.get(pid);
    if (!p || pid === init) continue;
    if (!includeReaped && p.reaped) continue;
    ids.add(pid);
  }
  for (const pid of state.order) {
    if (!ids.has(pid) || pid === init) continue;
    const p = state.procs.get(pid);
    let parent = p.ppid;
    if (parent == null || !ids.has(parent)) parent = init != null ? init : null;
    nodes.push({ id: pid, parent });
  }
  return nodes;
}

/**
 * Indented layout for big trees (an outline, like a file browser): one row
 * per node in pre-order, indented by depth. Stays readable with hundreds of
 * processes, where a tidy tree becomes too wide.
 *   -> {pos: Map id -> {x, y, depth}, width, height, roots, indent: true}
 */
export function layoutIndented(nodes, opts = {}) {
  const o = { nodeW: 200, nodeH: 30, gapY: 8, indent: 28, margin: 12, ...opts };
  const byId = new Map();
  for (const n of nodes) byId.set(n.id, { id: n.id, parent: n.parent, children: [] });
  const roots = [];
  for (const n of nodes) {
    const rec = byId.get(n.id);
    const par = n.parent != null && n.parent !== n.id ? byId.get(n.parent) : null;
    if (par && !createsCycle(byId, rec.id, par.id)) par.children.push(rec);
    else roots.push(rec);
  }
  const pos = new Map();
  let row = 0;
  let maxDepth = 0;
  const stack = roots.slice().reverse().map((r) => [r, 0]);
  while (stack.length) {
    const [n, depth] = stack.pop();
    maxDepth = Math.max(maxDepth, depth);
    pos.set(n.id, {
      x: o.margin + depth * o.indent + o.nodeW / 2,
      y: o.margin + row * (o.nodeH + o.gapY) + o.nodeH / 2,
      depth,
    });
    row += 1;
    for (let i = n.children.length - 1; i >= 0; i--) stack.push([n.children[i], depth + 1]);
  }
  return {
    pos,
    width: o.margin * 2 + maxDepth * o.indent + o.nodeW,
    height: o.margin * 2 + row * (o.nodeH + o.gapY) - o.gapY,
    roots: roots.map((r) => r.id),
    indent: true,
  };
}
