// Five-state diagram: new, ready, running, blocked, terminated, with zombie
// and stopped shown apart. Every process is a token (pid + raw STAT letter)
// that moves along the edge it really took; edges count their transitions.
//   mount(element, ctx) -> {update(events), seek(n, events), reset()}

import { s, h, attr, text, clear } from '../dom.js';
import { t, onLangChange } from '../i18n.js';
import { schedule, scheduleAtMost } from '../frame.js';
import { pidClass } from '../colors.js';
import { procLabel } from '../model/reducer.js';
import { describeBlocked } from '../model/words.js';

const VB_W = 800;
const VB_H = 446;
const BW = 150;
const BH = 130;
const HEAD = 36; // title area of a box

// top-left corners
export const BOXES = {
  new: { x: 8, y: 30 },
  ready: { x: 226, y: 30 },
  running: { x: 444, y: 30 },
  zombie: { x: 642, y: 30 },
  blocked: { x: 335, y: 296 },
  terminated: { x: 642, y: 296 },
  stopped: { x: 8, y: 296 },
};

// the textbook's edges, always drawn; others appear (dashed) when taken
export const CANONICAL = ['new>ready', 'ready>running', 'running>ready', 'running>blocked', 'blocked>ready', 'running>zombie', 'zombie>terminated'];

const LABEL_OUTSIDE = new Set(['running>blocked', 'blocked>ready']);

const STAT_HINT = { new: '', ready: 'R', running: 'R', blocked: 'S / D', stopped: 'T / t', zombie: 'Z', terminated: '' };

const TOKEN = { w: 64, h: 24, gap: 4 };
const DOT = { w: 14, h: 14, gap: 3 };

function centre(b) {
  return { x: b.x + BW / 2, y: b.y + BH / 2 };
}

// point on the border of box b in direction (dx, dy) from its centre
function border(b, dx, dy) {
  const c = centre(b);
  const sx = dx === 0 ? Infinity : (BW / 2) / Math.abs(dx);
  const sy = dy === 0 ? Infinity : (BH / 2) / Math.abs(dy);
  const k = Math.min(sx, sy);
  return { x: c.x + dx * k, y: c.y + dy * k };
}

/** Geometry of the edge from state a to state b: path, midpoint, label point. */
export function edgeGeometry(a, b) {
  const A = BOXES[a];
  const B = BOXES[b];
  const ca = centre(A);
  const cb = centre(B);
  const dx = cb.x - ca.x;
  const dy = cb.y - ca.y;
  const len = Math.hypot(dx, dy) || 1;
  const ux = dx / len;
  const uy = dy / len;
  // perpendicular (to the right of the direction), so a>b and b>a separate
  const px = -uy;
  const py = ux;
  // neighbours in a row bend a little; farther boxes of a row pass below it
  const sameRow = A.y === B.y;
  const far = sameRow && Math.abs(dx) > BW * 2;
  const bend = far ? (dx > 0 ? 62 : -62) : 26;
  const off = 14;
  const p1 = border(A, dx, dy);
  const p2 = border(B, -dx, -dy);
  const x1 = p1.x + px * off;
  const y1 = p1.y + py * off;
  const x2 = p2.x + px * off;
  const y2 = p2.y + py * off;
  const cx = (x1 + x2) / 2 + px * bend;
  const cy = (y1 + y2) / 2 + py * bend;
  const mx = 0.25 * x1 + 0.5 * cx + 0.25 * x2;
  const my = 0.25 * y1 + 0.5 * cy + 0.25 * y2;
  // labels go on the bend's side, except for the two edges of the blocked
  // triangle whose labels would meet in the middle
  const side = LABEL_OUTSIDE.has(`${a}>${b}`) ? -1.6 : 1;
  return { d: `M ${x1.toFixed(1)} ${y1.toFixed(1)} Q ${cx.toFixed(1)} ${cy.toFixed(1)} ${x2.toFixed(1)} ${y2.toFixed(1)}`, mx, my, lx: mx + px * 14 * side, ly: my + py * 14 * side, px, py };
}

