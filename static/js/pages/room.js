// Classroom room (/room/{code}): every student sees the instructor's runs
// live, with the same views; the instructor starts runs for the class and
// controls them (stop, pause, step, slow motion, signals).

import { initPage } from './common.js';
import { t, pick, getLang, onLangChange } from '../i18n.js';
import { api, request } from '../api.js';
import { RunStream } from '../stream.js';
import { createWorkspace } from '../workspace.js';
import { h, clear, toast } from '../dom.js';
import { icon } from '../icons.js';
import { importSvg } from '../safesvg.js';

initPage();

const data = (id) => {
  const el = document.getElementById(id);
  try {
    return el ? JSON.parse(el.textContent || 'null') : null;
  } catch {
    return null;
  }
};
const room = data('room-data') || {};
const instructor = data('room-role') === true;
const $ = (id) => document.getElementById(id);

const runs = new Map(); // id -> {id, n, lesson, events, lastSeq, finished}
let selected = null;
let follow = true;
const lessonInfo = new Map(); // lesson id -> Promise<lesson>
const pace = { paused: false, step: false, slow: false };

function errText(err) {
  const d = err && err.detail;
  if (d && typeof d === 'object') return pick(d);
  return (err && err.message) || String(err);
}

function selectedRun() {
  return selected ? runs.get(selected) : null;
}

function isActive(rec) {
  return !!(rec && !rec.finished);
}

const ws = createWorkspace(document.querySelector('.workspace'), {
  files: {},
  readOnly: true,
  hooks: {
    isRunning: () => isActive(selectedRun()),
    canSignal: () => instructor && isActive(selectedRun()),
    async sendSignal(pid, signal) {
      const rec = selectedRun();
      if (!instructor || !isActive(rec)) {
        toast(t('proc.notRunning'), { error: true });
        return;
      }
      try {
        await api.signal(rec.id, pid, signal);
        toast(t('proc.signalSent', { signal, pid }));
      } catch (err) {
        toast(t('proc.signalFailed', { signal, pid, error: errText(err) }), { error: true });
      }
    },
    onEvents() {
      renderControls();
    },
  },
});

function lesson(id) {
  if (!id) return Promise.resolve(null);
  if (!lessonInfo.has(id)) lessonInfo.set(id, api.lesson(id).catch(() => null));
  return lessonInfo.get(id);
}

function ensureRun(id) {
  let rec = runs.get(id);
  if (!rec) {
    rec = { id, n: runs.size + 1, lesson: null, events: [], lastSeq: -1, finished: false, title: null };
    runs.set(id, rec);
    api.run(id).then((info) => {
      if (info && info.lesson && !rec.lesson) {
        rec.lesson = info.lesson;
        if (info.status === 'finished') rec.finished = true;
        renderRuns();
        if (selected === id) showCode(rec);
      }
    }).catch(() => {});
    renderRuns();
    if (follow) select(id);
  }
  return rec;
}

function receive(events) {
  const byRun = new Map();
  for (const ev of events) {
    const id = ev.run;
    if (!id) continue;
    const rec = ensureRun(id);
    if (Number.isFinite(ev.seq)) {
      if (ev.seq <= rec.lastSeq) continue;
      rec.lastSeq = ev.seq;
    }
    rec.events.push(ev);
    if (ev.type === 'run.started' && ev.lesson && !rec.lesson) {
      rec.lesson = ev.lesson;
      if (selected === id) showCode(rec);
    }
    if (ev.type === 'run.finished') rec.finished = true;
    if (!byRun.has(id)) byRun.set(id, []);
    byRun.get(id).push(ev);
  }
  for (const [id, list] of byRun) if (id === selected) ws.feed(list);
  renderRuns();
  renderControls();
}

async function showCode(rec) {
  const l = await lesson(rec.lesson);
  if (selected !== rec.id || !l || !ws.views.code) return;
  ws.views.code.setFiles(l.files || {}, l.main || 'main.py');
}

function select(id) {
  if (selected === id) return;
  selected = id;
  const rec = runs.get(id);
  ws.reset();
  if (rec) {
    ws.feed(rec.events);
    showCode(rec);
  }
  pace.paused = false;
  renderRuns();
  renderControls();
}

