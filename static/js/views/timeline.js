// Timeline scrubber: every view shows the state at the chosen moment.
// Buttons: previous event, play/pause (replay), next event, live.
// Arrow keys on the slider move by one event; PageUp/PageDown by 10 %.
//   mount(element, ctx) -> {update(), seek(), reset(), render()}
// ctx: timeline, cursor(), seekCount(n), seekTime(T), goLive(), isRunning()

import { h, text } from '../dom.js';
import { t, onLangChange } from '../i18n.js';
import { schedule } from '../frame.js';
import { formatDuration } from '../model/lanes.js';
import { icon } from '../icons.js';

const MARK_TYPES = {
  'proc.spawn': 'spawn',
  'proc.exec.failed': 'limit',
  'proc.exit': 'exit',
  'proc.reaped': 'reap',
  'proc.reparent': 'reparent',
  'signal.sent': 'signal',
  'run.limit': 'limit',
};
const STEPS = 1000; // slider resolution

export function mount(el, ctx) {
  el.classList.add('view-timeline');
  const prev = h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': t('timeline.prev'), title: t('timeline.prev') }, icon('prev'));
  const play = h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': t('timeline.play'), title: t('timeline.play') }, icon('play'));
  const next = h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': t('timeline.next'), title: t('timeline.next') }, icon('next'));
  const marks = h('canvas', { class: 'tl-marks', height: '12', 'aria-hidden': 'true' });
  const slider = h('input', { type: 'range', class: 'tl-slider', min: '0', max: String(STEPS), step: '1', value: String(STEPS), 'aria-label': t('timeline.slider') });
  const track = h('div', { class: 'tl-track' }, marks, slider);
  const label = h('span', { class: 'tl-label', 'aria-live': 'off' });
  const live = h('button', { type: 'button', class: 'btn btn-small tl-live', 'aria-pressed': 'true', title: t('timeline.liveLabel') }, t('timeline.live'));
  const title = h('span', { class: 'tl-title' }, t('timeline.label'));
  el.append(title, prev, play, next, track, label, live);

  let playing = null; // {t0, T0, rate, raf}
  let marksKey = '';
  let lastMarksAt = 0;

  onLangChange(() => {
    prev.setAttribute('aria-label', t('timeline.prev'));
    prev.title = t('timeline.prev');
    next.setAttribute('aria-label', t('timeline.next'));
    next.title = t('timeline.next');
    slider.setAttribute('aria-label', t('timeline.slider'));
    text(live, t('timeline.live'));
    live.title = t('timeline.liveLabel');
    text(title, t('timeline.label'));
    setPlayLabel();
    schedule(render);
  });

  function duration() {
    return Math.max(1, ctx.timeline.duration);
  }

  function setPlayLabel() {
    const k = playing ? 'timeline.pause' : 'timeline.play';
    play.setAttribute('aria-label', t(k));
    play.title = t(k);
    play.replaceChildren(icon(playing ? 'pause' : 'play'));
  }

  function stopPlaying() {
    if (playing) {
      cancelAnimationFrame(playing.raf);
      playing = null;
      setPlayLabel();
    }
  }

  slider.addEventListener('input', () => {
    stopPlaying();
    const T = (Number(slider.value) / STEPS) * duration();
    if (Number(slider.value) >= STEPS && !ctx.isRunning()) ctx.seekTime(duration());
    else ctx.seekTime(T);
  });
  slider.addEventListener('keydown', (e) => {
    const cur = ctx.cursor();
    const n = ctx.timeline.length;
    let target = null;
    if (e.key === 'ArrowRight' || e.key === 'ArrowUp') target = cur.n + 1;
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowDown') target = cur.n - 1;
    else if (e.key === 'PageUp') target = cur.n + Math.max(1, Math.round(n / 10));
    else if (e.key === 'PageDown') target = cur.n - Math.max(1, Math.round(n / 10));
    else if (e.key === 'Home') target = 0;
    else if (e.key === 'End') target = n;
    if (target == null) return;
    e.preventDefault();
    stopPlaying();
    ctx.seekCount(Math.max(0, Math.min(n, target)));
  });
  prev.addEventListener('click', () => {
    stopPlaying();
    ctx.seekCount(Math.max(0, ctx.cursor().n - 1));
  });
  next.addEventListener('click', () => {
    stopPlaying();
    ctx.seekCount(Math.min(ctx.timeline.length, ctx.cursor().n + 1));
  });
  live.addEventListener('click', () => {
    stopPlaying();
    ctx.goLive();
  });
  play.addEventListener('click', () => {
    if (playing) {
      stopPlaying();
      return;
    }
    const D = duration();
    let T0 = ctx.cursor().live ? 0 : ctx.cursor().T;
    if (T0 >= D) T0 = 0;
    // a whole replay lasts between 8 and 60 seconds of wall time
    const wall = Math.min(60e3, Math.max(8e3, D / 1e6));
    const rate = D / wall; // ns of run per ms of wall time
    playing = { t0: performance.now(), T0, rate, raf: 0 };
    setPlayLabel();
    ctx.seekTime(T0);
    const tick = (now) => {
      if (!playing) return;
      const T = playing.T0 + (now - playing.t0) * playing.rate;
      if (T >= D) {
        ctx.seekTime(D);
        stopPlaying();
        return;
      }
      ctx.seekTime(T);
      playing.raf = requestAnimationFrame(tick);
    };
    playing.raf = requestAnimationFrame(tick);
  });

  // notable moments (spawns, exits, signals, limits) as ticks above the slider,
  // drawn on a canvas: no DOM churn however many there are
  let marksW = 400;
  if (typeof ResizeObserver === 'function') {
    new ResizeObserver((entries) => {
      const w = Math.round(entries[entries.length - 1].contentRect.width);
      if (w && w !== marksW) {
        marksW = w;
        schedule(render);
      }
    }).observe(marks);
  }
  document.addEventListener('proclab:theme', () => schedule(render));
  const MARK_COLORS = { spawn: '--st-running', exit: '--st-zombie', reap: '--st-zombie', reparent: '--accent', signal: '--signal', limit: '--danger' };
  function renderMarks() {
    const tl = ctx.timeline;
    const key = `${tl.length}|${tl.duration}|${marksW}|${document.documentElement.dataset.theme}`;
    if (key === marksKey) return;
    const now = performance.now();
    if (!tl.live.finished && now - lastMarksAt < 400) {
      setTimeout(() => schedule(render), 420);
      return;
    }
    marksKey = key;
    lastMarksAt = now;
    const D = duration();
    const w = Math.max(50, marksW);
    const dpr = window.devicePixelRatio || 1;
    if (marks.width !== Math.round(w * dpr)) marks.width = Math.round(w * dpr);
    marks.height = Math.round(12 * dpr);
    const g = marks.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, 12);
    const cs = getComputedStyle(el);
    const colors = {};
    for (const [k, v] of Object.entries(MARK_COLORS)) colors[k] = cs.getPropertyValue(v).trim() || '#888';
    for (let i = 0; i < tl.events.length; i++) {
      const kind = MARK_TYPES[tl.events[i].type];
      if (!kind) continue;
      const x = Math.round((tl.maxT[i] / D) * (w - 2)) + 0.5;
      g.fillStyle = colors[kind];
      const hh = kind === 'signal' || kind === 'limit' ? 12 : 9;
      g.fillRect(x, 12 - hh, kind === 'limit' ? 3 : 2, hh);
    }
  }

  function render() {
    const cur = ctx.cursor();
    const tl = ctx.timeline;
    const D = duration();
    const v = cur.live ? STEPS : Math.round((cur.T / D) * STEPS);
    if (document.activeElement !== slider || playing || cur.live) slider.value = String(v);
    const has = tl.length > 0;
    slider.disabled = !has;
    prev.disabled = !has || cur.n <= 0;
    next.disabled = !has || cur.n >= tl.length;
    play.disabled = !has || ctx.isRunning();
    live.setAttribute('aria-pressed', cur.live ? 'true' : 'false');
    live.classList.toggle('on', cur.live);
    el.classList.toggle('scrubbing', !cur.live);
    const T = cur.live ? tl.duration : cur.T;
    const lbl = t('timeline.at', { t: formatDuration(T), n: cur.n, total: tl.length });
    text(label, lbl);
    slider.setAttribute('aria-valuetext', lbl);
    renderMarks();
  }

  render.profileName = 'timeline';
  return {
    update() {
      schedule(render);
    },
    seek() {
      schedule(render);
    },
    reset() {
      stopPlaying();
      marksKey = '';
      schedule(render);
    },
    stop: stopPlaying,
    render,
  };
}
