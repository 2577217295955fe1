// Student page: join a room with a nickname (/room/{code}/student), send
// predictions, do exercises graded by the kernel; or solo (/exercises), with
// progress kept in this browser. A goal's evidence opens the run's replay at
// that event.

import { initPage } from './common.js';
import { t, pick, onLangChange } from '../i18n.js';
import { request } from '../api.js';
import { h, clear, toast } from '../dom.js';
import { goalSummary, expectText, recordAttempt } from '../model/classroom.js';

initPage();

const data = JSON.parse(document.getElementById('student-data').textContent || '{}');
const room = data.room;
const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;
const SOLO_KEY = 'proclab.exercises.progress';
let me = null;
let exercises = [];
let current = null;
let lastGoals = null;
let lastRun = null;

// The code editor: the vendored CodeMirror over the textarea (the textarea alone without it).
const editor = (() => {
  const ta = $('ex-code');
  const CM = window.CodeMirror;
  if (!CM) return { getValue: () => ta.value, setValue: (v) => { ta.value = v; } };
  const cm = CM.fromTextArea(ta, {
    mode: 'python', lineNumbers: true, indentUnit: 4, tabSize: 4, indentWithTabs: false, matchBrackets: true,
    viewportMargin: Infinity,
    extraKeys: {
      'Ctrl-Enter': () => runExercise(),
      Tab: (c) => (c.somethingSelected() ? c.indentSelection('add') : c.replaceSelection('    ')),
      Esc: (c) => c.getInputField().blur(),
    },
  });
  cm.getInputField().setAttribute('aria-label', t('code.title'));
  return { getValue: () => cm.getValue(), setValue: (v) => cm.setValue(v) };
})();

function errText(err) {
  const d = err && err.detail;
  if (Array.isArray(d)) return d.map((x) => x.msg).join('; ');
  return d && typeof d === 'object' ? pick(d) : (err && err.message) || String(err);
}

function store(key, value) {
  try {
    if (value === undefined) return JSON.parse(localStorage.getItem(key) || 'null');
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    /* private mode */
  }
  return null;
}

// ------------------------------------------------------------ joining

function showMe() {
  $('join-me').hidden = !me;
  $('join-form').hidden = !!me;
  $('predict-box').hidden = !me;
  $('exercise-box').hidden = !me;
  if (me) $('join-me').textContent = t('student.joined', { name: me.name });
}

async function join(e) {
  e.preventDefault();
  const name = $('join-name').value;
  try {
    me = await request('POST', `/api/rooms/${enc(room.code)}/students`, { name });
    store('proclab.nickname', name);
    showMe();
    loadQuestions();
  } catch (err) {
    toast(errText(err), { error: true });
  }
}

// ------------------------------------------------------------ predictions

async function loadQuestions() {
  const box = $('predict-questions');
  const id = $('predict-lesson').value;
  clear(box);
  if (!id) return;
  const lesson = await request('GET', `/api/lessons/${enc(id)}`);
  for (const q of lesson.questions || []) {
    const input = h('input', { id: `pq-${q.id}`, 'data-question': q.id, maxlength: 100 });
    const state = h('span', { class: 'pq-state', role: 'status' });
    const send = async (ev) => {
      ev.preventDefault();
      try {
        await request('POST', `/api/rooms/${enc(room.code)}/predictions`, { lesson: id, question: q.id, answer: input.value });
        state.textContent = t('student.sent');
      } catch (err) {
        if (err.status === 403) {
          me = null;
          showMe();
          toast(t('student.removed'), { error: true });
        } else toast(errText(err), { error: true });
      }
    };
    box.append(h('form', { class: 'pq', onsubmit: send }, h('label', { for: `pq-${q.id}` }, pick(q.prompt)), input,
      h('button', { type: 'submit', class: 'btn btn-small' }, t('student.send')), state));
  }
}

// ------------------------------------------------------------ exercises

const keyOf = (ex) => `${ex.lesson}/${ex.id}`;
const codeKey = (ex) => `proclab.exercise.${keyOf(ex)}`;