const list = $('room-runs');
const none = $('room-none');
let lessonTitles = new Map();

function renderRuns() {
  clear(list);
  none.hidden = runs.size > 0;
  for (const rec of [...runs.values()].reverse()) {
    const title = lessonTitles.get(rec.lesson);
    const btn = h('button', {
      type: 'button',
      class: `room-run${rec.id === selected ? ' on' : ''}`,
      'aria-pressed': rec.id === selected ? 'true' : 'false',
      onclick: () => {
        follow = false;
        $('room-follow').checked = false;
        select(rec.id);
      },
    },
    h('span', { class: 'room-run-title' }, t('room.run', { n: rec.n, lesson: title ? pick(title) : (rec.lesson || '…') })),
    h('span', { class: `room-run-state${rec.finished ? '' : ' live'}` }, rec.finished ? t('status.finished') : t('room.live')));
    list.append(h('li', null, btn));
  }
}

$('room-follow').addEventListener('change', (e) => {
  follow = e.target.checked;
  if (follow && runs.size) select([...runs.keys()].pop());
});
$('room-copy').addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText(room.url);
    toast(t('room.copied'));
  } catch {
    /* no clipboard permission: the link is on screen */
  }
});

// ---- joining: QR code, code and link, who is connected ---------------------
function showQr(box) {
  if (!box) return;
  const svg = importSvg(room.qr_svg);
  if (!svg) return;
  svg.setAttribute('aria-hidden', 'true');
  svg.classList.add('qr-svg');
  box.replaceChildren(svg);
  box.hidden = false;
}
showQr($('room-qr'));

let streamOpen = false; // this page's own room connection
let clients = null; // students connected: the server does not count instructors' connections

function clientsText() {
  if (clients == null) return '';
  if (!instructor) return t('room.clients', { n: clients });
  const n = clients;
  return n === 1 ? t('room.student1') : t('room.students', { n });
}

function showClients() {
  const s = clientsText();
  for (const el of [$('room-clients'), $('projector-clients')]) if (el && el.textContent !== s) el.textContent = s;
}
onLangChange(showClients);

async function refreshInfo() {
  if (document.hidden && clients != null) return;
  try {
    const info = await api.room(room.code);
    clients = info.clients ?? 0;
    showClients();
  } catch {
    /* ignore: the next poll tries again */
  }
}
refreshInfo();
setInterval(refreshInfo, instructor ? 2000 : 10000);

// the projector view (instructor): QR code, link and code as large as the screen allows
const projector = $('room-projector');
if (projector && $('room-project')) {
  showQr($('projector-qr'));
  const opener = $('room-project');
  opener.addEventListener('click', () => {
    if (typeof projector.showModal === 'function') projector.showModal();
    else projector.setAttribute('open', '');
    $('projector-close').focus();
  });
  projector.addEventListener('close', () => opener.focus());
  // a click on the backdrop closes it too
  projector.addEventListener('click', (e) => {
    if (e.target === projector) projector.close();
  });
}

// lesson titles for the run list and the instructor's menu
request('GET', '/api/lessons').then((lessons) => {
  lessonTitles = new Map(lessons.map((l) => [l.id, l.title]));
  renderRuns();
  const sel = $('room-lesson');
  if (sel) {
    const fill = () => {
      const cur = sel.value;
      clear(sel);
      for (const l of lessons) sel.append(h('option', { value: l.id }, pick(l.title)));
      if (cur) sel.value = cur;
    };
    fill();
    onLangChange(fill);
  }
}).catch(() => {});
onLangChange(renderRuns);

// ---- instructor controls ---------------------------------------------------
const ui = {
  run: $('btn-run'), stop: $('btn-stop'), pause: $('btn-pause'), stepMode: $('btn-stepmode'),
  step: $('btn-step'), slow: $('btn-slow'), status: $('run-status'), link: $('run-link'),
  export: $('run-export'),
};

function setAttr(el, name, value) {
  if (el && el.getAttribute(name) !== value) el.setAttribute(name, value);
}

