// Code: the scenario files in a vendored CodeMirror 5 editor (a plain
// textarea when it is missing), one tab per file, edits kept in
// localStorage; each live process's last traced line marked in its colour.
//   mount(element, ctx) -> {update, seek, reset, getFiles(), isEdited(), refresh(), …}
// ctx: {files, main, readOnly, storageKey, onRun}
//
// Instructors (the lesson page calls enableSaving(onSave)) also get a Save
// button, files that are not run (addFile: lesson.md), the saved text as the
// new original (markSaved, setOriginals) and a problem banner with the line
// marked in the editor (showProblem, clearProblem).

import { h, text, clear } from '../dom.js';
import { t, onLangChange } from '../i18n.js';
import { schedule, scheduleAtMost } from '../frame.js';
import { pidClass } from '../colors.js';
import { icon } from '../icons.js';

// The editor's mode follows the file: CodeMirror 5's python and clike (C) modes.
const MODES = [
  [/\.py$/, 'python'],
  [/\.[ch]$/, 'text/x-csrc'],
];
export function modeFor(name) {
  const hit = MODES.find(([re]) => re.test(name));
  return hit ? hit[1] : 'text/plain';
}

// gcc's diagnostics (run.compile) shown in the editor: at most this many line marks.
const MAX_DIAG_MARKS = 50;
const SEVERITY_MARK = { error: ['line-error', '✗'], warning: ['line-warning', '⚠'], note: ['line-note', 'ℹ'] };