function renderProgress() {
  if (room) return; // in a room the instructor's matrix is the record
  const p = store(SOLO_KEY) || {};
  const done = exercises.filter((ex) => p[keyOf(ex)] && p[keyOf(ex)].passed).length;
  $('ex-progress').textContent = t('student.progress', { done, total: exercises.length });
  for (const opt of $('ex-pick').options) {
    const rec = p[opt.value];
    opt.textContent = `${rec && rec.passed ? '✓ ' : rec ? '✗ ' : ''}${opt.dataset.title}`;
  }
}

function choose(key) {
  current = exercises.find((ex) => keyOf(ex) === key) || exercises[0];
  if (!current) return;
  $('ex-pick').value = keyOf(current);
  $('ex-goal').textContent = pick(current.goal);
  const hints = $('ex-hints');
  clear(hints);
  for (const hint of pick(current.hints) || []) hints.append(h('li', null, hint));
  $('ex-hints-box').hidden = !(pick(current.hints) || []).length;
  editor.setValue(store(codeKey(current)) || current.starter[current.main]);
  lastGoals = null;
  lastRun = null;
  $('ex-output').hidden = true;
  $('ex-run-link').hidden = true;
  renderGoals();
}

async function showOutput(runId) {
  const events = await request('GET', `/api/runs/${enc(runId)}/events`);
  const out = events.filter((e) => e.type === 'io.output').map((e) => e.text).join('');
  const pre = $('ex-output');
  pre.textContent = out.length > 20000 ? `…${out.slice(-20000)}` : out; // text only: output is never HTML
  pre.hidden = !out;
  $('ex-run-open').setAttribute('href', `/runs/${enc(runId)}`);
  $('ex-run-link').hidden = false;
}

function renderGoals() {
  const box = $('ex-goals');
  clear(box);
  if (!current) return;
  const byId = new Map((lastGoals || []).map((g) => [g.id, g]));
  current.expect.forEach((item, i) => {
    const g = byId.get(String(i + 1));
    const mark = g ? (g.passed ? '✓' : '✗') : '·';
    const li = h('li', { class: `goal ${g ? (g.passed ? 'goal-pass' : 'goal-fail') : ''}`, 'data-goal': String(i + 1),
      'data-passed': g ? String(g.passed) : '' }, h('span', { class: 'goal-mark', 'aria-hidden': 'true' }, mark), ' ',
    h('code', null, expectText(item)));
    if (g && g.passed && g.evidence_seq !== null && lastRun) {
      li.append(' ', h('a', { class: 'goal-evidence', href: `/runs/${enc(lastRun)}?seq=${g.evidence_seq}`, target: '_blank' },
        t('student.evidence', { seq: g.evidence_seq })));
    }
    box.append(li);
  });
  if (lastGoals) {
    const s = goalSummary(lastGoals);
    $('ex-status').textContent = s.all ? t('student.allPassed') : t('student.someFailed', { n: s.failing });
  }
}