/** Token slots inside a box for n tokens: {x, y, compact, capacity}. */
export function slots(state, n) {
  const b = BOXES[state];
  const innerW = BW - 10;
  const innerH = BH - HEAD - 8;
  const fit = (sz) => {
    const cols = Math.floor((innerW + sz.gap) / (sz.w + sz.gap));
    const rows = Math.floor((innerH + sz.gap) / (sz.h + sz.gap));
    return { cols, rows, cap: cols * rows };
  };
  const big = fit(TOKEN);
  const compact = n > big.cap;
  const sz = compact ? DOT : TOKEN;
  const g = compact ? fit(DOT) : big;
  const out = [];
  const shown = Math.min(n, n > g.cap ? g.cap - 1 : g.cap);
  const usedCols = Math.min(g.cols, Math.max(1, shown));
  const rowW = usedCols * (sz.w + sz.gap) - sz.gap;
  const x0 = b.x + (BW - rowW) / 2;
  for (let i = 0; i < shown; i++) {
    const r = Math.floor(i / g.cols);
    const c = i % g.cols;
    out.push({ x: x0 + c * (sz.w + sz.gap), y: b.y + HEAD + 4 + r * (sz.h + sz.gap) });
  }
  return { pos: out, compact, overflow: n - shown, capacity: g.cap };
}

