// Process tree (SVG): pids, parents, exec'd programs; init as the adopter of
// orphans; zombies and reaped processes visible; signals as arrows.
//   mount(element, ctx) -> {update(events), seek(n, events), reset()}

import { s, h, attr, text, clear, fitText, textFits } from '../dom.js';
import { t, onLangChange } from '../i18n.js';
import { schedule, scheduleAtMost } from '../frame.js';
import { layoutTree, layoutIndented, treeNodes } from '../model/layout.js';
import { procLabel } from '../model/reducer.js';
import { pidClass } from '../colors.js';
import { describeBlocked, describeExecFailure } from '../model/words.js';

// A full node has three lines: pid and program; state (with exit code or thread count); who reaped it or
// why it is blocked. The third line has its own row so that "reaped by init" is never cut short.
const FULL = { w: 176, h: 70, compact: false };
const SMALL = { w: 230, h: 30, compact: true }; // many processes: an indented outline, one line per process
const COMPACT_FROM = 40;
let W = FULL.w;
let H = FULL.h;
const MAX_FX = 24;

export function mount(el, ctx) {
  el.classList.add('view-tree');
  const empty = h('p', { class: 'view-empty' }, t('tree.empty'));
  const scroller = h('div', { class: 'tree-scroll' });
  const svg = s('svg', { class: 'tree-svg', role: 'group', 'aria-label': t('view.tree') });
  const defs = s('defs', null,
    s('marker', { id: 'tree-arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' },
      s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' })));
  const gEdges = s('g', { class: 'tree-edges' });
  const gNodes = s('g', { class: 'tree-nodes' });
  const gFx = s('g', { class: 'tree-fx', 'aria-hidden': 'true' });
  svg.append(defs, gEdges, gNodes, gFx);
  scroller.append(svg);
  const summary = h('p', { class: 'view-summary', 'aria-live': 'polite' });
  el.append(empty, scroller, summary);

  const nodes = new Map(); // pid -> node record
  const edges = new Map(); // child pid -> path
  let layoutKey = '';
  let lay = null;
  let fx = [];
  let lastW = 0;

  let boxW = 600; // content width of the panel, from the ResizeObserver (no layout reads in render)
  const ro = typeof ResizeObserver === 'function' ? new ResizeObserver((entries) => {
    const w = Math.round(entries[entries.length - 1].contentRect.width);
    if (w > 0 && w !== boxW) {
      boxW = w;
      lastW = 0;
      schedule(render);
    }
  }) : null;
  if (ro) ro.observe(el);
  onLangChange(() => {
    text(empty, t('tree.empty'));
    attr(svg, 'aria-label', t('view.tree'));
    for (const n of nodes.values()) n.sig = '';
    schedule(render);
  });

  function makeNode(pid, isInit) {
    const g = s('g', { class: 'tnode', dataset: { pid: String(pid) } });
    const box = s('rect', { class: 'tbox', width: W, height: H, rx: 11 });
    const stripe = s('rect', { class: 'tstripe', x: 0, y: 0, width: 7, height: H, rx: 3 });
    const small = W === SMALL.w;
    const t1 = s('text', { class: 'tpid', x: small ? 13 : 16, y: small ? 20 : 22 });
    const t2 = s('text', { class: 'tsub', x: 16, y: 43 });
    const t3 = s('text', { class: 'tsub tdetail', x: 16, y: 60 });
    if (small) {
      t2.style.display = 'none';
      t3.style.display = 'none';
    }
    const stat = s('text', { class: 'tstat', x: W - 19, y: small ? 20 : 24, 'text-anchor': 'middle' });
    const statBg = s('rect', { class: 'tstat-bg', x: W - 33, y: small ? 4 : 8, width: 26, height: 22, rx: 6 });
    const title = s('title');
    g.append(title, box, stripe, t1, t2, t3, statBg, stat);
    const rec = { g, box, stripe, t1, t2, t3, stat, statBg, title, pid, isInit, x: null, y: null, sig: '' };
    if (!isInit) {
      g.setAttribute('tabindex', '0');
      g.setAttribute('role', 'button');
      g.setAttribute('aria-haspopup', 'menu');
      g.setAttribute('aria-expanded', 'false');
      const open = () => ctx.signalMenu(g, pid);
      g.addEventListener('click', open);
      g.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          open();
        }
      });
    }
    gNodes.append(g);
    return rec;
  }

  function nodeSignature(p, st) {
    let threads = 0;
    for (const th of p.threads.values()) if (th.alive) threads += 1;
    return [threads, p.state, p.stat, p.name, p.argv && p.argv.join(' '), describeBlocked(p, t), p.exited, p.exit && p.exit.code, p.exit && p.exit.signal,
      p.reaped, p.reapedBy, p.adopted, p.ppid, p.inferred, p.line && p.line.line, p.pid === st.rootPid,
      p.execFailed && p.execFailed.seq].join('|');
  }

  function renderNode(rec, p, st) {
    const sig = nodeSignature(p, st);
    if (sig === rec.sig) return;
    rec.sig = sig;
    const state = p.state;
    rec.g.setAttribute('class', `tnode st-${state}${p.adopted ? ' adopted' : ''}${p.pid === st.rootPid ? ' root' : ''} ${pidClass(p)}`);
    if (W === SMALL.w) {
      const extra = p.state === 'terminated' ? ` · ${t('state.terminated')}` : p.state === 'zombie' ? ` · ${t('state.zombie')}` : '';
      fitText(rec.t1, `${p.pid}  ${procLabel(p) || ''}${extra}`, W - 46);
    }
    else fitText(rec.t1, `${p.pid}  ${procLabel(p) || ''}`.trim(), W - 50);
    const why = describeBlocked(p, t);
    const [sub, detail] = sublabels(rec, p, st, why);
    fitText(rec.t2, sub, W - 22);
    fitText(rec.t3, detail, W - 22);
    const letter = state === 'terminated' ? '✕' : (p.stat || (state === 'zombie' ? 'Z' : '·'));
    text(rec.stat, letter);
    const lines = [
      t('proc.details', { pid: p.pid }),
      procLabel(p),
      `${t(`state.${state}`)}${p.stat ? ` (STAT ${p.stat})` : ''}${p.inferred && state === 'zombie' ? ` — ${t('state.inferredZombie')}` : ''}`,
      why || '',
      p.ppid != null ? t('proc.parent', { ppid: p.ppid === st.initPid ? `${p.ppid} (init)` : p.ppid }) : '',
      p.adopted ? t('tree.adopted') : '',
      p.line ? `${p.line.file}: ${t('proc.line', { line: p.line.line })}` : '',
      describeExecFailure(p.execFailed, t) || '',
    ].filter(Boolean);
    text(rec.title, lines.join('\n'));
    rec.g.setAttribute('aria-label', `${lines.slice(0, 3).join(', ')}. ${t('proc.menu', { pid: p.pid })}`);
  }

  // The second and third lines of a full node. Second: the state, with the exit code, the killing signal or
  // the thread count; third: who reaped it, or why it is blocked. When "state · extra" is too wide the extra
  // moves to a free third line, or (the third line taken) stands alone: "killed by SIGKILL" / "reaped by 2".
  function sublabels(rec, p, st, why) {
    const state = t(`state.${p.state}`);
    let extra = '';
    if (p.state === 'zombie' || p.state === 'terminated') {
      if (p.exit && p.exit.signal) extra = t('tree.killed', { signal: p.exit.signal });
      else if (p.exit && p.exit.code != null) extra = t('tree.exitCode', { code: p.exit.code });
    } else {
      let threads = 0;
      for (const th of p.threads.values()) if (th.alive) threads += 1;
      if (threads > 1) extra = t('tree.threads', { n: threads });
    }
    let detail = '';
    if (p.state === 'terminated' && p.reapedBy != null) {
      detail = t('tree.reapedBy', { by: p.reapedBy === st.initPid ? t('tree.init') : p.reapedBy });
    } else if (p.state === 'blocked' && why) detail = why;
    if (!extra) return [state, detail];
    const both = `${state} · ${extra}`;
    if (textFits(rec.t2, both, W - 22)) return [both, detail];
    return detail ? [extra, detail] : [state, extra];
  }

  function renderInit(rec, st) {
    const sig = `init|${st.initPid}|${st.pidNs}`;
    if (rec.sig === sig) return;
    rec.sig = sig;
    rec.g.setAttribute('class', 'tnode tinit');
    fitText(rec.t1, W === SMALL.w ? `${t('tree.init')} · pid ${st.initPid}` : t('tree.init'), W - 24);
    fitText(rec.t2, `pid ${st.initPid}`, W - 22);
    fitText(rec.t3, t('tree.initHint'), W - 22);
    text(rec.stat, '');
    text(rec.title, `init (pid ${st.initPid}): ${t('tree.initHint')}`);
    rec.g.setAttribute('aria-label', `init, pid ${st.initPid}, ${t('tree.initHint')}`);
  }

  function edgePath(a, b) {
    if (lay && lay.indent) {
      // an elbow from the parent's left side down to the child's left edge
      const x = a.x - W / 2 + 12;
      return `M ${x} ${a.y + H / 2} V ${b.y} H ${b.x - W / 2}`;
    }
    const x1 = a.x;
    const y1 = a.y + H / 2;
    const x2 = b.x;
    const y2 = b.y - H / 2;
    const my = (y1 + y2) / 2;
    return `M ${x1} ${y1} C ${x1} ${my}, ${x2} ${my}, ${x2} ${y2}`;
  }

  function render() {
    const st = ctx.state();
    const list = treeNodes(st);
    empty.hidden = list.length > 0;
    scroller.hidden = list.length === 0;
    const key = list.map((n) => `${n.id}:${n.parent}`).join(',');
    if (key !== layoutKey || !lay) {
      layoutKey = key;
      const geo = list.length > COMPACT_FROM ? SMALL : FULL;
      if (geo.w !== W) {
        // switch node size: rebuild every node
        W = geo.w;
        H = geo.h;
        for (const rec of nodes.values()) rec.g.remove();
        nodes.clear();
      }
      lay = geo.compact
        ? layoutIndented(list, { nodeW: W, nodeH: H, gapY: 6, indent: 26, margin: 10 })
        : layoutTree(list, { nodeW: W, nodeH: H, gapX: 14, gapY: 38, maxPerRow: 8, margin: 14 });
      lastW = 0;
    }
    // size: fit the panel's width, never smaller than 45 %
    const avail = Math.max(200, boxW - 2);
    if (avail !== lastW) {
      lastW = avail;
      const scale = Math.max(0.3, Math.min(lay.indent ? 1 : 1.2, avail / lay.width));
      attr(svg, 'viewBox', `0 0 ${Math.ceil(lay.width)} ${Math.ceil(lay.height)}`);
      svg.style.width = `${Math.ceil(lay.width * scale)}px`;
      svg.style.height = `${Math.ceil(lay.height * scale)}px`;
      // a tree wider than the panel: show its root, in the middle
      const root = lay.roots.length ? lay.pos.get(lay.roots[0]) : null;
      if (root && lay.width * scale > avail) scroller.scrollLeft = Math.max(0, root.x * scale - avail / 2);
    }

    const seen = new Set();
    for (const n of list) {
      const pid = n.id;
      seen.add(pid);
      const isInit = pid === st.initPid;
      let rec = nodes.get(pid);
      if (!rec) {
        rec = makeNode(pid, isInit);
        nodes.set(pid, rec);
      }
      const pos = lay.pos.get(pid);
      if (pos && (pos.x !== rec.x || pos.y !== rec.y)) {
        rec.x = pos.x;
        rec.y = pos.y;
        rec.g.style.transform = `translate(${pos.x - W / 2}px, ${pos.y - H / 2}px)`;
      }
      if (isInit) renderInit(rec, st);
      else renderNode(rec, st.procs.get(pid), st);

      if (n.parent != null) {
        let path = edges.get(pid);
        if (!path) {
          path = s('path', { class: 'tedge', dataset: { child: String(pid) } });
          gEdges.append(path);
          edges.set(pid, path);
        }
        const pp = lay.pos.get(n.parent);
        if (pp && pos) {
          const d = edgePath(pp, pos);
          if (path.dataset.d !== d) {
            path.dataset.d = d;
            path.style.d = `path("${d}")`;
            path.setAttribute('d', d);
          }
        }
        const p = st.procs.get(pid);
        const cls = `tedge${p && p.adopted ? ' adopted' : ''}${p && p.reaped ? ' gone' : ''}`;
        if (path.getAttribute('class') !== cls) path.setAttribute('class', cls);
        path.dataset.parent = String(n.parent);
      } else if (edges.has(pid)) {
        edges.get(pid).remove();
        edges.delete(pid);
      }
    }
    for (const [pid, rec] of nodes) {
      if (!seen.has(pid)) {
        rec.g.remove();
        nodes.delete(pid);
      }
    }
    for (const [pid, path] of edges) {
      if (!seen.has(pid)) {
        path.remove();
        edges.delete(pid);
      }
    }
    const alive = st.order.filter((pid) => !st.procs.get(pid).reaped).length;
    text(summary, list.length ? t('tree.summary', { n: st.order.length, alive }) : '');
    if (fx.length) playFx(st);
  }

  function playFx(st) {
    const batch = fx.slice(-MAX_FX);
    fx = [];
    if (ctx.reducedMotion()) return;
    for (const ev of batch) {
      if (ev.type === 'signal.sent') {
        const to = nodes.get(Math.abs(ev.to));
        if (!to || to.x == null) continue;
        const from = ev.from != null ? nodes.get(ev.from) : null;
        const x2 = to.x - W / 2 + 4;
        const y2 = to.y - H / 2 + 4;
        let x1;
        let y1;
        if (from && from.x != null && from !== to) {
          x1 = from.x + W / 2 - 6;
          y1 = from.y - H / 2 + 6;
        } else {
          x1 = Math.max(8, to.x - W);
          y1 = Math.max(8, to.y - H * 1.4);
        }
        const mx = (x1 + x2) / 2 + (y2 - y1) * 0.25;
        const my = (y1 + y2) / 2 - Math.abs(x2 - x1) * 0.25 - 20;
        const g = s('g', { class: 'fx-signal' },
          s('path', { d: `M ${x1} ${y1} Q ${mx} ${my} ${x2} ${y2}`, 'marker-end': 'url(#tree-arrow)' }),
          s('text', { x: mx, y: my + 4, 'text-anchor': 'middle' }, `${ev.signal}${ev.from == null ? ` (${t('ipc.you')})` : ''}`));
        gFx.append(g);
        setTimeout(() => g.remove(), 2200);
      } else if (ev.type === 'proc.reparent' || ev.type === 'proc.spawn' || ev.type === 'proc.reaped') {
        const rec = nodes.get(ev.pid);
        if (rec && typeof rec.box.animate === 'function') {
          rec.box.animate([{ strokeWidth: 9, stroke: 'var(--signal)' }, { strokeWidth: 2 }], { duration: 1200, easing: 'ease-out' });
        }
      }
    }
  }

  function note(events) {
    if (!events) return;
    for (const ev of events) {
      if (ev.type === 'signal.sent' || ev.type === 'proc.reparent' || ev.type === 'proc.reaped') fx.push(ev);
    }
    if (fx.length > MAX_FX * 4) fx = fx.slice(-MAX_FX);
  }

  render.profileName = 'tree';
  return {
    update(events) {
      if (ctx.cursor().live) note(events);
      scheduleAtMost(render, 80);
    },
    seek(n, events) {
      note(events);
      schedule(render);
    },
    reset() {
      clear(gNodes);
      clear(gEdges);
      clear(gFx);
      nodes.clear();
      edges.clear();
      layoutKey = '';
      lay = null;
      fx = [];
      schedule(render);
    },
    render,
  };
}
