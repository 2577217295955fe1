// Swimlanes: one lane per process (and thread), coloured and patterned by
// state over time, with a time axis: the Gantt chart of the real run.
// Canvas drawing of the visible rows only (200 lanes stay smooth).
//   mount(element, ctx) -> {update(events), seek(n), reset()}

import { h, text, clear } from '../dom.js';
import { t, onLangChange } from '../i18n.js';
import { schedule } from '../frame.js';
import { timeTicks, formatDuration } from '../model/lanes.js';
import { STATE_STYLE, PID_COLORS, pidColorIndex, pidClass } from '../colors.js';
import { describeBlocked } from '../model/words.js';

const ROW = 26;
const TROW = 20;
const AXIS_H = 26;
const LEGEND_STATES = ['new', 'ready', 'running', 'blocked', 'stopped', 'zombie'];

function isDark() {
  return document.documentElement.dataset.theme === 'dark';
}

function makePattern(ctx2d, state, dark) {
  const st = STATE_STYLE[state] || STATE_STYLE.terminated;
  const c = document.createElement('canvas');
  c.width = 8;
  c.height = 8;
  const g = c.getContext('2d');
  g.fillStyle = dark ? st.dark : st.light;
  g.fillRect(0, 0, 8, 8);
  g.strokeStyle = dark ? 'rgba(255,255,255,0.28)' : 'rgba(0,0,0,0.22)';
  g.fillStyle = g.strokeStyle;
  g.lineWidth = 1.4;
  switch (st.pattern) {
    case 'diag':
      g.beginPath();
      g.moveTo(-2, 10); g.lineTo(10, -2);
      g.moveTo(-2, 2); g.lineTo(2, -2);
      g.moveTo(6, 10); g.lineTo(10, 6);
      g.stroke();
      break;
    case 'hatch':
      g.beginPath();
      g.moveTo(0, 2); g.lineTo(8, 2);
      g.moveTo(0, 6); g.lineTo(8, 6);
      g.stroke();
      break;
    case 'dots':
      g.beginPath();
      g.arc(2, 2, 1.1, 0, Math.PI * 2);
      g.arc(6, 6, 1.1, 0, Math.PI * 2);
      g.fill();
      break;
    case 'bars':
      g.fillRect(1, 0, 2, 8);
      g.fillRect(5, 0, 2, 8);
      break;
    case 'cross':
      g.beginPath();
      g.moveTo(0, 0); g.lineTo(8, 8);
      g.moveTo(8, 0); g.lineTo(0, 8);
      g.stroke();
      break;
    default:
      break;
  }
  return ctx2d.createPattern(c, 'repeat');
}

