// IPC view: channels (pipes, FIFOs, queues, shared values, semaphores,
// sockets) between processes, the ends each process holds, data moving on
// every transfer with a preview, signals as arrows between processes.
//   mount(element, ctx) -> {update(events), seek(n, events), reset()}

import { s, h, attr, text, clear, fitText } from '../dom.js';
import { t, has, onLangChange, getLang } from '../i18n.js';

const getLangKey = () => getLang();
import { schedule, scheduleAtMost } from '../frame.js';
import { pidClass } from '../colors.js';
import { procLabel } from '../model/reducer.js';
import { stripAnsi } from '../ansi.js';

// An operation on a channel (ipc.op `op`) in the reader's language; an unknown one as its code.
const opWord = (op) => (has(`op.${op}`) ? t(`op.${op}`) : op);

const PX = 90; // process column left
const PW = 190;
const PH = 36;
const PROW = 48;
const CX = 520; // channel column left
const CW = 220;
const CH = 62;
const CROW = 78;
const TOP = 44;
const VB_W = 780;
const MAX_ANIM = 24;
const LOG_ITEMS = 40;

function preview(str, n = 24) {
  const clean = stripAnsi(String(str ?? '')).replace(/\n/g, '⏎');
  return clean.length > n ? `${clean.slice(0, n - 1)}…` : clean;
}