async function waitFinished(runId, onQueued) {
  for (;;) {
    const info = await request('GET', `/api/runs/${enc(runId)}`);
    if (info.status === 'finished') return info;
    if (info.status === 'queued' && onQueued) onQueued();
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function runExercise() {
  if (!current) return;
  const code = editor.getValue();
  store(codeKey(current), code);
  const files = { [current.main]: code };
  $('ex-run').disabled = true;
  $('ex-status').textContent = t('student.waiting');
  try {
    const info = room
      ? await request('POST', `/api/rooms/${enc(room.code)}/my-runs`, { lesson: current.lesson, exercise: current.id, files })
      : await request('POST', '/api/runs', { lesson: current.lesson, exercise: current.id, files });
    if (info.position) $('ex-status').textContent = t('student.position', { n: info.position });
    lastRun = info.id;
    const done = await waitFinished(info.id);
    lastGoals = (done.result && done.result.goals) || [];
    if (!room) {
      store(SOLO_KEY, recordAttempt(store(SOLO_KEY) || {}, keyOf(current), goalSummary(lastGoals).all, Date.now()));
      renderProgress();
    }
    renderGoals();
    await showOutput(info.id);
  } catch (err) {
    $('ex-status').textContent = '';
    if (err.status === 403 && room) {
      me = null;
      showMe();
    }
    toast(errText(err), { error: true });
  } finally {
    $('ex-run').disabled = false;
  }
}

// ------------------------------------------------------------ batches

async function runBatch() {
  if (!current) return;
  const count = Number($('batch-count').value);
  const status = $('batch-status');
  try {
    const b0 = await request('POST', '/api/batches', {
      lesson: current.lesson, exercise: current.id, files: { [current.main]: editor.getValue() }, count,
    });
    for (;;) {
      const b = await request('GET', `/api/batches/${enc(b0.id)}`);
      status.textContent = t('batch.progress', { done: b.finished, n: b.count });
      renderBars($('batch-bars'), b.outcomes, b.finished);
      if (b.done) break;
      await new Promise((r) => setTimeout(r, 500));
    }
  } catch (err) {
    toast(errText(err), { error: true });
  }
}

function renderBars(box, outcomes, total) {
  clear(box);
  const max = Math.max(1, ...outcomes.map((o) => o.count));
  for (const o of outcomes) {
    box.append(h('a', { class: 'batch-bar', href: `/runs/${enc(o.runs[0])}`, target: '_blank', 'data-count': o.count },
      h('span', { class: 'batch-fill', style: `width:${(100 * o.count) / max}%` }),
      h('span', { class: 'batch-label' }, `${o.count}/${total} · ${o.outcome || '∅'}`)));
  }
}

// ------------------------------------------------------------ start

async function newestLesson() {
  // the lesson the instructor ran last in this room: what the class is predicting now
  try {
    const info = await request('GET', `/api/rooms/${enc(room.code)}`);
    const last = info.runs && info.runs[info.runs.length - 1];
    return last ? (await request('GET', `/api/runs/${enc(last)}`)).lesson : null;
  } catch {
    return null;
  }
}

async function start() {
  exercises = await request('GET', '/api/exercises');
  const pickEl = $('ex-pick');
  for (const ex of exercises) {
    pickEl.append(h('option', { value: keyOf(ex), 'data-title': `${pick(ex.lesson_title)} — ${ex.id}` }, `${pick(ex.lesson_title)} — ${ex.id}`));
  }
  pickEl.addEventListener('change', () => choose(pickEl.value));
  $('ex-run').addEventListener('click', runExercise);
  $('ex-reset').addEventListener('click', () => {
    if (!current) return;
    editor.setValue(current.starter[current.main]);
    store(codeKey(current), current.starter[current.main]);
  });
  $('batch-start').addEventListener('click', runBatch);
  const wanted = new URLSearchParams(location.search).get('exercise');
  choose(wanted || (exercises[0] && keyOf(exercises[0])));
  renderProgress();
  if (room) {
    $('join-form').addEventListener('submit', join);
    $('join-name').value = store('proclab.nickname') || '';
    const lessons = await request('GET', '/api/lessons');
    for (const l of lessons) $('predict-lesson').append(h('option', { value: l.id }, pick(l.title)));
    const lessonWanted = new URLSearchParams(location.search).get('lesson') || (await newestLesson());
    if (lessonWanted) $('predict-lesson').value = lessonWanted;
    $('predict-lesson').addEventListener('change', loadQuestions);
    try {
      const got = await request('GET', `/api/rooms/${enc(room.code)}/me`);
      me = got.joined ? got : null;
    } catch {
      me = null;
    }
    showMe();
    if (me) loadQuestions();
  }
  document.body.dataset.ready = 'true';
}

onLangChange(() => {
  if (me) showMe();
  renderGoals();
  renderProgress();
});
window.proclab = { editor };
start().catch((err) => toast(errText(err), { error: true }));
