// Lesson page: lesson text, predictions, code, controls and live views.

import { initPage } from './common.js';
import { t, has, onLangChange } from '../i18n.js';
import { api } from '../api.js';
import { RunStream } from '../stream.js';
import { createWorkspace } from '../workspace.js';
import { mount as mountQuestions } from '../views/questions.js';
import { toast, inlineCode, h } from '../dom.js';
import { pick } from '../i18n.js';
import { icon } from '../icons.js';
import { enableAuthoring } from './author.js';

initPage();
for (const el of document.querySelectorAll('.lesson-text .lead [data-l], .objectives li')) inlineCode(el);

const lesson = JSON.parse(document.getElementById('lesson-data').textContent || 'null') || {};
const root = document.querySelector('.workspace');
const $ = (id) => document.getElementById(id);

const ui = {
  run: $('btn-run'),
  stop: $('btn-stop'),
  pause: $('btn-pause'),
  stepMode: $('btn-stepmode'),
  step: $('btn-step'),
  slow: $('btn-slow'),
  status: $('run-status'),
  link: $('run-link'),
  export: $('run-export'),
};

const SLOW_MS = 400;

const run = {
  id: null,
  phase: 'idle', // idle | starting | queued | running | finished
  stream: null,
  paused: false,
  step: false,
  slow: false,
  conn: 'idle',
  finishedHandled: false,
};

function errText(err) {
  const d = err && err.detail;
  if (d && typeof d === 'object') return pick(d);
  return (err && err.message) || String(err);
}

const ws = createWorkspace(root, {
  files: lesson.files || {},
  main: lesson.main || 'main.py',
  storageKey: `proclab.code.${lesson.id}`,
  hooks: {
    isRunning: () => run.phase === 'running' || run.phase === 'queued' || run.phase === 'starting',
    canSignal: () => run.phase === 'running',
    run: () => startRun(),
    async sendSignal(pid, signal) {
      if (run.phase !== 'running' || !run.id) {
        toast(t('proc.notRunning'), { error: true });
        return;
      }
      try {
        await api.signal(run.id, pid, signal);
        toast(t('proc.signalSent', { signal, pid }));
      } catch (err) {
        toast(t('proc.signalFailed', { signal, pid, error: errText(err) }), { error: true });
      }
    },
    async sendInput(text) {
      if (run.phase !== 'running' || !run.id) return;
      try {
        await api.input(run.id, text);
      } catch (err) {
        toast(t('run.controlFailed', { error: errText(err) }), { error: true });
      }
    },
    onEvents(events, state) {
      for (const ev of events) {
        if (ev.type === 'run.queued') setPhase('queued');
        else if (ev.type === 'run.started') setPhase('running');
        else if (ev.type === 'run.pace') {
          run.paused = ev.mode === 'paused';
          if (ev.mode === 'step') run.step = true;
          if (ev.mode === 'slow') run.slow = true;
          if (ev.mode === 'normal') {
            run.step = false;
            run.slow = false;
          }
        }
      }
      if (state.finished && !run.finishedHandled && run.id) onFinished();
      renderControls();
    },
  },
});

let questions = mountQuestions(document.getElementById('questions'), { lesson });

function setPhase(p) {
  run.phase = p;
  ws.setInputEnabled(p === 'running');
  renderControls();
}

function statusText() {
  if (run.conn === 'reconnecting' && run.phase !== 'finished') return t('status.reconnecting');
  switch (run.phase) {
    case 'starting':
      return t('status.starting');
    case 'queued':
      return t('status.queued', { n: ws.live.queuePosition ?? '?' });
    case 'running':
      return t(`pace.${paceMode()}`);
    case 'finished':
      return t('status.finished');
    default:
      return t('status.idle');
  }
}

function setLabel(btn, key) {
  const span = btn.querySelector('[data-i18n]') || btn;
  if (span.dataset.i18n !== key) span.dataset.i18n = key;
  const s = t(key);
  if (span.textContent !== s) span.textContent = s;
}