export function mount(el, ctx) {
  el.classList.add('view-states');
  const svg = s('svg', { class: 'states-svg', viewBox: `0 0 ${VB_W} ${VB_H}`, role: 'img', 'aria-label': t('view.states') });
  const defs = s('defs', null,
    s('marker', { id: 'st-arrow', viewBox: '0 0 10 10', refX: '8', refY: '5', markerWidth: '8', markerHeight: '8', orient: 'auto-start-reverse' },
      s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' })),
    s('marker', { id: 'st-arrow-hot', viewBox: '0 0 10 10', refX: '8', refY: '5', markerWidth: '8', markerHeight: '8', orient: 'auto-start-reverse' },
      s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead hot' })));
  const gOutside = s('g', { class: 'st-outside' });
  const gEdges = s('g', { class: 'st-edges' });
  const gBoxes = s('g', { class: 'st-boxes' });
  const gTokens = s('g', { class: 'st-tokens' });
  svg.append(defs, gOutside, gEdges, gBoxes, gTokens);
  const legend = h('p', { class: 'view-note' }, t('states.legend'));
  el.append(svg, legend);

  // "outside the five states" frame around stopped
  const outsideLabel = s('text', { class: 'st-outside-label', x: BOXES.stopped.x + 4, y: BOXES.stopped.y - 10 });
  gOutside.append(outsideLabel);

  const boxes = {};
  for (const [state, b] of Object.entries(BOXES)) {
    const g = s('g', { class: `st-box st-${state}`, dataset: { state } });
    const rect = s('rect', { x: b.x, y: b.y, width: BW, height: BH, rx: 14 });
    const band = s('path', { class: 'st-band', d: `M ${b.x} ${b.y + HEAD - 6} V ${b.y + 14} a 14 14 0 0 1 14 -14 H ${b.x + BW - 14} a 14 14 0 0 1 14 14 V ${b.y + HEAD - 6} Z` });
    const title = s('text', { class: 'st-title', x: b.x + 10, y: b.y + 21 });
    const hint = s('text', { class: 'st-hint', x: b.x + BW - 8, y: b.y + BH - 8, 'text-anchor': 'end' });
    const more = s('text', { class: 'st-more', x: b.x + 8, y: b.y + BH - 8 });
    g.append(rect, band, title, hint, more);
    gBoxes.append(g);
    boxes[state] = { g, title, hint, more, count: -1 };
  }

  const edgeEls = new Map(); // key -> {g, path, label}
  function ensureEdge(key) {
    let e = edgeEls.get(key);
    if (e) return e;
    const [a, b] = key.split('>');
    if (!BOXES[a] || !BOXES[b]) return null;
    const geo = edgeGeometry(a, b);
    const canonical = CANONICAL.includes(key);
    const path = s('path', { d: geo.d, 'marker-end': 'url(#st-arrow)' });
    const label = s('text', { x: geo.lx, y: geo.ly + 4, 'text-anchor': 'middle' });
    const g = s('g', { class: `st-edge${canonical ? '' : ' observed'}`, dataset: { edge: key } }, path, label);
    gEdges.append(g);
    e = { g, path, label, geo, canonical, key, count: -1 };
    edgeEls.set(key, e);
    return e;
  }
  for (const key of CANONICAL) ensureEdge(key);

  const tokens = new Map(); // pid -> {g, rect, tpid, tstat, title, x, y, state, compact}
  let moves = []; // [{pid, from, to}]

  function labelEdges() {
    for (const e of edgeEls.values()) e.count = -1;
  }
  function labelBoxes() {
    attr(outsideLabel, 'data-x', null);
    text(outsideLabel, t('states.outside'));
    for (const [state, b] of Object.entries(boxes)) {
      text(b.hint, STAT_HINT[state] ? `ps ${STAT_HINT[state]}` : '');
      b.count = -1;
    }
  }
  labelBoxes();
  onLangChange(() => {
    labelBoxes();
    labelEdges();
    text(legend, t('states.legend'));
    for (const tk of tokens.values()) tk.sig = '';
    schedule(render);
  });

  function makeToken(p) {
    const g = s('g', { class: `st-token ${pidClass(p)}`, dataset: { pid: String(p.pid) } });
    const rect = s('rect', { rx: 11 });
    const tpid = s('text', { class: 'tk-pid' });
    const tstat = s('text', { class: 'tk-stat', 'text-anchor': 'end' });
    const title = s('title');
    g.append(title, rect, tpid, tstat);
    gTokens.append(g);
    return { g, rect, tpid, tstat, title, x: null, y: null, state: null, compact: null, sig: '' };
  }

  function shape(tk, compact) {
    if (tk.compact === compact) return;
    tk.compact = compact;
    const sz = compact ? DOT : TOKEN;
    attr(tk.rect, 'width', sz.w);
    attr(tk.rect, 'height', sz.h);
    attr(tk.rect, 'rx', sz.h / 2);
    tk.tpid.style.display = compact ? 'none' : '';
    tk.tstat.style.display = compact ? 'none' : '';
    attr(tk.tpid, 'x', 8);
    attr(tk.tpid, 'y', 16.5);
    attr(tk.tstat, 'x', sz.w - 7);
    attr(tk.tstat, 'y', 16.5);
  }

  function render() {
    const st = ctx.state();
    const members = {};
    for (const k of Object.keys(BOXES)) members[k] = [];
    for (const pid of st.order) {
      const p = st.procs.get(pid);
      if (p && members[p.state]) members[p.state].push(p);
    }
    const seen = new Set();
    const summary = [];
    // a storm of transitions is shown as jumps: moving 200 tokens at once helps nobody
    const animate = !ctx.reducedMotion() && moves.length <= 40;
    const moveBy = new Map();
    for (const m of moves) moveBy.set(m.pid, m);
    const taken = new Set(moves.map((m) => `${m.from}>${m.to}`));
    moves = [];
    let animations = 0;
    for (const [state, list] of Object.entries(members)) {
      const box = boxes[state];
      if (box.count !== list.length) {
        box.count = list.length;
        text(box.title, `${t(`state.${state}`)}${list.length ? ` · ${list.length}` : ''}`);
        box.g.classList.toggle('has', list.length > 0);
      }
      if (list.length) summary.push(`${t(`state.${state}`)}: ${list.slice(0, 12).map((p) => p.pid).join(', ')}${list.length > 12 ? ` (+${list.length - 12})` : ''}`);
      const sl = slots(state, list.length);
      text(box.more, sl.overflow > 0 ? t('states.more', { n: sl.overflow }) : '');
      list.forEach((p, i) => {
        seen.add(p.pid);
        let tk = tokens.get(p.pid);
        const isNew = !tk;
        if (!tk) {
          tk = makeToken(p);
          tokens.set(p.pid, tk);
        }
        const pos = sl.pos[i];
        if (!pos) {
          tk.g.style.display = 'none';
          tk.state = state;
          return;
        }
        tk.g.style.display = '';
        shape(tk, sl.compact);
        const why = describeBlocked(p, t);
        const sig = `${p.state}|${p.stat}|${why}|${p.name}|${p.inferred}`;
        if (sig !== tk.sig) {
          tk.sig = sig;
          text(tk.tpid, String(p.pid));
          const letter = p.state === 'terminated' ? '' : (p.stat || '');
          text(tk.tstat, letter);
          text(tk.title, `${p.pid} ${procLabel(p)} — ${t(`state.${p.state}`)}${p.stat ? ` (STAT ${p.stat})` : ''}${why ? ` — ${why}` : ''}${p.inferred && p.state === 'zombie' ? ` — ${t('state.inferredZombie')}` : ''}`);
          tk.g.setAttribute('class', `st-token ${pidClass(p)} tk-${p.state}${p.inferred ? ' inferred' : ''}`);
        }
        const moved = tk.state !== null && tk.state !== state;
        if (pos.x !== tk.x || pos.y !== tk.y) {
          const fromX = tk.x;
          const fromY = tk.y;
          tk.x = pos.x;
          tk.y = pos.y;
          const to = `translate(${pos.x}px, ${pos.y}px)`;
          const m = moveBy.get(p.pid);
          if (animate && moved && m && fromX != null && animations < 16 && typeof tk.g.animate === 'function') {
            const e = edgeEls.get(`${m.from}>${m.to}`);
            const mid = e ? { x: e.geo.mx - 8, y: e.geo.my - 8 } : { x: (fromX + pos.x) / 2, y: (fromY + pos.y) / 2 };
            tk.g.style.transition = 'none';
            tk.g.style.transform = to;
            tk.g.animate([
              { transform: `translate(${fromX}px, ${fromY}px)` },
              { transform: `translate(${mid.x}px, ${mid.y}px) scale(1.15)`, offset: 0.5 },
              { transform: to },
            ], { duration: 750, easing: 'ease-in-out' });
            animations++;
          } else {
            tk.g.style.transition = isNew || !animate ? 'none' : '';
            tk.g.style.transform = to;
          }
        }
        tk.state = state;
      });
    }
    for (const [pid, tk] of tokens) {
      if (!seen.has(pid)) {
        tk.g.remove();
        tokens.delete(pid);
      }
    }
    // edges and their counts
    for (const [key, n] of st.edges) {
      const e = ensureEdge(key);
      if (!e) continue;
      if (e.count !== n) {
        e.count = n;
        text(e.label, `${edgeName(key)}${n ? ` ×${n}` : ''}`);
        e.g.classList.toggle('taken', n > 0);
      }
    }
    for (const e of edgeEls.values()) {
      if (!st.edges.has(e.key)) {
        if (!e.canonical) {
          e.g.remove();
          edgeEls.delete(e.key);
        } else if (e.count !== 0) {
          e.count = 0;
          text(e.label, edgeName(e.key));
          e.g.classList.remove('taken');
        }
      }
    }
    for (const key of taken) flashEdge(key);
    attr(svg, 'aria-label', `${t('view.states')}. ${summary.join('; ')}`);
  }

  function edgeName(key) {
    const k = `edge.${key.replace('>', '-')}`;
    const s2 = t(k);
    return s2 === k ? '' : s2;
  }

  function flashEdge(key) {
    if (ctx.reducedMotion()) return;
    const e = edgeEls.get(key);
    if (!e || typeof e.path.animate !== 'function') return;
    e.path.animate([{ stroke: 'var(--signal)', strokeWidth: 6 }, { stroke: 'var(--signal)', strokeWidth: 5, offset: 0.6 }, {}], { duration: 900, easing: 'ease-out' });
  }

  function note(events) {
    if (!events) return;
    const cur = new Map();
    for (const ev of events) {
      if (ev.type !== 'proc.state' && ev.type !== 'proc.exit' && ev.type !== 'proc.reaped') continue;
      const to = ev.type === 'proc.state' ? ev.state : ev.type === 'proc.exit' ? 'zombie' : 'terminated';
      let from = cur.get(ev.pid);
      if (from === undefined) {
        const tk = tokens.get(ev.pid);
        from = tk ? tk.state : null;
      }
      if (from && from !== to) moves.push({ pid: ev.pid, from, to });
      cur.set(ev.pid, to);
    }
    if (moves.length > 400) moves = moves.slice(-400);
  }

  render.profileName = 'states';
  return {
    update(events) {
      if (ctx.cursor().live) note(events);
      scheduleAtMost(render, 60);
    },
    seek(n, events) {
      note(events);
      schedule(render);
    },
    reset() {
      clear(gTokens);
      tokens.clear();
      moves = [];
      for (const e of [...edgeEls.values()]) {
        if (!e.canonical) {
          e.g.remove();
          edgeEls.delete(e.key);
        }
      }
      schedule(render);
    },
    render,
  };
}
