// Code: the scenario files in a vendored CodeMirror 5 editor (a plain
// textarea when it is missing), one tab per file, edits kept in
// localStorage; each live process's last traced line marked in its colour.
//   mount(element, ctx) -> {update, seek, reset, getFiles(), isEdited(), refresh()}
// ctx: {files, main, readOnly, storageKey, onRun}

import { h, text, clear } from '../dom.js';
import { t, onLangChange } from '../i18n.js';
import { schedule, scheduleAtMost } from '../frame.js';
import { pidClass } from '../colors.js';

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
  el.append(bar, host);

  const CM = typeof window !== 'undefined' ? window.CodeMirror : null;
  let cm = null;
  let ta = null;
  const docs = {};
  if (CM) {
    cm = CM(host, {
      value: current[active] ?? '',
      mode: 'python',
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
    for (const n of names) docs[n] = CM.Doc(current[n] ?? '', 'python');
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

  function showEdited() {
    edited.hidden = !isEdited();
  }

  function buildTabs() {
    clear(tabs);
    if (names.length < 1) return;
    for (const n of names) {
      const b = h('button', {
        type: 'button',
        role: 'tab',
        class: 'code-tab',
        'aria-selected': n === active ? 'true' : 'false',
        tabindex: n === active ? '0' : '-1',
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
    if (keys) text(keys, t('code.keys'));
    if (resetBtn) {
      text(resetBtn, t('code.reset'));
      resetBtn.setAttribute('title', t('code.resetLabel'));
      resetBtn.setAttribute('aria-label', t('code.resetLabel'));
    }
    if (cm) cm.getInputField().setAttribute('aria-label', t('code.editorLabel', { file: active }));
  });

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
    update() {
      scheduleAtMost(render, 150);
    },
    seek() {
      schedule(render);
    },
    reset() {
      lastMarks = new Map();
      schedule(render);
    },
    getFiles() {
      return { ...current };
    },
    isEdited,
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
        else if (cm && CM) docs[n] = CM.Doc(files[n], 'python');
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