function setAttr(el, name, value) {
  if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

function renderControls() {
  const active = run.phase === 'running' || run.phase === 'queued' || run.phase === 'starting';
  ui.run.disabled = active;
  setLabel(ui.run, run.phase === 'finished' ? 'ctl.runAgain' : 'ctl.run');
  ui.stop.disabled = !active || !run.id;
  ui.pause.disabled = run.phase !== 'running';
  setAttr(ui.pause, 'aria-pressed', run.paused ? 'true' : 'false');
  setLabel(ui.pause, run.paused ? 'ctl.resume' : 'ctl.pause');
  const slot = ui.pause.querySelector('.icon-slot');
  if (slot && slot.dataset.icon !== String(run.paused)) {
    slot.dataset.icon = String(run.paused);
    slot.replaceChildren(icon(run.paused ? 'play' : 'pause'));
  }
  setAttr(ui.stepMode, 'aria-pressed', run.step ? 'true' : 'false');
  ui.step.disabled = !(run.step && run.phase === 'running');
  setAttr(ui.slow, 'aria-pressed', run.slow ? 'true' : 'false');
  const st = statusText();
  if (ui.status.textContent !== st) ui.status.textContent = st;
  setAttr(ui.status, 'data-phase', run.conn === 'reconnecting' && run.phase !== 'finished' ? 'reconnecting' : run.phase);
  setAttr(document.body, 'data-phase', run.phase);
}

onLangChange(renderControls);

function paceMode() {
  if (run.paused) return 'paused';
  if (run.step) return 'step';
  if (run.slow) return 'slow';
  return 'normal';
}

async function sendPace() {
  renderControls();
  if (!run.id || run.phase === 'finished' || run.phase === 'idle') return;
  try {
    await api.pace(run.id, paceMode(), run.slow ? SLOW_MS : 0);
  } catch (err) {
    toast(t('run.controlFailed', { error: errText(err) }), { error: true });
  }
}

async function startRun() {
  if (run.phase === 'running' || run.phase === 'starting' || run.phase === 'queued') return;
  if (run.stream) run.stream.stop();
  ws.reset();
  questions.clearAnswers();
  questions.lock(true);
  run.id = null;
  run.finishedHandled = false;
  run.paused = false;
  ui.link.hidden = true;
  ui.export.hidden = true;
  setPhase('starting');
  let created;
  // step mode or slow motion chosen before Run: paced from the very first traced call
  const mode = paceMode();
  const pace = mode === 'normal' ? null : { mode, delay_ms: run.slow ? SLOW_MS : 0 };
  try {
    created = await api.createRun(lesson.id, ws.files(), pace);
  } catch (err) {
    setPhase('idle');
    questions.lock(false);
    toast(t('run.failed', { error: errText(err) }), { error: true, ms: 8000 });
    return;
  }
  run.id = created.id;
  ui.link.href = `/runs/${encodeURIComponent(run.id)}`;
  ui.link.hidden = false;
  if (created.status === 'queued') setPhase('queued');
  if (paceMode() !== mode) sendPace(); // changed while the run was being created
  const id = run.id;
  run.stream = new RunStream({
    runId: run.id,
    poll: (after) => api.events(id, after),
    onEvents: (events) => ws.feed(events),
    onStatus: (s) => {
      run.conn = s;
      renderControls();
    },
  }).start();
}

async function onFinished() {
  run.finishedHandled = true;
  setPhase('finished');
  run.paused = false;
  questions.lock(false);
  const id = run.id;
  ui.export.href = api.exportUrl(id);
  ui.export.hidden = false;
  // run.finished carries the real answers of a lesson run
  const fin = ws.live.finished;
  if (fin && fin.answers && typeof fin.answers === 'object') {
    questions.showAnswers(fin.answers);
    return;
  }
  // (a server without them: ask until they are there)
  for (let i = 0; i < 10 && id === run.id; i++) {
    try {
      const info = await api.run(id);
      if (info && info.answers) {
        questions.showAnswers(info.answers);
        return;
      }
    } catch {
      /* retry */
    }
    await new Promise((r) => setTimeout(r, 300 + i * 200));
  }
}

ui.run.addEventListener('click', startRun);
ui.stop.addEventListener('click', async () => {
  if (!run.id) return;
  try {
    await api.stop(run.id);
  } catch (err) {
    toast(t('run.controlFailed', { error: errText(err) }), { error: true });
  }
});
ui.pause.addEventListener('click', () => {
  run.paused = !run.paused;
  sendPace();
});
ui.stepMode.addEventListener('click', () => {
  run.step = !run.step;
  sendPace();
});
ui.slow.addEventListener('click', () => {
  run.slow = !run.slow;
  sendPace();
});
ui.step.addEventListener('click', async () => {
  if (!run.id) return;
  try {
    await api.step(run.id);
  } catch (err) {
    toast(t('run.controlFailed', { error: errText(err) }), { error: true });
  }
});

renderControls();

// ---- the lesson text again, after an instructor saved lesson.md ---------------
function both(obj) {
  const o = obj || {};
  return [h('span', { 'data-l': 'en', lang: 'en' }, o.en || o.zh || ''), h('span', { 'data-l': 'zh', lang: 'zh-CN' }, o.zh || o.en || '')];
}

function proseOf(html, l, tag) {
  // the server's Markdown rendering (raw HTML disabled there), as on first load
  const doc = new DOMParser().parseFromString(`<body>${html || ''}</body>`, 'text/html');
  const div = h('div', { class: 'prose', 'data-l': l, lang: tag });
  div.append(...[...doc.body.childNodes].map((n) => document.importNode(n, true)));
  return div;
}

function renderLessonText(l) {
  const head = $('lesson-head');
  const prose = $('lesson-prose');
  if (!head || !prose) return;
  const obj = l.objectives || {};
  const hasObj = (obj.en && obj.en.length) || (obj.zh && obj.zh.length);
  const sum = l.summary || {};
  head.replaceChildren(
    h('p', { class: 'lesson-meta' }, l.topic ? h('span', { class: 'chip' }, has(`topic.${l.topic}`) ? t(`topic.${l.topic}`) : l.topic) : null,
      l.language === 'c' ? [' ', h('span', { class: 'chip chip-lang' }, 'C')] : null,
      l.twin ? [' ', h('a', { class: 'twin-link', href: `/lessons/${encodeURIComponent(l.twin)}`, dataset: { i18n: l.language === 'c' ? 'c.twinPython' : 'c.twinC' } },
        t(l.language === 'c' ? 'c.twinPython' : 'c.twinC'))] : null),
    h('h1', { id: 'lesson-title' }, both(l.title)),
    sum.en || sum.zh ? h('p', { class: 'lead' }, both(sum)) : null,
    hasObj ? h('section', { class: 'objectives', 'aria-labelledby': 'obj-title' },
      h('h2', { id: 'obj-title' }, h('span', { dataset: { i18n: 'lesson.objectives' } }, t('lesson.objectives'))),
      h('ul', { 'data-l': 'en', lang: 'en' }, (obj.en && obj.en.length ? obj.en : obj.zh || []).map((o) => h('li', null, o))),
      h('ul', { 'data-l': 'zh', lang: 'zh-CN' }, (obj.zh && obj.zh.length ? obj.zh : obj.en || []).map((o) => h('li', null, o)))) : null,
  );
  for (const el of head.querySelectorAll('.lead [data-l], .objectives li')) inlineCode(el);
  const body = l.body_html || {};
  prose.replaceChildren(proseOf(body.en || body.zh, 'en', 'en'), proseOf(body.zh || body.en, 'zh', 'zh-CN'));
  // the questions may have changed: a fresh element (the old view lets go of it)
  const old = $('questions');
  const fresh = old.cloneNode(false);
  old.replaceWith(fresh);
  questions = mountQuestions(fresh, { lesson: l });
  questions.lock(run.phase !== 'idle' && run.phase !== 'finished');
  document.title = `${pick(l.title)} · ProcLab`;
}

// ---- instructors: save into the lesson, lesson.md, check the lesson -------------
let author = null;
api.me().then((me) => {
  if (!me || !me.instructor || !ws.views.code) return;
  author = enableAuthoring({
    lesson,
    code: ws.views.code,
    onReloaded(l, savedFile) {
      if (savedFile === 'lesson.md') renderLessonText(l);
    },
  });
  window.proclab.author = author;
}).catch(() => {});

// for tests and the console
window.proclab = { ws, run, startRun, author };
