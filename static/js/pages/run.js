// Replay page of a recorded run (/runs/{id}): the same views, a timeline to
// scrub; follows the run live if it is still going.

import { initPage } from './common.js';
import { t, onLangChange } from '../i18n.js';
import { api } from '../api.js';
import { RunStream } from '../stream.js';
import { createWorkspace } from '../workspace.js';
import { mount as mountQuestions } from '../views/questions.js';
import { toast } from '../dom.js';

initPage();

const data = (id) => {
  const el = document.getElementById(id);
  try {
    return el ? JSON.parse(el.textContent || 'null') : null;
  } catch {
    return null;
  }
};
const runInfo = data('run-data') || {};
const lesson = data('lesson-data');
const root = document.querySelector('.workspace');
const status = document.getElementById('run-status');
let following = false;

const files = runInfo.files && Object.keys(runInfo.files).length ? runInfo.files : (lesson && lesson.files) || {};
const ws = createWorkspace(root, {
  files,
  main: (lesson && lesson.main) || 'main.py',
  readOnly: true,
  hooks: {
    isRunning: () => following,
    canSignal: () => false,
    async sendSignal() {
      toast(t('proc.notRunning'), { error: true });
    },
    onEvents(events, state) {
      if (state.finished && following) {
        following = false;
        showStatus();
        loadAnswers();
      }
    },
  },
});

const qEl = document.getElementById('questions');
const questions = qEl ? mountQuestions(qEl, { lesson: lesson || { id: runInfo.lesson, questions: [] }, readOnly: true }) : null;

const exportLink = document.getElementById('run-export');

function showStatus() {
  // the recording can be downloaded once the run has finished (409 before)
  if (exportLink) exportLink.hidden = following;
  if (!status) return;
  status.textContent = following ? t('pace.normal') : t('status.replay');
  status.dataset.phase = following ? 'running' : 'finished';
}
onLangChange(showStatus);

async function loadAnswers() {
  if (!questions) return;
  const fin = ws.live.finished;
  let answers = runInfo.answers || (fin && fin.answers);
  if (!answers) {
    try {
      answers = (await api.run(runInfo.id)).answers;
    } catch {
      answers = null;
    }
  }
  questions.showAnswers(answers || {});
}

async function load() {
  if (status) status.textContent = t('status.loading');
  if (exportLink) exportLink.hidden = runInfo.status !== 'finished';
  try {
    const events = await api.events(runInfo.id);
    ws.feed(events);
    seekToEvidence(); // classroom: a goal's evidence link (?seq=N) opens the replay at that event
  } catch (err) {
    toast(t('replay.loadFailed', { error: err.message || String(err) }), { error: true, ms: 10000 });
  }
  if (!ws.live.finished && runInfo.status !== 'finished') {
    following = true;
    new RunStream({
      runId: runInfo.id,
      after: ws.timeline.lastSeq,
      poll: (after) => api.events(runInfo.id, after),
      onEvents: (ev) => ws.feed(ev),
    }).start();
  } else {
    loadAnswers();
  }
  showStatus();
}

function seekToEvidence() {
  const raw = new URLSearchParams(location.search).get('seq');
  if (raw === null) return;
  const i = ws.timeline.events.findIndex((e) => e.seq === Number(raw));
  if (i >= 0) ws.seekCount(i + 1);
}

load();
window.proclab = { ws };
