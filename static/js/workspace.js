// The workspace shared by the lesson page and the replay page: the event
// model (Timeline + Lanes), every view, the scrubbing cursor and the
// "why it stopped" banner.
//
//   const ws = createWorkspace(root, {files, main, readOnly, storageKey, hooks});
//   ws.feed(events)   // any batch, any time (duplicates dropped by seq)
//   ws.reset()        // a new run
//   ws.seekCount(n) / ws.seekTime(T) / ws.goLive()

import { Timeline } from './model/timeline.js';
import { Lanes } from './model/lanes.js';
import { stopReason } from './model/reducer.js';
import { explainStop } from './model/explain.js';
import { schedule, reducedMotion } from './frame.js';
import { t, getLang, onLangChange } from './i18n.js';
import { h, clear } from './dom.js';
import { openSignalMenu } from './views/signalmenu.js';
import * as treeView from './views/tree.js';
import * as statesView from './views/states.js';
import * as lanesView from './views/lanes.js';
import * as ipcView from './views/ipc.js';
import * as terminalView from './views/terminal.js';
import * as codeView from './views/code.js';
import * as timelineView from './views/timeline.js';

const ANIMATE_MAX = 300; // forward seeks of up to this many events animate

export function createWorkspace(root, opts = {}) {
  const hooks = opts.hooks || {};
  const timeline = new Timeline();
  const lanes = new Lanes();
  let cursorN = null; // null: live
  let cursorT = 0;

  const q = (sel) => root.querySelector(sel);

  const ctx = {
    timeline,
    lanes,
    files: opts.files || {},
    main: opts.main || 'main.py',
    readOnly: !!opts.readOnly,
    storageKey: opts.storageKey || null,
    canInput: !opts.readOnly,
    state: () => (cursorN == null ? timeline.live : timeline.stateAt(cursorN)),
    cursor: () => (cursorN == null
      ? { live: true, n: timeline.length, T: timeline.duration }
      : { live: false, n: cursorN, T: cursorT }),
    reducedMotion,
    isRunning: () => !!(hooks.isRunning && hooks.isRunning()),
    signalMenu: (anchor, pid) => openSignalMenu(anchor, pid, async (sig) => {
      if (hooks.sendSignal) await hooks.sendSignal(pid, sig);
    }, { disabled: !(hooks.canSignal && hooks.canSignal()) }),
    sendInput: (text) => (hooks.sendInput ? hooks.sendInput(text) : null),
    onRun: () => (hooks.run ? hooks.run() : null),
    seekTime: (T) => seekTime(T),
    seekCount: (n) => seekCount(n),
    goLive: () => goLive(),
  };

  const views = {};
  const mountIf = (name, sel, mod) => {
    const el = q(sel);
    if (el) views[name] = mod.mount(el, ctx);
  };
  mountIf('code', '[data-view="code"]', codeView);
  mountIf('terminal', '[data-view="terminal"]', terminalView);
  mountIf('tree', '[data-view="tree"]', treeView);
  mountIf('states', '[data-view="states"]', statesView);
  mountIf('lanes', '[data-view="lanes"]', lanesView);
  mountIf('ipc', '[data-view="ipc"]', ipcView);
  mountIf('timeline', '[data-view="timeline"]', timelineView);

  const banner = q('[data-view="banner"]');
  let bannerKey = '';
  function renderBanner() {
    if (!banner) return;
    const r = stopReason(timeline.live);
    const e = explainStop(r, t, getLang());
    const key = e ? `${getLang()}|${e.kind}|${e.lines.join('|')}|${e.stats}` : '';
    if (key === bannerKey) return;
    bannerKey = key;
    clear(banner);
    banner.hidden = !e;
    if (!e) return;
    banner.className = `banner banner-${e.kind}`;
    const icon = { ok: '✓', warn: '!', limit: '⏱', stopped: '■', killed: '⚡', error: '✗' }[e.kind] || 'i';
    banner.append(
      h('span', { class: 'banner-icon', 'aria-hidden': 'true' }, icon),
      h('div', { class: 'banner-body' },
        h('strong', { class: 'banner-title' }, t('banner.title')),
        e.lines.map((l) => h('p', null, l)),
        e.stats ? h('p', { class: 'banner-stats' }, e.stats) : null),
    );
  }
  onLangChange(() => {
    bannerKey = '';
    schedule(renderBanner);
  });

  function each(fn) {
    for (const v of Object.values(views)) {
      try {
        fn(v);
      } catch (err) {
        console.error(err);
      }
    }
  }

  function feed(events) {
    if (!events) return [];
    const accepted = timeline.append(events);
    if (!accepted.length) return accepted;
    lanes.applyAll(accepted);
    if (cursorN == null) each((v) => v.update && v.update(accepted));
    else if (views.timeline) views.timeline.update(accepted);
    schedule(renderBanner);
    if (hooks.onEvents) hooks.onEvents(accepted, timeline.live);
    return accepted;
  }

  function moveTo(n, T) {
    const prev = cursorN == null ? timeline.length : cursorN;
    n = Math.max(0, Math.min(n, timeline.length));
    cursorN = n;
    cursorT = T;
    const delta = n > prev && n - prev <= ANIMATE_MAX ? timeline.events.slice(prev, n) : null;
    each((v) => v.seek && v.seek(n, delta));
  }

  function seekCount(n) {
    n = Math.max(0, Math.min(n, timeline.length));
    moveTo(n, timeline.timeAtCount(n));
  }

  function seekTime(T) {
    T = Math.max(0, Math.min(T, timeline.duration));
    moveTo(timeline.countAtTime(T), T);
  }

  function goLive() {
    cursorN = null;
    each((v) => v.seek && v.seek(timeline.length, null));
  }

  function reset() {
    timeline.reset();
    lanes.reset();
    cursorN = null;
    cursorT = 0;
    each((v) => v.reset && v.reset());
    bannerKey = '';
    schedule(renderBanner);
  }

  // panel "enlarge" buttons
  for (const btn of root.querySelectorAll('[data-expand]')) {
    btn.addEventListener('click', () => {
      const panel = btn.closest('.panel');
      const on = !panel.classList.contains('expanded');
      for (const p of root.querySelectorAll('.panel.expanded')) p.classList.remove('expanded');
      panel.classList.toggle('expanded', on);
      root.classList.toggle('has-expanded', on);
      btn.setAttribute('aria-pressed', on ? 'true' : 'false');
      btn.setAttribute('aria-label', t(on ? 'view.restore' : 'view.expand'));
      btn.title = t(on ? 'view.restore' : 'view.expand');
      each((v) => v.render && schedule(v.render));
      if (on) panel.scrollIntoView({ block: 'nearest' });
    });
  }
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      const ex = root.querySelector('.panel.expanded [data-expand]');
      if (ex && !document.querySelector('.sigmenu')) ex.click();
    }
  });

  return {
    ctx,
    views,
    timeline,
    lanes,
    feed,
    reset,
    seekCount,
    seekTime,
    goLive,
    get live() {
      return timeline.live;
    },
    setInputEnabled(on) {
      if (views.terminal) views.terminal.setInputEnabled(on);
    },
    files() {
      return views.code ? views.code.getFiles() : { ...ctx.files };
    },
  };
}
