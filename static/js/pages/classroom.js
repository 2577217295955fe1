// Class view (/room/{code}/class): live histograms of the class's predictions
// with the kernel's answer, the wall of every student's run, outcomes, the
// progress matrix. ?projector=1: histograms and the shown run only, no names.

import { initPage } from './common.js';
import { t, pick, onLangChange } from '../i18n.js';
import { request } from '../api.js';
import { h, clear, toast } from '../dom.js';
import { histogramBars, wallTone, CELL_MARK } from '../model/classroom.js';

initPage();

const info = JSON.parse(document.getElementById('class-data').textContent || '{}');
const code = info.code;
const projector = !!info.projector;
const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;
const base = `/api/rooms/${enc(code)}`;
const lessonSel = $('class-lesson');
let lessons = [];
let lastPred = null;
let lastWall = null;
let lastProgress = null;
let shown = null;

function errText(err) {
  const d = err && err.detail;
  return d && typeof d === 'object' && !Array.isArray(d) ? pick(d) : (err && err.message) || String(err);
}

function span(key, params) {
  return h('span', { 'data-i18n': key }, t(key, params));
}

// ------------------------------------------------------------ predictions

function renderPredictions(p) {
  lastPred = p;
  const box = $('class-histograms');
  clear(box);
  if (!p) return;
  const current = p.rounds[p.rounds.length - 1];
  for (const q of p.questions) {
    const kernel = p.kernel ? p.kernel[q.id] : null;
    const card = h('article', { class: 'hist-card', 'data-question': q.id }, h('h3', null, pick(q.prompt)));
    for (const round of p.rounds.length > 1 ? p.rounds : [current]) {
      const data = round.questions[q.id] || { answers: {}, answered: 0 };
      const bars = histogramBars(data, kernel);
      const max = Math.max(1, ...bars.map((b) => b.count));
      const list = h('ol', { class: 'hist-bars', 'data-round': round.round });
      for (const b of bars) {
        list.append(h('li', { class: `hist-bar${b.kernel ? ' is-kernel' : ''}`, 'data-answer': b.answer },
          h('span', { class: 'hist-answer' }, b.answer),
          h('span', { class: 'hist-track' }, h('span', { class: 'hist-fill', style: `width:${(100 * b.count) / max}%` })),
          h('span', { class: 'hist-count' }, String(b.count)),
          b.kernel ? h('span', { class: 'hist-kernel' }, '◀ ', t('class.kernel')) : null));
      }
      card.append(h('p', { class: 'hist-meta' }, t('class.round', { n: round.round }), ' · ',
        h('span', { class: 'hist-answered', 'data-answered': data.answered }, t('class.answered', { n: data.answered }))), list);
    }
    card.append(h('p', { class: 'hist-note' }, kernel === null || kernel === undefined
      ? t('class.noKernel') : t('class.kernelSays', { answer: String(kernel) })));
    box.append(card);
  }
}

// Notices can start a fetch while another is on the way, and answers may come back in any order: only
// the latest one asked is drawn, or an older answer arriving last (the histogram before the run) would
// hide the kernel's mark, or a passed cell, until the next notice, which may never come.
function newest() {
  let asked = 0;
  return () => {
    const mine = ++asked;
    return () => mine === asked;
  };
}
const predictionsTurn = newest();
const wallTurn = newest();
const progressTurn = newest();

async function loadPredictions() {
  if (!lessonSel.value) return;
  const current = predictionsTurn();
  try {
    const p = await request('GET', `${base}/predictions?lesson=${enc(lessonSel.value)}`);
    if (current()) renderPredictions(p);
  } catch (err) {
    if (current()) toast(errText(err), { error: true });
  }
}

$('class-run').addEventListener('click', async () => {
  // the same run the room page starts: every student watches it; its answers mark the histograms
  try {
    await request('POST', `${base}/runs`, { lesson: lessonSel.value });
  } catch (err) {
    toast(errText(err), { error: true });
  }
});

$('class-vote-again').addEventListener('click', async () => {
  try {
    await request('POST', `${base}/predictions/rounds`, { lesson: lessonSel.value });
    loadPredictions();
  } catch (err) {
    toast(errText(err), { error: true });
  }
});

