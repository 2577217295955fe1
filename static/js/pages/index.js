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
}).catch(() => {});

document.getElementById('room-create').addEventListener('click', async () => {
  try {
    const room = await api.createRoom();
    location.href = `/room/${encodeURIComponent(room.code)}`;
  } catch (err) {
    const d = err && err.detail;
    toast(t('run.controlFailed', { error: d && typeof d === 'object' ? pick(d) : (err.message || String(err)) }), { error: true });
  }
});