function renderControls() {
  const rec = selectedRun();
  const active = isActive(rec);
  if (ui.status) {
    const s = !rec ? t('status.idle') : active ? (pace.paused ? t('pace.paused') : t('pace.normal')) : t('status.finished');
    if (ui.status.textContent !== s) ui.status.textContent = s;
    setAttr(ui.status, 'data-phase', !rec ? 'idle' : active ? 'running' : 'finished');
  }
  if (ui.export) {
    // a finished run of the room can be downloaded as a recording
    ui.export.hidden = !(rec && rec.finished);
    if (rec) setAttr(ui.export, 'href', api.exportUrl(rec.id));
  }
  if (!instructor || !ui.run) return;
  ui.stop.disabled = !active;
  ui.pause.disabled = !active;
  ui.step.disabled = !(active && pace.step);
  setAttr(ui.pause, 'aria-pressed', pace.paused ? 'true' : 'false');
  setAttr(ui.stepMode, 'aria-pressed', pace.step ? 'true' : 'false');
  setAttr(ui.slow, 'aria-pressed', pace.slow ? 'true' : 'false');
  const slot = ui.pause.querySelector('.icon-slot');
  if (slot && slot.dataset.icon !== String(pace.paused)) {
    slot.dataset.icon = String(pace.paused);
    slot.replaceChildren(icon(pace.paused ? 'play' : 'pause'));
  }
  const span = ui.pause.querySelector('[data-i18n]');
  const key = pace.paused ? 'ctl.resume' : 'ctl.pause';
  if (span && span.dataset.i18n !== key) {
    span.dataset.i18n = key;
    span.textContent = t(key);
  }
  if (rec) {
    ui.link.href = `/runs/${encodeURIComponent(rec.id)}`;
    ui.link.hidden = false;
  }
}

async function control(fn) {
  const rec = selectedRun();
  if (!rec) return;
  try {
    await fn(rec.id);
  } catch (err) {
    toast(t('run.controlFailed', { error: errText(err) }), { error: true });
  }
  renderControls();
}

function mode() {
  return pace.paused ? 'paused' : pace.step ? 'step' : pace.slow ? 'slow' : 'normal';
}

async function startRun(e) {
  if (e) e.preventDefault();
  const sel = $('room-lesson');
  if (!sel || !sel.value) return;
  try {
    const info = await request('POST', `/api/rooms/${encodeURIComponent(room.code)}/runs`, { lesson: sel.value });
    const rec = ensureRun(info.id);
    if (!rec.lesson) {
      rec.lesson = sel.value;
      showCode(rec);
    }
    follow = true;
    $('room-follow').checked = true;
    select(info.id);
    if (pace.step || pace.slow) control((id) => api.pace(id, mode(), pace.slow ? 400 : 0));
  } catch (err) {
    toast(t('run.failed', { error: errText(err) }), { error: true, ms: 8000 });
  }
}

if (instructor && ui.run) {
  $('room-start').addEventListener('submit', startRun);
  ui.run.addEventListener('click', startRun);
  ui.stop.addEventListener('click', () => control((id) => api.stop(id)));
  const sendPace = () => control((id) => api.pace(id, mode(), pace.slow ? 400 : 0));
  ui.pause.addEventListener('click', () => { pace.paused = !pace.paused; sendPace(); });
  ui.stepMode.addEventListener('click', () => { pace.step = !pace.step; sendPace(); });
  ui.slow.addEventListener('click', () => { pace.slow = !pace.slow; sendPace(); });
  ui.step.addEventListener('click', () => control((id) => api.step(id)));
}

// ---- the classroom stream --------------------------------------------------
new RunStream({
  runId: room.code,
  dedupe: false,
  endOnFinish: false,
  urlFor: (code) => {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    // web: a reconnect resumes after the last seq of each run seen (the server closes a client too slow)
    const seen = [...runs.values()].filter((r) => r.lastSeq >= 0).map((r) => `${r.id}:${r.lastSeq}`);
    const after = seen.length ? `?after=${encodeURIComponent(seen.join(','))}` : '';
    return `${proto}//${location.host}/ws/rooms/${encodeURIComponent(code)}${after}`;
  },
  onEvents: receive,
  onStatus: (st) => {
    streamOpen = st === 'open';
    showClients();
  },
}).start();

renderRuns();
renderControls();
void getLang;
window.proclab = { ws, runs, select };