// ------------------------------------------------------------ wall

function card(w) {
  const tone = wallTone(w);
  const el = h('article', { class: `wall-card tone-${tone}`, 'data-student': w.student, 'data-tone': tone },
    h('h3', { class: 'wall-name' }, w.name));
  if (!w.run) {
    el.append(h('p', { class: 'wall-status' }, t('class.noRun')));
  } else {
    el.append(h('p', { class: 'wall-what' }, w.exercise ? `${w.lesson} / ${w.exercise}` : w.lesson || ''),
      h('p', { class: 'wall-status', 'data-status': w.status }, t(`class.st.${w.status}`) !== `class.st.${w.status}`
        ? t(`class.st.${w.status}`) : w.status,
      w.passed === true ? h('span', { class: 'wall-pass' }, ' ✓ ', t('class.passed')) : null,
      w.passed === false ? h('span', { class: 'wall-fail' }, ' ✗ ', t('class.notPassed')) : null));
    const tree = h('p', { class: 'wall-tree', 'aria-label': t('class.processes', { n: w.processes, alive: w.alive }) });
    for (const p of w.tree || []) tree.append(h('span', { class: `wall-proc st-${p.state}`, title: `${p.pid} ${p.state}` }));
    el.append(tree, h('p', { class: 'wall-counts' }, t('class.processes', { n: w.processes, alive: w.alive })));
    if (w.stuck) el.append(h('p', { class: 'wall-stuck' }, t('class.stuck', { reason: w.reason || '' })));
    if (w.limit) el.append(h('p', { class: 'wall-limit' }, t('class.limit', { limit: w.limit })));
    if (w.error) el.append(h('p', { class: 'wall-limit' }, t('class.error', { error: w.error })));
    el.append(h('p', { class: 'wall-links' },
      h('a', { class: 'btn btn-small btn-ghost', href: `/runs/${enc(w.run)}`, target: '_blank' }, t('class.watch')),
      h('button', { type: 'button', class: 'btn btn-small', 'data-show': w.run, onclick: () => show(shown === w.run ? null : w.run) },
        shown === w.run ? t('class.hide') : t('class.show'))));
  }
  return el;
}

function renderWall(data) {
  lastWall = data;
  const box = $('class-wall');
  if (!box) return;
  clear(box);
  if (!data.students.length) box.append(h('p', { class: 'view-empty' }, t('class.noStudents')));
  for (const w of data.students) {
    const c = card(w);
    c.append(h('p', { class: 'wall-admin' },
      h('button', { type: 'button', class: 'btn btn-small btn-ghost', onclick: () => rename(w) }, t('class.rename')),
      h('button', { type: 'button', class: 'btn btn-small btn-ghost', onclick: () => removeStudent(w) }, t('class.remove'))));
    box.append(c);
  }
}

async function rename(w) {
  const name = window.prompt(t('class.renamePrompt', { name: w.name }), w.name);
  if (name === null) return;
  try {
    await request('PATCH', `${base}/students/${enc(w.student)}`, { name });
  } catch (err) {
    toast(errText(err), { error: true });
  }
}

async function removeStudent(w) {
  try {
    await request('DELETE', `${base}/students/${enc(w.student)}`);
  } catch (err) {
    toast(errText(err), { error: true });
  }
}

async function show(runId) {
  try {
    await request('POST', `${base}/show`, { run: runId });
  } catch (err) {
    toast(errText(err), { error: true });
  }
}

function renderShown(runId) {
  shown = runId;
  const box = $('class-shown');
  box.hidden = !runId;
  const frame = $('class-shown-frame');
  const src = runId ? `/runs/${enc(runId)}` : 'about:blank';
  if (frame.getAttribute('src') !== src) frame.setAttribute('src', src);
}

async function loadWall() {
  const current = wallTurn();
  try {
    const data = await request('GET', `${base}/wall`);
    if (!current()) return;
    renderShown(data.shown);
    renderWall(data);
  } catch (err) {
    if (err.status === 401) $('class-signin').hidden = false;
  }
}