export function mount(el, ctx) {
  el.classList.add('view-lanes');
  const legend = h('ul', { class: 'legend', 'aria-label': t('view.lanes') });
  const empty = h('p', { class: 'view-empty' }, t('lanes.empty'));
  const head = h('div', { class: 'lanes-head' });
  const corner = h('div', { class: 'lanes-corner' }, t('lanes.time'));
  const axis = h('canvas', { class: 'lanes-axis', height: AXIS_H, 'aria-hidden': 'true' });
  head.append(corner, axis);
  const scroller = h('div', { class: 'lanes-scroll', tabindex: '-1' });
  const grid = h('div', { class: 'lanes-grid' });
  const labels = h('div', { class: 'lanes-labels' });
  const plot = h('div', { class: 'lanes-plot' });
  const canvas = h('canvas', { class: 'lanes-canvas', 'aria-hidden': 'true' });
  const tip = h('div', { class: 'lanes-tip', role: 'tooltip', hidden: true });
  plot.append(canvas);
  grid.append(labels, plot);
  scroller.append(grid);
  el.append(legend, empty, head, scroller, tip);

  const labelEls = new Map(); // lane key -> element
  let version = -1;
  let rows = []; // [{key, y, h}]
  let totalH = 0;
  let patterns = null;
  let patternsDark = null;
  let width = 0;
  let dpr = 1;

  function buildLegend() {
    clear(legend);
    for (const st of LEGEND_STATES) {
      legend.append(h('li', null, h('span', { class: `swatch sw-${st}`, 'aria-hidden': 'true' }), t(`state.${st}`)));
    }
  }
  buildLegend();

  onLangChange(() => {
    buildLegend();
    text(empty, t('lanes.empty'));
    text(corner, t('lanes.time'));
    version = -1;
    schedule(render);
  });
  let cachedColors = null;
  document.addEventListener('proclab:theme', () => {
    patterns = null;
    cachedColors = null;
    schedule(render);
  });
  // sizes and scroll position are recorded by observers, never read in render
  let plotW = 600;
  let scrollerH = 360;
  let scrollTop = 0;
  scroller.addEventListener('scroll', () => {
    scrollTop = scroller.scrollTop;
    schedule(render);
  }, { passive: true });
  const ro = typeof ResizeObserver === 'function' ? new ResizeObserver((entries) => {
    for (const e of entries) {
      if (e.target === plot) plotW = Math.round(e.contentRect.width) || plotW;
      else if (e.target === scroller) scrollerH = Math.round(e.contentRect.height) || scrollerH;
    }
    schedule(render);
  }) : null;
  if (ro) {
    ro.observe(plot);
    ro.observe(scroller);
  }

  // segment captions, measured once per state, STAT letter and language
  let labelCache = new Map();
  let labelLang = '';
  function label(g, state, stat) {
    const lang = document.documentElement.dataset.lang;
    if (lang !== labelLang) {
      labelCache = new Map();
      labelLang = lang;
    }
    const k = `${state}|${stat}`;
    let v = labelCache.get(k);
    if (!v) {
      const full = `${t(`state.${state}`)}${stat ? ` ${stat}` : ''}`;
      v = { full, w: g.measureText(full).width, letter: (STATE_STYLE[state] || STATE_STYLE.terminated).letter };
      labelCache.set(k, v);
    }
    return v;
  }

  function laneLabel(lane, st) {
    const p = st.procs.get(lane.pid);
    if (lane.tid != null) {
      const name = lane.name ? ` ${lane.name}` : '';
      return `${t('lanes.thread', { tid: lane.tid })}${name}`;
    }
    const name = (p && (p.argv ? p.name : p.name)) || lane.name || '';
    return `${lane.pid}${name ? ` ${name}` : ''}`;
  }

  function rebuildRows(st) {
    const L = ctx.lanes;
    rows = [];
    let y = 0;
    const keep = new Set();
    for (const key of L.order) {
      const lane = L.lanes.get(key);
      const hh = lane.tid == null ? ROW : TROW;
      rows.push({ key, y, h: hh, lane });
      y += hh;
      keep.add(key);
      let lab = labelEls.get(key);
      if (!lab) {
        if (lane.tid == null) {
          const p = st.procs.get(lane.pid);
          lab = h('button', {
            type: 'button',
            class: `lane-label ${pidClass(p || 0)}`,
            'aria-haspopup': 'menu',
            'aria-expanded': 'false',
            dataset: { pid: String(lane.pid) },
          });
          lab.addEventListener('click', () => ctx.signalMenu(lab, lane.pid));
          lab.addEventListener('focus', () => {
            const tot = ctx.lanes.totals(key, ctx.cursor().T);
            const parts = Object.entries(tot).map(([k, v]) => `${t(`state.${k}`)} ${formatDuration(v)}`);
            lab.setAttribute('aria-label', `${laneLabel(lane, ctx.state())}: ${parts.join(', ')}. ${t('proc.menu', { pid: lane.pid })}`);
          });
        } else {
          lab = h('div', { class: 'lane-label lane-thread' });
        }
        lab.style.height = `${hh}px`;
        labelEls.set(key, lab);
      }
      text(lab, laneLabel(lane, st));
    }
    for (const [key, lab] of labelEls) {
      if (!keep.has(key)) {
        lab.remove();
        labelEls.delete(key);
      }
    }
    // order in the DOM
    const frag = document.createDocumentFragment();
    for (const r of rows) frag.append(labelEls.get(r.key));
    labels.append(frag);
    totalH = y;
    plot.style.height = `${totalH}px`;
  }

  function colors() {
    if (cachedColors && cachedColors.dark === isDark()) return cachedColors;
    cachedColors = readColors();
    return cachedColors;
  }

  function readColors() {
    const dark = isDark();
    const cs = getComputedStyle(el);
    return {
      dark,
      fg: cs.getPropertyValue('--fg').trim() || (dark ? '#e9ecef' : '#1f2328'),
      muted: cs.getPropertyValue('--muted').trim() || '#6b7280',
      grid: cs.getPropertyValue('--grid').trim() || (dark ? '#2f343a' : '#e5e7eb'),
      cursor: cs.getPropertyValue('--accent').trim() || '#d9480f',
      bg: cs.getPropertyValue('--panel').trim() || (dark ? '#181b1f' : '#ffffff'),
    };
  }

  function render() {
    const st = ctx.state();
    const L = ctx.lanes;
    const has = L.order.length > 0;
    empty.hidden = has;
    head.hidden = !has;
    scroller.hidden = !has;
    if (!has) return;
    if (L.version !== version) {
      version = L.version;
      rebuildRows(st);
    }
    const cur = ctx.cursor();
    const T = cur.live ? Infinity : cur.T;
    const span = Math.max(L.finishedT ?? L.end, 1);
    dpr = window.devicePixelRatio || 1;
    width = Math.max(100, plotW);
    const viewH = Math.min(totalH, Math.max(ROW, scrollerH || 360));
    const top = Math.min(scrollTop, Math.max(0, totalH - viewH));
    const col = colors();
    if (!patterns || patternsDark !== col.dark) {
      const g0 = canvas.getContext('2d');
      patterns = {};
      for (const k of Object.keys(STATE_STYLE)) patterns[k] = makePattern(g0, k, col.dark);
      patternsDark = col.dark;
    }

    // axis
    const aw = Math.round(width * dpr);
    if (axis.width !== aw || axis.height !== AXIS_H * dpr) {
      axis.width = aw;
      axis.height = AXIS_H * dpr;
      axis.style.width = `${width}px`;
      axis.style.height = `${AXIS_H}px`;
    }
    const ga = axis.getContext('2d');
    ga.setTransform(dpr, 0, 0, dpr, 0, 0);
    ga.clearRect(0, 0, width, AXIS_H);
    ga.font = '12px system-ui, sans-serif';
    ga.fillStyle = col.muted;
    ga.strokeStyle = col.grid;
    const ticks = timeTicks(span, Math.max(2, Math.floor(width / 90)));
    for (const tk of ticks) {
      const x = Math.round((tk.t / span) * (width - 1)) + 0.5;
      ga.beginPath();
      ga.moveTo(x, AXIS_H - 7);
      ga.lineTo(x, AXIS_H);
      ga.stroke();
      ga.textAlign = x < 20 ? 'left' : x > width - 30 ? 'right' : 'center';
      ga.fillText(tk.label, x, AXIS_H - 11);
    }

    // rows
    const ch = Math.round(viewH * dpr);
    if (canvas.width !== aw || canvas.height !== ch) {
      canvas.width = aw;
      canvas.height = ch;
      canvas.style.width = `${width}px`;
      canvas.style.height = `${viewH}px`;
    }
    canvas.style.top = '0px';
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, width, viewH);
    // vertical grid
    g.strokeStyle = col.grid;
    g.lineWidth = 1;
    for (const tk of ticks) {
      const x = Math.round((tk.t / span) * (width - 1)) + 0.5;
      g.beginPath();
      g.moveTo(x, 0);
      g.lineTo(x, viewH);
      g.stroke();
    }
    g.font = '600 11px system-ui, sans-serif';
    g.textBaseline = 'middle';
    const ink = col.dark ? '#fff' : '#111';
    const xOf = (tt) => (tt / span) * width;
    // binary search first visible row
    let lo = 0;
    let hi = rows.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (rows[mid].y + rows[mid].h <= top) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < rows.length; i++) {
      const r = rows[i];
      const y = r.y - top;
      if (y > viewH) break;
      const isThread = r.lane.tid != null;
      const pad = isThread ? 4 : 3;
      const segs = r.lane.segments;
      const top0 = y + pad;
      const hh = r.h - pad * 2;
      for (let k = 0; k < segs.length; k++) {
        const sg = segs[k];
        if (sg.t0 > T) break;
        const end = Math.min(sg.t1 == null ? Math.max(L.end, sg.t0) : sg.t1, T);
        const x0 = xOf(sg.t0);
        const x1 = Math.max(x0 + 1.5, xOf(end));
        if (x1 < 0 || x0 > width) continue;
        g.fillStyle = patterns[sg.state] || patterns.terminated;
        g.fillRect(x0, top0, x1 - x0, hh);
        const w = x1 - x0;
        if (w > 26) {
          const lab = label(g, sg.state, sg.stat);
          g.fillStyle = ink;
          g.fillText(w > lab.w + 10 ? lab.full : lab.letter, x0 + 5, y + r.h / 2 + 0.5, w - 8);
        }
      }
      // row separator
      g.fillStyle = col.grid;
      g.fillRect(0, y + r.h - 0.5, width, 0.5);
      // pid colour tick at the lane start
      if (!isThread) {
        const pal = col.dark ? PID_COLORS.dark : PID_COLORS.light;
        const p = st.procs.get(r.lane.pid);
        g.fillStyle = pal[pidColorIndex(p || 0)];
        g.fillRect(0, y + 3, 3, r.h - 6);
      }
    }
    if (!cur.live) {
      const x = Math.round(xOf(cur.T)) + 0.5;
      g.strokeStyle = col.cursor;
      g.lineWidth = 2;
      g.beginPath();
      g.moveTo(x, 0);
      g.lineTo(x, viewH);
      g.stroke();
      ga.strokeStyle = col.cursor;
      ga.lineWidth = 2;
      ga.beginPath();
      ga.moveTo(x, 0);
      ga.lineTo(x, AXIS_H);
      ga.stroke();
    }
  }

  // hover tooltip and click-to-seek
  function hit(e) {
    const rect = canvas.getBoundingClientRect();
    const x = e.clientX - rect.left;
    const y = e.clientY - rect.top + Math.min(scroller.scrollTop, Math.max(0, totalH - rect.height));
    const r = rows.find((row) => y >= row.y && y < row.y + row.h);
    const L = ctx.lanes;
    const span = Math.max(L.finishedT ?? L.end, 1);
    const T = (x / Math.max(1, width)) * span;
    return { r, T, x, y: e.clientY - el.getBoundingClientRect().top };
  }
  canvas.addEventListener('mousemove', (e) => {
    const { r, T, x, y } = hit(e);
    const seg = r ? ctx.lanes.segmentAt(r.key, T) : null;
    const cur = ctx.cursor();
    if (!r || !seg || (!cur.live && seg.t0 > cur.T)) {
      tip.hidden = true;
      return;
    }
    const end = seg.t1 == null ? ctx.lanes.end : seg.t1;
    const who = r.lane.tid != null ? `${r.lane.pid} / ${t('lanes.thread', { tid: r.lane.tid })}` : String(r.lane.pid);
    const why = describeBlocked(seg, t);
    tip.textContent = `${who} · ${t(`state.${seg.state}`)}${seg.stat ? ` (STAT ${seg.stat})` : ''}${why ? ` — ${why}` : ''}\n${formatDuration(seg.t0)} → ${formatDuration(end)} (${formatDuration(end - seg.t0)})`;
    tip.hidden = false;
    const left = canvas.getBoundingClientRect().left - el.getBoundingClientRect().left + x + 12;
    tip.style.left = `${Math.min(left, el.clientWidth - 260)}px`;
    tip.style.top = `${y + 14}px`;
  });
  canvas.addEventListener('mouseleave', () => { tip.hidden = true; });
  canvas.addEventListener('click', (e) => {
    const { T } = hit(e);
    if (ctx.seekTime) ctx.seekTime(T);
  });

  render.profileName = 'lanes';
  return {
    update() {
      schedule(render);
    },
    seek() {
      schedule(render);
    },
    reset() {
      clear(labels);
      labelEls.clear();
      version = -1;
      rows = [];
      schedule(render);
    },
    render,
  };
}
