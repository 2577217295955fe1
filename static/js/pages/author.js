// Instructor authoring on the lesson page (only when GET /api/me says
// instructor): Save (button, Ctrl/Cmd+S) puts the open file into the lesson
// (PUT /api/lessons/{id}/files/{name}: validated on a copy, 422 names the
// file and line), lesson.md in its own tab when the server serves its raw
// text, and "Check lesson" (POST /api/lessons/{id}/check) with each
// expectation ✓/✗ and a link to the check run's replay.
//
//   enableAuthoring({lesson, code, onReloaded}) -> {save(name), check(), state()}
//   lesson: the page's lesson object (updated in place after a save)
//   code: the code view (views/code.js)
//   onReloaded(lesson, savedFile): the server reloaded the lesson

import { api, lessonProblem } from '../api.js';
import { t, pick, onLangChange } from '../i18n.js';
import { h, clear, toast } from '../dom.js';
import { formatExpectation, describeExpectation, summarizeCheck } from '../model/expect.js';

function errText(err) {
  const d = err && err.detail;
  if (d && typeof d === 'object' && (d.en || d.zh)) return pick(d);
  if (d && typeof d === 'object' && typeof d.message === 'string') return d.message;
  return (err && err.message) || String(err);
}

export function enableAuthoring({ lesson, code, onReloaded = () => {} }) {
  const section = document.getElementById('author');
  const checkBtn = document.getElementById('author-check');
  const result = document.getElementById('author-result');
  if (!section || !code) return null;
  section.hidden = false;

  // ---- save ------------------------------------------------------------------
  let saving = false;

  async function save(name = code.activeFile()) {
    if (saving) return;
    const content = code.getFile(name);
    if (typeof content !== 'string') return;
    saving = true;
    code.setSaving(true);
    code.flashSaved('author.saving', { file: name });
    try {
      const res = await api.saveLessonFile(lesson.id, name, content);
      code.clearProblem();
      code.markSaved(name, content);
      code.flashSaved('author.savedShort');
      if (res && res.id && res.id !== lesson.id) {
        // the id in lesson.md changed: the lesson now lives at another address
        toast(t('author.renamed', { id: res.id }));
        setTimeout(() => location.assign(`/lessons/${encodeURIComponent(res.id)}`), 1200);
        return;
      }
      toast(t('author.saved', { file: name }));
      await reload(name);
    } catch (err) {
      code.flashSaved(null);
      const p = lessonProblem(err);
      if (p && err.status === 422) {
        code.showProblem({ file: p.file || name, line: p.line, message: p.message });
      } else {
        code.showProblem({ file: name, line: null, message: t('author.saveFailed', { file: name, error: errText(err) }), title: 'author.notSavedTitle' });
      }
    } finally {
      saving = false;
      code.setSaving(false);
    }
  }

  async function reload(savedName) {
    let fresh;
    try {
      fresh = await api.lesson(lesson.id);
    } catch {
      return;
    }
    Object.assign(lesson, fresh);
    code.setOriginals(fresh.files || {});
    if (check.data) check.stale = true; // the results were for the lesson before this save
    renderResult();
    onReloaded(lesson, savedName);
  }

  code.enableSaving((name) => save(name));
  // Ctrl+S / Cmd+S anywhere on the page saves the open file (not the browser's "save page")
  document.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && (e.key === 's' || e.key === 'S')) {
      e.preventDefault();
      save();
    }
  }, true);

  // ---- lesson.md, when the server serves the raw file ---------------------------
  api.lessonFile(lesson.id, 'lesson.md').then((r) => {
    if (r && typeof r.content === 'string') code.addFile('lesson.md', r.content, { run: false });
  }).catch(() => {
    /* 401/404: no raw lesson.md here, no tab */
  });

  // ---- check lesson --------------------------------------------------------------
  const check = { busy: false, data: null, error: null, stale: false, unsaved: false };

  // ✓ / ✗ / · for the eye, the word for screen readers (and as a tooltip)
  function mark(state) {
    const [glyph, key] = state === 'ok' ? ['✓', 'author.pass'] : state === 'fail' ? ['✗', 'author.fail'] : ['·', 'author.notChecked'];
    return h('span', { class: 'exp-mark', title: t(key) }, h('span', { 'aria-hidden': 'true' }, glyph), h('span', { class: 'exp-state sr-only' }, `${t(key)}: `));
  }

  function renderResult(focus = false) {
    clear(result);
    const data = check.data && !check.stale ? check.data : null;
    const items = data ? data.results || [] : (lesson.expect || []).map((e) => ({ expect: e, ok: null }));
    result.append(h('h3', { class: 'author-sub' }, t('author.expectations')));
    let summary = null;
    if (check.busy) {
      summary = h('p', { class: 'check-summary check-busy' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), t('author.checking'));
    } else if (check.error) {
      summary = h('p', { class: 'check-summary check-fail', tabindex: '-1' }, t('author.checkFailed', { error: check.error }));
    } else if (data) {
      const s = summarizeCheck(items);
      summary = h('p', { class: `check-summary ${s.ok ? 'check-ok' : 'check-fail'}`, tabindex: '-1' },
        h('span', { 'aria-hidden': 'true' }, s.ok ? '✓ ' : '✗ '),
        s.n === 0 ? t('author.noExpect') : s.ok ? t('author.allPass', { n: s.n }) : t('author.somePass', { failed: s.failed, n: s.n }));
    }
    if (summary) result.append(summary);
    if (data && check.unsaved) result.append(h('p', { class: 'check-note' }, t('author.unsaved')));
    if (!items.length) {
      if (!data) result.append(h('p', { class: 'check-note' }, t('author.noExpect')));
    } else {
      const list = h('ol', { class: 'expect-list' });
      for (const r of items) {
        const state = r.ok === true ? 'ok' : r.ok === false ? 'fail' : 'pending';
        const words = describeExpectation(r.expect, t);
        list.append(h('li', { class: `exp exp-${state}` },
          mark(state),
          h('span', { class: 'exp-body' },
            words ? h('span', { class: 'exp-words' }, words) : null,
            h('code', { class: 'exp-code' }, formatExpectation(r.expect)))));
      }
      result.append(list);
    }
    if (data && data.run) {
      result.append(h('p', { class: 'check-run' }, h('a', { href: `/runs/${encodeURIComponent(data.run)}` }, `${t('author.checkRun')} →`)));
    }
    if (focus && summary && summary.hasAttribute('tabindex')) summary.focus();
  }

  async function runCheck() {
    if (check.busy) return;
    check.busy = true;
    check.error = null;
    checkBtn.disabled = true;
    result.setAttribute('aria-busy', 'true');
    renderResult();
    try {
      check.data = await api.checkLesson(lesson.id);
      check.stale = false;
      check.unsaved = code.isEdited();
    } catch (err) {
      check.data = null;
      check.error = errText(err);
    } finally {
      check.busy = false;
      checkBtn.disabled = false;
      result.removeAttribute('aria-busy');
      renderResult(true);
    }
  }

  checkBtn.addEventListener('click', runCheck);
  onLangChange(() => renderResult());
  renderResult();

  return { save, check: runCheck, state: () => ({ saving, check: { ...check } }) };
}
