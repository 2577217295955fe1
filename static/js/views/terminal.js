// Terminal: the output of every process, coloured per process and labelled
// with its pid; ANSI colours rendered (other escapes dropped), NUL and other
// control bytes made visible, all text set with textContent (never HTML);
// an input line that sends to the run's standard input.
//   mount(element, ctx) -> {update(events), seek(n), reset(), setInputEnabled(bool)}

import { h, text, clear } from '../dom.js';
import { t, onLangChange } from '../i18n.js';
import { schedule } from '../frame.js';
import { pidClass } from '../colors.js';
import { parseAnsi, createAnsiState, styleToCss, isPlain } from '../ansi.js';
import { describeExecFailure } from '../model/words.js';

const MAX_LINES = 2000;
const REBUILD_LINES = 400; // lines drawn again after a seek backwards

export function mount(el, ctx) {
  el.classList.add('view-terminal');
  // The outer box is a column-reverse flexbox: it stays scrolled to the
  // newest line by itself, without reading the layout on every frame.
  const outer = h('div', { class: 'term-scroll' });
  const screen = h('div', { class: 'term-screen', role: 'log', 'aria-live': 'off', tabindex: '0', 'aria-label': t('view.terminal') });
  outer.append(screen);
  const emptyMsg = h('p', { class: 'term-empty' }, t('term.empty'));
  screen.append(emptyMsg);
  const input = h('input', {
    type: 'text',
    class: 'term-input',
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-label': t('term.input'),
    placeholder: t('term.inputPlaceholder'),
    disabled: true,
  });
  const send = h('button', { type: 'submit', class: 'btn btn-small', disabled: true }, t('term.send'));
  const form = h('form', { class: 'term-form' }, h('span', { class: 'term-prompt', 'aria-hidden': 'true' }, '›'), input, send);
  el.append(outer);
  if (ctx.canInput !== false) el.append(form);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const value = input.value;
    if (!ctx.sendInput) return;
    input.value = '';
    await ctx.sendInput(`${value}\n`);
    input.focus();
  });

  onLangChange(() => {
    text(emptyMsg, t('term.empty'));
    input.setAttribute('aria-label', t('term.input'));
    input.setAttribute('placeholder', t('term.inputPlaceholder'));
    text(send, t('term.send'));
    screen.setAttribute('aria-label', t('view.terminal'));
  });

  // rendering state
  let pending = []; // events not yet drawn
  let rendered = 0; // events [0, rendered) of the timeline are drawn
  let lineCount = 0;
  const ansi = new Map(); // "pid|stream" -> ansi state
  let open = null; // {key, el} the line still waiting for its newline
  let rebuild = true;

  function newLine(pid, stream, cont) {
    const st = ctx.state();
    const p = st.procs.get(pid);
    const line = h('div', { class: `term-line ${pidClass(p || 0)}${stream === 'stderr' ? ' stderr' : ''}` });
    const badge = h('span', { class: `pid-badge${cont ? ' cont' : ''}`, 'aria-label': `${pid}${stream === 'stderr' ? ' stderr' : ''}` },
      `${pid}${stream === 'stderr' ? ' err' : ''}`);
    line.append(badge, h('span', { class: 'term-text' }));
    lineCount += 1;
    return line;
  }

  const unfinished = new Set(); // "pid|stream" whose last line has no newline yet

  function ensureLine(frag, pid, stream, key) {
    if (open && open.key === key) return open;
    const line = newLine(pid, stream, unfinished.has(key));
    frag.append(line);
    open = { key, el: line, text: line.lastChild };
    return open;
  }

  function appendText(target, str, style) {
    if (isPlain(style)) {
      target.append(document.createTextNode(str));
      return;
    }
    const css = styleToCss(style);
    const span = h('span', { class: css.classes.join(' ') || undefined });
    if (css.css.color) span.style.color = css.css.color;
    if (css.css.backgroundColor) span.style.backgroundColor = css.css.backgroundColor;
    span.textContent = str;
    target.append(span);
  }

  function appendOutput(frag, ev) {
    const key = `${ev.pid}|${ev.stream}`;
    let st = ansi.get(key);
    if (!st) {
      st = createAnsiState();
      ansi.set(key, st);
    }
    for (const seg of parseAnsi(ev.text, st)) {
      const pieces = seg.text.split('\n');
      for (let i = 0; i < pieces.length; i++) {
        if (i > 0) {
          ensureLine(frag, ev.pid, ev.stream, key); // "\n" alone still makes a line
          open = null;
          unfinished.delete(key);
        }
        if (pieces[i]) appendText(ensureLine(frag, ev.pid, ev.stream, key).text, pieces[i], seg.style);
      }
    }
    if (open && open.key === key) unfinished.add(key);
  }

  function appendEvent(frag, ev) {
    if (ev.type === 'io.output') {
      appendOutput(frag, ev);
    } else if (ev.type === 'io.input') {
      open = null;
      lineCount += 1;
      frag.append(h('div', { class: 'term-line term-input-echo' }, h('span', { class: 'pid-badge' }, 'stdin'), h('span', { class: 'term-text' }, `› ${String(ev.text ?? '').replace(/\n$/, '')}`)));
    } else if (ev.type === 'io.truncated') {
      open = null;
      lineCount += 1;
      frag.append(h('div', { class: 'term-line term-note' }, t('term.truncated', { bytes: ev.bytes })));
    } else if (ev.type === 'proc.exec.failed') {
      // Not output: ProcLab's note, where the student reads the program's own perror() next to it.
      const line = newLine(ev.pid, 'note', false);
      line.classList.add('term-note');
      text(line.lastChild, `⚠ ${describeExecFailure({ argv: ev.argv, path: ev.path, error: ev.error }, t)}`);
      open = null;
      frag.append(line);
    }
  }

  function render() {
    const cur = ctx.cursor();
    const tl = ctx.timeline;
    const target = cur.live ? tl.length : cur.n;
    if (rebuild || target < rendered) {
      // start over (seek backwards, or a reset)
      clear(screen);
      ansi.clear();
      unfinished.clear();
      open = null;
      lineCount = 0;
      rendered = 0;
      rebuild = false;
      // for a long run only the tail is drawn
      let from = 0;
      let lines = 0;
      for (let i = target - 1; i >= 0; i--) {
        const ev = tl.events[i];
        if (ev.type === 'io.output') {
          lines += (ev.text.match(/\n/g) || []).length;
          if (lines > REBUILD_LINES) {
            from = i + 1;
            break;
          }
        }
      }
      rendered = from;
    }
    pending = [];
    if (target > rendered) {
      const frag = document.createDocumentFragment();
      for (let i = rendered; i < target; i++) appendEvent(frag, tl.events[i]);
      rendered = target;
      if (frag.childNodes.length) {
        emptyMsg.remove();
        screen.append(frag);
      }
      // drop the oldest lines
      while (lineCount > MAX_LINES && screen.firstChild) {
        if (open && screen.firstChild === open.el) open = null;
        screen.removeChild(screen.firstChild);
        lineCount -= 1;
      }
    }
    if (!screen.firstChild) screen.append(emptyMsg);
  }

  render.profileName = 'terminal';
  return {
    update(events) {
      pending.push(...events);
      schedule(render);
    },
    seek() {
      schedule(render);
    },
    reset() {
      rebuild = true;
      rendered = 0;
      schedule(render);
    },
    setInputEnabled(on) {
      input.disabled = !on;
      send.disabled = !on;
    },
    /** Plain text of the screen (for tests). */
    text() {
      return screen.textContent;
    },
    render,
  };
}
