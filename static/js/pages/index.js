// Lesson list page; instructors also get "start a classroom".
import { initPage } from './common.js';
import { inlineCode, toast } from '../dom.js';
import { api } from '../api.js';
import { t, pick } from '../i18n.js';

initPage();
for (const el of document.querySelectorAll('.lesson-summary [data-l], .lesson-title [data-l]')) inlineCode(el);

const box = document.getElementById('instructor-box');
api.me().then((me) => {
  if (!me || !me.instructor_enabled) return;
  box.hidden = false;
  document.getElementById('instructor-signin').hidden = !!me.instructor;
  document.getElementById('room-create').hidden = !me.instructor;
  document.getElementById('instructor-signout').hidden = !me.instructor;
  document.getElementById('import-box').hidden = !me.instructor;
}).catch(() => {});

// ---- import a recording (instructors): the file goes as it is to the server
const importButton = document.getElementById('import-button');
const importFile = document.getElementById('import-file');
const importStatus = document.getElementById('import-status');

function importMessage(text, error) {
  importStatus.hidden = !text;
  importStatus.textContent = text || '';
  importStatus.classList.toggle('error', !!error);
  importStatus.setAttribute('role', error ? 'alert' : 'status');
}

importButton.addEventListener('click', () => importFile.click());
importFile.addEventListener('change', async () => {
  const file = importFile.files && importFile.files[0];
  if (!file) return;
  importButton.disabled = true;
  importMessage(t('import.busy', { name: file.name }), false);
  try {
    const res = await api.importRun(file);
    location.href = `/runs/${encodeURIComponent(res.id)}`;
  } catch (err) {
    // 422 names the line of the recording that is wrong
    importMessage(t('import.failed', { error: errorText(err) }), true);
    importButton.disabled = false;
    importButton.focus();
  } finally {
    importFile.value = '';
  }
});

function errorText(err) {
  const d = err && err.detail;
  if (d && typeof d === 'object') return pick(d);
  return (err && err.message) || String(err);
}

document.getElementById('room-create').addEventListener('click', async () => {
  try {
    const room = await api.createRoom();
    location.href = `/room/${encodeURIComponent(room.code)}`;
  } catch (err) {
    const d = err && err.detail;
    toast(t('run.controlFailed', { error: d && typeof d === 'object' ? pick(d) : (err.message || String(err)) }), { error: true });
  }
});