export function mount(el, ctx) {
  el.classList.add('view-ipc');
  const empty = h('p', { class: 'view-empty' }, t('ipc.empty'));
  const svg = s('svg', { class: 'ipc-svg', role: 'img', 'aria-label': t('view.ipc') });
  const defs = s('defs', null,
    s('marker', { id: 'ipc-arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' },
      s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' })),
    s('marker', { id: 'ipc-sig', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' },
      s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead sig' })));
  const gSig = s('g', { class: 'ipc-signals' });
  const gLinks = s('g', { class: 'ipc-links' });
  const gProcs = s('g', { class: 'ipc-procs' });
  const gChans = s('g', { class: 'ipc-chans' });
  const gFx = s('g', { class: 'ipc-fx', 'aria-hidden': 'true' });
  svg.append(defs, gSig, gLinks, gChans, gProcs, gFx);
  const logTitle = h('h3', { class: 'ipc-log-title' }, t('ipc.log'));
  const log = h('ol', { class: 'ipc-log', reversed: true });
  const wrap = h('div', { class: 'ipc-wrap' }, svg);
  el.append(empty, wrap, logTitle, log);

  const procEls = new Map();
  const chanEls = new Map();
  const linkEls = new Map(); // "pid|channel|end|fd" -> {path, label}
  const sigEls = new Map(); // "from>to|signal" -> {g, path, label}
  let procY = new Map();
  let chanY = new Map();
  let fx = [];
  let logKey = '';

  onLangChange(() => {
    text(empty, t('ipc.empty'));
    text(logTitle, t('ipc.log'));
    for (const c of chanEls.values()) c.sig = '';
    for (const l of linkEls.values()) l.sig = '';
    for (const g of sigEls.values()) g.sig = '';
    logKey = '';
    schedule(render);
  });

  function involved(st) {
    const pids = new Set();
    for (const ch of st.channels.values()) for (const e of ch.ends.values()) pids.add(e.pid);
    for (const tr of st.transfers) pids.add(tr.pid);
    for (const sg of st.signals) {
      if (sg.from != null) pids.add(sg.from);
      if (sg.to > 0) pids.add(sg.to);
    }
    for (const ch of st.channels.values()) if (ch.lastOp) pids.add(ch.lastOp.pid);
    return st.order.filter((pid) => pids.has(pid)).concat([...pids].filter((p) => !st.procs.has(p)));
  }

  function procBox(pid, st) {
    let r = procEls.get(pid);
    const p = st.procs.get(pid);
    if (!r) {
      const g = s('g', { class: `ipc-proc ${pidClass(p || 0)}`, dataset: { pid: String(pid) } });
      const rect = s('rect', { width: PW, height: PH, rx: 9 });
      const stripe = s('rect', { class: 'stripe', width: 6, height: PH, rx: 3 });
      const label = s('text', { x: 14, y: 23 });
      const title = s('title');
      g.append(title, rect, stripe, label);
      gProcs.append(g);
      r = { g, label, title, y: null, sig: '' };
      procEls.set(pid, r);
    }
    const sig = p ? `${p.state}|${procLabel(p)}` : 'x';
    if (sig !== r.sig) {
      r.sig = sig;
      const name = p ? procLabel(p) : '';
      fitText(r.label, `${pid}${name ? `  ${name}` : ''}${p ? ` · ${t(`state.${p.state}`)}` : ''}`, PW - 22);
      text(r.title, `${t('proc.details', { pid })} ${name}`);
      r.g.classList.toggle('gone', !!(p && p.reaped));
    }
    return r;
  }

  function chanBox(ch) {
    let r = chanEls.get(ch.id);
    if (!r) {
      const g = s('g', { class: `ipc-chan kind-${ch.kind}`, dataset: { channel: ch.id } });
      const rect = s('rect', { width: CW, height: CH, rx: ch.kind === 'pipe' || ch.kind === 'fifo' ? 26 : 10 });
      const l1 = s('text', { class: 'c1', x: 16, y: 21 });
      const l2 = s('text', { class: 'c2', x: 16, y: 38 });
      const l3 = s('text', { class: 'c3', x: 16, y: 54 });
      const title = s('title');
      g.append(title, rect, l1, l2, l3);
      gChans.append(g);
      r = { g, l1, l2, l3, title, sig: '' };
      chanEls.set(ch.id, r);
    }
    const sig = `${ch.kind}|${ch.name}|${ch.written}|${ch.read}|${JSON.stringify(ch.value ?? null)}|${ch.ops}|${ch.lastOp && ch.lastOp.op}`;
    if (sig !== r.sig) {
      r.sig = sig;
      fitText(r.l1, `${ch.id} · ${t(`kind.${ch.kind}`)}`, CW - 26);
      fitText(r.l2, ch.name || '', CW - 26);
      let l3 = '';
      if (ch.written || ch.read || ch.kind === 'pipe' || ch.kind === 'fifo' || ch.kind === 'socket' || ch.kind === 'queue' || ch.kind === 'mp_pipe') {
        l3 = t('ipc.bytes', { w: ch.written, r: ch.read });
      }
      if (ch.value !== undefined) l3 = `${t('ipc.value', { v: preview(JSON.stringify(ch.value), 18) })}${ch.lastOp ? ` · ${opWord(ch.lastOp.op)}` : ''}`;
      else if (ch.lastOp && !l3) l3 = opWord(ch.lastOp.op);
      fitText(r.l3, l3, CW - 26);
      text(r.title, `${ch.id} (${t(`kind.${ch.kind}`)}) ${ch.name || ''}`);
    }
    return r;
  }

  function linkPath(py, cy) {
    const x1 = PX + PW;
    const y1 = py + PH / 2;
    const x2 = CX;
    const y2 = cy + CH / 2;
    const mx = (x1 + x2) / 2;
    return `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`;
  }

  function render() {
    const st = ctx.state();
    const pids = involved(st);
    const chans = st.channelOrder.map((id) => st.channels.get(id)).filter(Boolean);
    const has = pids.length > 0 || chans.length > 0;
    empty.hidden = has;
    wrap.hidden = !has;
    logTitle.hidden = !has;
    log.hidden = !has;
    if (!has) {
      renderLog(st);
      return;
    }
    // rows
    const rowsH = Math.max(pids.length * PROW, chans.length * CROW);
    const procOff = TOP + Math.max(0, (rowsH - pids.length * PROW) / 2);
    // a few channels next to many processes stay at the top, in view
    const chanOff = TOP + (pids.length > 10 ? 0 : Math.max(0, (rowsH - chans.length * CROW) / 2));
    procY = new Map(pids.map((pid, i) => [pid, procOff + i * PROW]));
    chanY = new Map(chans.map((c, i) => [c.id, chanOff + i * CROW]));
    const H = TOP + rowsH + 16;
    const vbw = chans.length ? VB_W : PX + PW + 30;
    attr(svg, 'viewBox', `0 0 ${vbw} ${H}`);
    svg.style.maxWidth = `${Math.round(vbw * 1.15)}px`;
    svg.style.minWidth = chans.length ? '' : '0';

    const seenP = new Set();
    for (const pid of pids) {
      seenP.add(pid);
      const r = procBox(pid, st);
      const y = procY.get(pid);
      if (r.y !== y) {
        r.y = y;
        r.g.style.transform = `translate(${PX}px, ${y}px)`;
      }
    }
    for (const [pid, r] of procEls) if (!seenP.has(pid)) { r.g.remove(); procEls.delete(pid); }

    const seenC = new Set();
    for (const ch of chans) {
      seenC.add(ch.id);
      const r = chanBox(ch);
      const y = chanY.get(ch.id);
      if (r.y !== y) {
        r.y = y;
        r.g.style.transform = `translate(${CX}px, ${y}px)`;
      }
    }
    for (const [id, r] of chanEls) if (!seenC.has(id)) { r.g.remove(); chanEls.delete(id); }

    // links: known ends, plus implicit ones from transfers/ops
    const seenL = new Set();
    // one link per (process, channel); its label lists every end the process holds
    const wantLink = (key, pid, chId, ends, implicit) => {
      const py = procY.get(pid);
      const cy = chanY.get(chId);
      if (py == null || cy == null) return;
      seenL.add(key);
      let l = linkEls.get(key);
      if (!l) {
        const path = s('path', { class: 'ipc-link' });
        const label = s('text', { class: 'ipc-end-label' });
        gLinks.append(path, label);
        l = { path, label, sig: '', pid, chId };
        linkEls.set(key, l);
      }
      const openEnds = ends.filter((e) => e.open);
      const dirs = new Set((openEnds.length ? openEnds : ends).map((e) => e.end));
      const end = dirs.has('both') || (dirs.has('read') && dirs.has('write')) ? 'both' : dirs.has('read') ? 'read' : 'write';
      const open = openEnds.length > 0;
      const labelText = ends.map((e) => `${e.end === 'write' ? 'w' : e.end === 'read' ? 'r' : 'rw'}${e.fd != null ? ` fd${e.fd}` : ''}${e.open ? '' : ' ✕'}`).join(' · ');
      const d = linkPath(py, cy);
      const sig = `${d}|${open}|${end}|${labelText}|${implicit}`;
      if (sig !== l.sig) {
        l.sig = sig;
        attr(l.path, 'd', d);
        attr(l.path, 'class', `ipc-link end-${end}${open ? '' : ' closed'}${implicit ? ' implicit' : ''}`);
        attr(l.path, 'marker-end', end === 'write' || end === 'both' ? 'url(#ipc-arrow)' : null);
        attr(l.path, 'marker-start', end === 'read' || end === 'both' ? 'url(#ipc-arrow)' : null);
        // the label sits part of the way along the link, where links have parted
        const x1 = PX + PW;
        const y1 = py + PH / 2;
        const x2 = CX;
        const y2 = cy + CH / 2;
        const mx = (x1 + x2) / 2;
        const u = 0.28;
        const k0 = (1 - u) ** 3;
        const k1 = 3 * (1 - u) ** 2 * u;
        const k2 = 3 * (1 - u) * u * u;
        const k3 = u ** 3;
        attr(l.label, 'x', (k0 * x1 + (k1 + k2) * mx + k3 * x2).toFixed(1));
        attr(l.label, 'y', ((k0 + k1) * y1 + (k2 + k3) * y2 - 5).toFixed(1));
        text(l.label, implicit ? '' : labelText);
        l.d = d;
      }
    };
    // roles of processes that used a channel without a known fd (queues, values)
    const used = new Map(); // channel -> Map(pid -> end)
    for (const tr of st.transfers) {
      let m = used.get(tr.channel);
      if (!m) used.set(tr.channel, (m = new Map()));
      const end = tr.direction === 'read' ? 'read' : 'write';
      const prev = m.get(tr.pid);
      m.set(tr.pid, prev && prev !== end ? 'both' : end);
    }
    for (const ch of chans) {
      const explicit = new Map(); // pid -> its ends of this channel
      for (const e of ch.ends.values()) {
        if (!explicit.has(e.pid)) explicit.set(e.pid, []);
        explicit.get(e.pid).push(e);
      }
      for (const [pid, ends] of explicit) wantLink(`${pid}|${ch.id}`, pid, ch.id, ends, false);
      const roles = new Map(used.get(ch.id) || []);
      if (ch.lastOp && !roles.has(ch.lastOp.pid)) roles.set(ch.lastOp.pid, 'both');
      for (const [pid, end] of roles) {
        if (!explicit.has(pid)) wantLink(`${pid}|${ch.id}|implicit`, pid, ch.id, [{ end, fd: null, open: true }], true);
      }
    }
    for (const [key, l] of linkEls) if (!seenL.has(key)) { l.path.remove(); l.label.remove(); linkEls.delete(key); }

    // signal arcs on the left of the process column
    const counts = new Map();
    for (const sg of st.signals) {
      const key = `${sg.from ?? 'you'}>${sg.to}|${sg.signal}`;
      counts.set(key, { n: (counts.get(key)?.n || 0) + 1, sg });
    }
    const seenS = new Set();
    let k = 0;
    for (const [key, { n, sg }] of counts) {
      const toY = procY.get(Math.abs(sg.to));
      if (toY == null) continue;
      const fromY = sg.from != null ? procY.get(sg.from) : 8;
      if (fromY == null) continue;
      seenS.add(key);
      let g = sigEls.get(key);
      if (!g) {
        const path = s('path', { class: 'ipc-sig', 'marker-end': 'url(#ipc-sig)' });
        const label = s('text', { class: 'ipc-sig-label', 'text-anchor': 'end' });
        const gg = s('g', { class: 'ipc-sig-g', dataset: { signal: sg.signal } }, path, label);
        gSig.append(gg);
        g = { g: gg, path, label, sig: '' };
        sigEls.set(key, g);
      }
      const y1 = sg.from != null ? fromY + PH / 2 : 12;
      const y2 = toY + PH / 2;
      const x1 = sg.from != null ? PX : PX - 10;
      const bulge = Math.min(80, 30 + Math.abs(y2 - y1) * 0.25) + (k % 3) * 8;
      const d = sg.from != null && sg.from === Math.abs(sg.to)
        ? `M ${PX} ${y2 - 8} C ${PX - 50} ${y2 - 30}, ${PX - 50} ${y2 + 30}, ${PX} ${y2 + 8}`
        : `M ${x1} ${y1} C ${PX - bulge} ${y1}, ${PX - bulge} ${y2}, ${PX} ${y2}`;
      const sig = `${d}|${n}`;
      if (g.sig !== sig) {
        g.sig = sig;
        attr(g.path, 'd', d);
        attr(g.label, 'x', PX - 8);
        attr(g.label, 'y', (y1 + y2) / 2 + 4);
        text(g.label, `${sg.signal.replace(/^SIG/, '')}${n > 1 ? ` ×${n}` : ''}${sg.from == null ? ` (${t('ipc.you')})` : ''}`);
      }
      k++;
    }
    for (const [key, g] of sigEls) if (!seenS.has(key)) { g.g.remove(); sigEls.delete(key); }

    renderLog(st);
    if (fx.length) playFx();
  }

  function renderLog(st) {
    const key = `${st.transferCount}|${st.signalCount}|${getLangKey()}`;
    if (key === logKey) return;
    logKey = key;
    const items = [];
    for (const tr of st.transfers.slice(-LOG_ITEMS)) items.push({ seq: tr.seq, kind: 'transfer', rec: tr });
    for (const sg of st.signals.slice(-LOG_ITEMS)) items.push({ seq: sg.seq, kind: 'signal', rec: sg });
    items.sort((a, b) => b.seq - a.seq);
    const frag = document.createDocumentFragment();
    for (const it of items.slice(0, LOG_ITEMS)) {
      const r = it.rec;
      if (it.kind === 'transfer') {
        const p = st.procs.get(r.pid);
        frag.append(h('li', { class: `log-transfer dir-${r.direction}` },
          h('span', { class: `pid-badge ${pidClass(p || 0)}` }, String(r.pid)),
          ` ${t(r.direction === 'read' ? 'ipc.read' : 'ipc.write', { pid: '', n: r.bytes }).trim()} · ${r.channel} `,
          r.preview ? h('code', null, preview(r.preview, 40)) : null));
      } else {
        const from = r.from == null ? t('ipc.you') : String(r.from);
        frag.append(h('li', { class: 'log-signal' },
          h('span', { class: 'sig-badge' }, '⚡'),
          ` ${t('ipc.signalFrom', { signal: r.signal, from, to: r.to })}${r.action ? ` → ${r.action}` : ''}`));
      }
    }
    clear(log);
    log.append(frag);
  }

  // points along the cubic link from a process (py) to a channel (cy)
  function linkPoints(py, cy, reverse) {
    const x1 = PX + PW;
    const y1 = py + PH / 2;
    const x2 = CX;
    const y2 = cy + CH / 2;
    const mx = (x1 + x2) / 2;
    const pts = [];
    for (let i = 0; i <= 10; i++) {
      const u = i / 10;
      const a = (1 - u) ** 3;
      const b = 3 * (1 - u) ** 2 * u;
      const c = 3 * (1 - u) * u * u;
      const d = u ** 3;
      pts.push({ x: a * x1 + b * mx + c * mx + d * x2, y: a * y1 + b * y1 + c * y2 + d * y2 });
    }
    return reverse ? pts.reverse() : pts;
  }

  function flash(el, frames, ms) {
    if (el && typeof el.animate === 'function') el.animate(frames, { duration: ms, easing: 'ease-out' });
  }

  function playFx() {
    const batch = fx.slice(-MAX_ANIM);
    fx = [];
    if (ctx.reducedMotion()) {
      return;
    }
    for (const ev of batch) {
      if (ev.type === 'ipc.transfer') {
        const py = procY.get(ev.pid);
        const cy = chanY.get(ev.channel);
        if (py == null || cy == null) continue;
        const pts = linkPoints(py, cy, ev.direction === 'read');
        const label = preview(ev.preview || `${ev.bytes} B`, 14) || `${ev.bytes} B`;
        const w = Math.max(34, label.length * 7.4 + 14);
        const g = s('g', { class: `ipc-packet dir-${ev.direction}` },
          s('rect', { x: -w / 2, y: -11, width: w, height: 22, rx: 11 }),
          s('text', { x: 0, y: 4, 'text-anchor': 'middle' }, label));
        gFx.append(g);
        const frames = pts.map((pt) => ({ transform: `translate(${pt.x}px, ${pt.y}px)` }));
        const anim = g.animate(frames, { duration: 900, easing: 'ease-in-out' });
        anim.onfinish = () => g.remove();
        setTimeout(() => g.remove(), 1500);
        const c = chanEls.get(ev.channel);
        if (c) flash(c.g.querySelector('rect'), [{ stroke: 'var(--signal)', strokeWidth: 5 }, {}], 900);
      } else if (ev.type === 'signal.sent') {
        for (const [key, g] of sigEls) {
          if (key.startsWith(`${ev.from ?? 'you'}>${ev.to}|${ev.signal}`)) {
            flash(g.path, [{ strokeWidth: 6, strokeDashoffset: 0 }, { strokeWidth: 2.2, strokeDashoffset: -44 }], 1200);
          }
        }
      }
    }
  }

  function note(events) {
    if (!events) return;
    for (const ev of events) if (ev.type === 'ipc.transfer' || ev.type === 'signal.sent') fx.push(ev);
    if (fx.length > MAX_ANIM * 4) fx = fx.slice(-MAX_ANIM);
  }

  render.profileName = 'ipc';
  return {
    update(events) {
      if (ctx.cursor().live) note(events);
      scheduleAtMost(render, 100);
    },
    seek(n, events) {
      note(events);
      schedule(render);
    },
    reset() {
      for (const g of [gSig, gLinks, gProcs, gChans, gFx]) clear(g);
      procEls.clear();
      chanEls.clear();
      linkEls.clear();
      sigEls.clear();
      fx = [];
      logKey = '';
      clear(log);
      schedule(render);
    },
    render,
  };
}