function load(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}
function save(key, value) {
  try {
    if (value == null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    /* ignore */
  }
}

export function orderFiles(files, main) {
  const names = Object.keys(files || {});
  names.sort((a, b) => (a === main ? -1 : b === main ? 1 : a.localeCompare(b)));
  return names;
}

export function mount(el, ctx) {
  el.classList.add('view-code');
  const original = { ...(ctx.files || {}) };
  const main = ctx.main || 'main.py';
  const names = orderFiles(original, main);
  const notRun = new Set(); // files shown but not sent to a run (lesson.md)
  const current = {};
  for (const n of names) {
    const saved = ctx.readOnly || !ctx.storageKey ? null : load(`${ctx.storageKey}.${n}`);
    current[n] = saved != null ? saved : original[n];
  }
  let active = names[0] || main;

  const tabs = h('div', { class: 'code-tabs', role: 'tablist', 'aria-label': t('code.title') });
  const edited = h('span', { class: 'code-edited', hidden: true }, t('code.edited'));
  const resetBtn = ctx.readOnly ? null : h('button', { type: 'button', class: 'btn btn-ghost btn-small', title: t('code.resetLabel'), 'aria-label': t('code.resetLabel') }, t('code.reset'));
  const keys = ctx.readOnly ? null : h('span', { class: 'code-keys', id: `code-keys-${Math.random().toString(36).slice(2, 8)}` }, t('code.keys'));
  const bar = h('div', { class: 'code-bar' }, tabs, edited, keys, resetBtn);
  const host = h('div', { class: 'code-host' });
  const problemBox = h('div', { class: 'code-problem', role: 'alert', hidden: true });
  const compileNote = h('span', { class: 'code-compile', role: 'status', hidden: true });
  bar.insertBefore(compileNote, keys || resetBtn);
  el.append(bar, problemBox, host);

  const CM = typeof window !== 'undefined' ? window.CodeMirror : null;
  let cm = null;
  let ta = null;
  const docs = {};
  if (CM) {
    cm = CM(host, {
      value: current[active] ?? '',
      mode: modeFor(active),
      lineNumbers: true,
      indentUnit: 4,
      tabSize: 4,
      indentWithTabs: false,
      readOnly: ctx.readOnly ? 'nocursor' : false,
      matchBrackets: true,
      styleActiveLine: !ctx.readOnly,
      viewportMargin: Infinity,
      gutters: ['proc-gutter', 'CodeMirror-linenumbers'],
      extraKeys: {
        'Ctrl-Enter': () => ctx.onRun && ctx.onRun(),
        'Cmd-Enter': () => ctx.onRun && ctx.onRun(),
        Tab: (c) => (c.somethingSelected() ? c.indentSelection('add') : c.replaceSelection('    ')),
        Esc: (c) => c.getInputField().blur(),
      },
    });
    for (const n of names) docs[n] = CM.Doc(current[n] ?? '', modeFor(n));
    if (names.length) cm.swapDoc(docs[active]);
    cm.getInputField().setAttribute('aria-label', t('code.editorLabel', { file: active }));
    if (keys) cm.getInputField().setAttribute('aria-describedby', keys.id);
    cm.on('change', () => {
      current[active] = cm.getValue();
      persist(active);
    });
  } else {
    ta = h('textarea', { class: 'code-fallback', spellcheck: 'false', 'aria-label': t('code.editorLabel', { file: active }), readonly: ctx.readOnly ? true : undefined });
    ta.value = current[active] ?? '';
    ta.addEventListener('input', () => {
      current[active] = ta.value;
      persist(active);
    });
    ta.addEventListener('keydown', (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key === 'Enter' && ctx.onRun) ctx.onRun();
    });
    host.append(ta);
  }

  function persist(name) {
    if (ctx.readOnly || !ctx.storageKey) return;
    save(`${ctx.storageKey}.${name}`, current[name] === original[name] ? null : current[name]);
    showEdited();
  }

  function isEdited() {
    return names.some((n) => current[n] !== original[n]);
  }

  const dirty = (n) => current[n] !== original[n];

  function showEdited() {
    edited.hidden = !isEdited();
    for (const b of tabs.children) {
      const n = b.dataset.file;
      const d = dirty(n);
      if (b.classList.contains('dirty') !== d) b.classList.toggle('dirty', d);
      const label = d ? t('code.changed', { file: n }) : null;
      if (label) b.setAttribute('aria-label', label);
      else b.removeAttribute('aria-label');
    }
  }

  function buildTabs() {
    clear(tabs);
    if (names.length < 1) return;
    for (const n of names) {
      const b = h('button', {
        type: 'button',
        role: 'tab',
        class: `code-tab${notRun.has(n) ? ' code-tab-doc' : ''}`,
        'aria-selected': n === active ? 'true' : 'false',
        tabindex: n === active ? '0' : '-1',
        title: notRun.has(n) ? t('author.lessonTab') : undefined,
        dataset: { file: n },
        onclick: () => select(n),
      }, n);
      b.addEventListener('keydown', (e) => {
        if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
        const i = names.indexOf(n);
        const next = names[(i + (e.key === 'ArrowRight' ? 1 : -1) + names.length) % names.length];
        select(next);
        tabs.querySelector(`[data-file="${CSS.escape(next)}"]`)?.focus();
      });
      tabs.append(b);
    }
    showEdited();
  }

  function select(n) {
    if (n === active) return;
    active = n;
    if (cm) {
      cm.swapDoc(docs[n]);
      cm.getInputField().setAttribute('aria-label', t('code.editorLabel', { file: n }));
    } else {
      ta.value = current[n] ?? '';
    }
    lastMarks = new Map();
    marked = [];
    buildTabs();
    labelSave();
    schedule(render);
  }

  if (resetBtn) {
    resetBtn.addEventListener('click', () => {
      for (const n of names) {
        current[n] = original[n];
        if (docs[n]) docs[n].setValue(original[n] ?? '');
        save(`${ctx.storageKey}.${n}`, null);
      }
      if (ta) ta.value = current[active] ?? '';
      showEdited();
    });
  }

  buildTabs();
  showEdited();
  onLangChange(() => {
    text(edited, t('code.edited'));
    if (keys) text(keys, t(saving ? 'code.keysAuthor' : 'code.keys'));
    if (saving) {
      labelSave();
      if (saving.flash) text(saving.status, t(saving.flash.key, saving.flash.params));
    }
    if (problem) renderProblem();
    if (compiled) showCompile(compiled);
    buildTabs();
    if (resetBtn) {
      text(resetBtn, t('code.reset'));
      resetBtn.setAttribute('title', t('code.resetLabel'));
      resetBtn.setAttribute('aria-label', t('code.resetLabel'));
    }
    if (cm) cm.getInputField().setAttribute('aria-label', t('code.editorLabel', { file: active }));
  });

  // ---- instructors: save, files that are not run, problems at a line -------
  let saving = null; // {button, status, onSave} once enableSaving() was called
  let problem = null; // {file, line, message}
  let problemMarks = []; // [{doc, handle, widget}]
  let savedTimer = null;

  function labelSave() {
    if (!saving) return;
    text(saving.label, t('author.save'));
    saving.button.setAttribute('title', t('author.saveLabel', { file: active }));
    saving.button.setAttribute('aria-label', t('author.saveLabel', { file: active }));
  }

  /** A short status next to the Save button ("Saving main.py…", "Saved"); null clears it. */
  function flash(key = 'author.savedShort', params = undefined) {
    if (!saving) return;
    saving.flash = key ? { key, params } : null;
    text(saving.status, key ? t(key, params) : '');
    clearTimeout(savedTimer);
    if (key) savedTimer = setTimeout(() => flash(null), 4000);
  }

  function clearMarks() {
    for (const m of problemMarks) {
      try {
        m.doc.removeLineClass(m.handle, 'wrap', 'line-error');
        m.widget.clear();
      } catch {
        /* the line is gone */
      }
    }
    problemMarks = [];
  }

  function markLine() {
    clearMarks();
    if (!cm || !problem || !problem.line || !docs[problem.file]) return;
    const doc = docs[problem.file];
    const ln = Math.min(problem.line, doc.lineCount()) - 1;
    const handle = doc.addLineClass(ln, 'wrap', 'line-error');
    const note = h('div', { class: 'line-error-note' }, h('span', { 'aria-hidden': 'true' }, '✗ '), problem.message);
    const widget = doc.addLineWidget(ln, note, { noHScroll: true });
    problemMarks.push({ doc, handle, widget });
    // the mark goes away with the first edit of that file; the banner stays
    const off = () => {
      doc.off('change', off);
      clearMarks();
    };
    doc.on('change', off);
    if (cm.getDoc() === doc) cm.scrollIntoView({ line: ln, ch: 0 }, 80);
  }

  function goToLine() {
    if (!problem) return;
    if (names.includes(problem.file)) select(problem.file);
    if (cm && problem.line) {
      const ln = Math.min(problem.line, cm.lineCount()) - 1;
      cm.setCursor({ line: ln, ch: 0 });
      cm.scrollIntoView({ line: ln, ch: 0 }, 80);
    }
    if (cm) cm.focus();
    else if (ta) ta.focus();
  }

  function renderProblem() {
    clear(problemBox);
    problemBox.hidden = !problem;
    if (!problem) return;
    const where = problem.line ? t('author.problemAt', { file: problem.file, line: problem.line }) : problem.file;
    problemBox.append(
      h('span', { class: 'code-problem-icon', 'aria-hidden': 'true' }, '✗'),
      h('div', { class: 'code-problem-body' },
        h('p', { class: 'code-problem-msg' },
          h('strong', { class: 'code-problem-title' }, t(problem.title)), ' ',
          h('code', { class: 'code-problem-where' }, where), ' ', problem.message),
        problem.title === 'author.problemTitle' ? h('p', { class: 'code-problem-note' }, t('author.notSaved')) : null),
      h('div', { class: 'code-problem-actions' },
        problem.line && names.includes(problem.file)
          ? h('button', { type: 'button', class: 'btn btn-small', onclick: goToLine }, t('author.goToLine', { line: problem.line }))
          : null,
        h('button', { type: 'button', class: 'btn btn-small btn-ghost', onclick: () => clearProblem(true) }, t('author.dismiss'))),
    );
  }

  function clearProblem(focusEditor = false) {
    problem = null;
    clearMarks();
    renderProblem();
    if (focusEditor) {
      if (cm) cm.focus();
      else if (ta) ta.focus();
    }
  }

  // ---- C programs: gcc's diagnostics at their file and line ------------------
  let compiled = null; // the last run.compile event
  let diagMarks = []; // [{doc, handle, cls, widget}]

  function clearDiagnostics() {
    for (const m of diagMarks) {
      try {
        m.doc.removeLineClass(m.handle, 'wrap', m.cls);
        m.widget.clear();
      } catch {
        /* the line is gone */
      }
    }
    diagMarks = [];
  }

  function showCompile(ev) {
    compiled = ev;
    clearDiagnostics();
    const diags = Array.isArray(ev.diagnostics) ? ev.diagnostics : [];
    compileNote.hidden = false;
    compileNote.classList.toggle('code-compile-failed', !ev.ok);
    text(compileNote, t(ev.ok ? 'c.compiled' : 'c.notCompiled', { errors: ev.errors || 0, warnings: ev.warnings || 0, ms: ev.duration_ms || 0 }));
    if (cm) {
      for (const d of diags.slice(0, MAX_DIAG_MARKS)) {
        const doc = docs[d.file];
        if (!doc || !d.line) continue;
        const [cls, sign] = SEVERITY_MARK[d.severity] || SEVERITY_MARK.error;
        const ln = Math.min(d.line, doc.lineCount()) - 1;
        const handle = doc.addLineClass(ln, 'wrap', cls);
        const where = d.col ? `${d.line}:${d.col}` : `${d.line}`;
        const note = h('div', { class: `${cls}-note` }, h('span', { 'aria-hidden': 'true' }, `${sign} `),
          `${t(`c.severity.${d.severity}`)} (${where}): ${d.message}`);
        diagMarks.push({ doc, handle, cls, widget: doc.addLineWidget(ln, note, { noHScroll: true }) });
      }
    }
    const first = diags.find((d) => d.severity === 'error') || null;
    if (!ev.ok) {
      // the banner names the first error, with a button to its line; the run did not start
      const message = first ? first.message : t('c.noDetail');
      problem = { file: (first && first.file) || active, line: (first && first.line) || null, message, title: 'c.compileFailed' };
      if (names.includes(problem.file)) select(problem.file);
      renderProblem();
      if (cm && problem.line && cm.getDoc() === docs[problem.file]) cm.scrollIntoView({ line: problem.line - 1, ch: 0 }, 80);
    } else if (problem && problem.title === 'c.compileFailed') {
      clearProblem(false);
    }
  }

  function resetCompile() {
    compiled = null;
    clearDiagnostics();
    compileNote.hidden = true;
    if (problem && problem.title === 'c.compileFailed') clearProblem(false);
  }

  // line markers
  let marked = []; // [{line, cls}]
  let lastMarks = new Map();

  function render() {
    if (!cm) return;
    const st = ctx.state();
    const marks = new Map(); // line (0-based) -> [proc]
    for (const pid of st.order) {
      const p = st.procs.get(pid);
      if (!p || p.exited || !p.line || p.line.file !== active) continue;
      const ln = p.line.line - 1;
      if (ln < 0 || ln >= cm.lineCount()) continue;
      if (!marks.has(ln)) marks.set(ln, []);
      marks.get(ln).push(p);
    }
    const key = (m) => [...m.entries()].map(([l, ps]) => `${l}:${ps.map((p) => p.pid).join('.')}`).join(',');
    if (key(marks) === key(lastMarks)) return;
    lastMarks = marks;
    cm.operation(() => {
      for (const m of marked) {
        cm.removeLineClass(m.line, 'background', m.cls);
        cm.setGutterMarker(m.line, 'proc-gutter', null);
      }
      marked = [];
      for (const [ln, ps] of marks) {
        const cls = `line-hot ${pidClass(ps[0])}`;
        cm.addLineClass(ln, 'background', cls);
        const marker = h('span', { class: 'gutter-pids' },
          ps.slice(0, 3).map((p) => h('span', { class: `pid-dot ${pidClass(p)}`, title: t('proc.details', { pid: p.pid }) }, String(p.pid))),
          ps.length > 3 ? h('span', { class: 'pid-more' }, `+${ps.length - 3}`) : null);
        cm.setGutterMarker(ln, 'proc-gutter', marker);
        marked.push({ line: ln, cls });
      }
    });
  }

  render.profileName = 'code';
  return {
    update(events) {
      for (const ev of events || []) if (ev && ev.type === 'run.compile') showCompile(ev);
      scheduleAtMost(render, 150);
    },
    seek() {
      schedule(render);
    },
    reset() {
      lastMarks = new Map();
      resetCompile();
      schedule(render);
    },
    getFiles() {
      // what a run gets: every scenario file, not lesson.md
      const out = {};
      for (const n of names) if (!notRun.has(n)) out[n] = current[n];
      return out;
    },
    isEdited,
    activeFile: () => active,
    getFile: (name) => current[name],
    hasFile: (name) => names.includes(name),
    selectFile(name) {
      if (names.includes(name)) select(name);
    },
    /** Instructors: a Save button (and its hint); onSave(name) saves the shown file. */
    enableSaving(onSave) {
      if (saving || ctx.readOnly) return;
      const label = h('span', null, t('author.save'));
      const button = h('button', { type: 'button', class: 'btn btn-small btn-primary code-save', 'aria-keyshortcuts': 'Control+S Meta+S', onclick: () => onSave(active) }, icon('save', 16), label);
      const status = h('span', { class: 'code-saved', role: 'status', 'aria-live': 'polite' });
      saving = { button, label, status, onSave };
      bar.insertBefore(button, resetBtn);
      bar.insertBefore(status, button);
      if (keys) text(keys, t('code.keysAuthor'));
      labelSave();
    },
    setSaving(on) {
      if (saving) saving.button.disabled = !!on;
    },
    flashSaved: flash,
    /** A file shown in a tab but never sent to a run (lesson.md). */
    addFile(name, content, { run = false } = {}) {
      if (names.includes(name)) return;
      if (!run) notRun.add(name);
      original[name] = content;
      const saved = ctx.readOnly || !ctx.storageKey ? null : load(`${ctx.storageKey}.${name}`);
      current[name] = saved != null ? saved : content;
      names.push(name);
      if (cm && CM) docs[name] = CM.Doc(current[name], modeFor(name));
      buildTabs();
    },
    /** The text now saved on the server becomes the original of a file. */
    markSaved(name, content) {
      original[name] = content;
      persist(name);
      showEdited();
    },
    /** New originals (the reloaded lesson); files not edited here show them. */
    setOriginals(files) {
      for (const [n, content] of Object.entries(files || {})) {
        if (!names.includes(n) || typeof content !== 'string') continue;
        const untouched = current[n] === original[n];
        original[n] = content;
        if (untouched && current[n] !== content) {
          current[n] = content;
          if (docs[n]) docs[n].setValue(content);
          if (ta && n === active) ta.value = content;
        }
        persist(n);
      }
      showEdited();
    },
    /** A save refused: the banner, that file's tab, the line marked. */
    showProblem(p) {
      problem = { file: p.file || active, line: p.line || null, message: String(p.message || ''), title: p.title || 'author.problemTitle' };
      if (names.includes(problem.file)) select(problem.file);
      renderProblem();
      markLine();
    },
    clearProblem: () => clearProblem(false),
    problem: () => problem,
    refresh() {
      if (cm) cm.refresh();
    },
    focus() {
      if (cm) cm.focus();
      else if (ta) ta.focus();
    },
    setFiles(files, mainName = main) {
      // replace the shown files (classroom: the code of the selected run)
      const next = orderFiles(files || {}, mainName);
      names.splice(0, names.length, ...next);
      for (const n of Object.keys(current)) if (!next.includes(n)) delete current[n];
      for (const n of next) {
        current[n] = files[n];
        original[n] = files[n];
        if (docs[n]) docs[n].setValue(files[n]);
        else if (cm && CM) docs[n] = CM.Doc(files[n], modeFor(n));
      }
      active = next.includes(active) ? active : (next[0] || mainName);
      if (cm && docs[active]) cm.swapDoc(docs[active]);
      if (ta) ta.value = current[active] ?? '';
      lastMarks = new Map();
      marked = [];
      buildTabs();
      showEdited();
      schedule(render);
    },
    render,
  };
}