// ------------------------------------------------------------ outcomes, progress

async function loadOutcomes() {
  const box = $('class-outcomes');
  try {
    const d = await request('GET', `${base}/outcomes?lesson=${enc(lessonSel.value)}`);
    renderOutcomeBars(box, d.outcomes, d.runs);
  } catch (err) {
    toast(errText(err), { error: true });
  }
}

export function renderOutcomeBars(box, outcomes, total) {
  clear(box);
  const max = Math.max(1, ...outcomes.map((o) => o.count));
  for (const o of outcomes) {
    box.append(h('a', { class: 'batch-bar', href: `/runs/${enc(o.runs[0])}`, target: '_blank', 'data-count': o.count },
      h('span', { class: 'batch-fill', style: `width:${(100 * o.count) / max}%` }),
      h('span', { class: 'batch-label' }, `${o.count}/${total} · ${o.outcome || '∅'}`)));
  }
}

function renderProgress(m) {
  lastProgress = m;
  const table = $('class-matrix');
  if (!table) return;
  clear(table);
  const head = h('tr', null, h('th', { scope: 'col' }, t('class.students')));
  for (const e of m.exercises) head.append(h('th', { scope: 'col', title: pick(e.goal) }, e.id));
  table.append(h('thead', null, head));
  const body = h('tbody');
  for (const row of m.students) {
    const tr = h('tr', { 'data-student': row.student }, h('th', { scope: 'row' }, row.name));
    for (const e of m.exercises) {
      const c = row.cells[e.key];
      tr.append(h('td', { class: `cell-${c.state}`, 'data-exercise': e.key, 'data-state': c.state,
        title: c.attempts ? t('class.attempts', { n: c.attempts }) + (c.time_s != null ? ` · ${c.time_s} s` : '') : '' },
      CELL_MARK[c.state], c.attempts ? h('small', null, ` ${c.attempts}`) : null));
    }
    body.append(tr);
  }
  table.append(body);
}

async function loadProgress() {
  if (projector) return;
  const current = progressTurn();
  try {
    const m = await request('GET', `${base}/progress`);
    if (current()) renderProgress(m);
  } catch {
    /* 401 is shown by the wall */
  }
}

// ------------------------------------------------------------ live

const loaders = { predictions: loadPredictions, wall: loadWall, students: loadWall, progress: loadProgress };

function connect() {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const sock = new WebSocket(`${proto}://${location.host}/ws/rooms/${enc(code)}/class`);
  sock.onmessage = (msg) => {
    const frames = JSON.parse(msg.data);
    const what = new Set();
    for (const f of Array.isArray(frames) ? frames : [frames]) {
      for (const w of f.what || []) what.add(w);
      if ('shown' in f) renderShown(f.shown);
    }
    if (what.has('hello')) {
      Object.values(loaders).forEach((fn) => fn());
      return;
    }
    for (const w of new Set([...what].map((x) => loaders[x]).filter(Boolean))) w();
    if (what.has('show')) loadWall();
  };
  sock.onclose = (e) => {
    if (e.code === 4403) {
      $('class-signin').hidden = false;
      return;
    }
    setTimeout(connect, 1000); // catch up by fetching everything again on hello
  };
}

request('GET', '/api/lessons').then(async (list) => {
  lessons = list;
  for (const l of lessons) lessonSel.append(h('option', { value: l.id }, pick(l.title)));
  const pickFirst = new URLSearchParams(location.search).get('lesson');
  if (pickFirst) lessonSel.value = pickFirst;
  lessonSel.addEventListener('change', () => loadPredictions());
  connect();
});

const countBtn = $('class-count');
if (countBtn) countBtn.addEventListener('click', loadOutcomes);
setInterval(() => {
  // "stuck" is a matter of time passing, not of a new event
  if (lastWall && lastWall.students.some((w) => w.status === 'running')) loadWall();
}, 2000);
onLangChange(() => {
  if (lastPred) renderPredictions(lastPred);
  if (lastWall) renderWall(lastWall);
  if (lastProgress) renderProgress(lastProgress);
});
window.proclab = { reload: () => Object.values(loaders).forEach((fn) => fn()) };
