// Predict-then-run questions: the student writes a prediction before the
// run; afterwards the real answer (GET /api/runs/{id} -> answers) is shown
// next to it. Predictions are kept in localStorage per lesson.
//   mount(element, {lesson, readOnly}) -> {lock(bool), showAnswers(answers|null), clearAnswers()}

import { h, clear } from '../dom.js';
import { t, pick, getLang, onLangChange } from '../i18n.js';
import { isMatch } from '../model/answers.js';

const NUMERIC = new Set(['output_line_count', 'process_count', 'zombie_count', 'exit_code', 'transfer_bytes', 'max_alive']);
// Answers that are the program's own output: shown as code, like the terminal shows them.
const OUTPUT_METRICS = new Set(['first_output', 'output_order']);

/** Inline `code` of a prompt as <code> elements (text only). */
function richText(str) {
  const parts = String(str ?? '').split('`');
  return parts.map((p, i) => (i % 2 ? h('code', null, p) : p));
}

function store(key, value) {
  try {
    if (value == null || value === '') localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    /* ignore */
  }
}
function load(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

export function mount(el, { lesson, readOnly = false }) {
  const questions = (lesson && lesson.questions) || [];
  el.hidden = questions.length === 0;
  if (!questions.length) return { lock() {}, showAnswers() {}, clearAnswers() {} };
  const prefix = `proclab.pred.${lesson.id}`;
  let answers = null;
  let locked = false;
  const items = [];

  function build() {
    clear(el);
    items.length = 0;
    el.append(h('h2', { class: 'q-heading' }, t('lesson.questions')));
    if (!readOnly) el.append(h('p', { class: 'q-hint' }, t('lesson.questionsHint')));
    const list = h('ol', { class: 'q-list' });
    for (const q of questions) {
      const id = `q-${q.id}`;
      const saved = load(`${prefix}.${q.id}`) ?? '';
      const li = h('li', { class: 'q-item', dataset: { q: q.id } });
      let getValue;
      let setDisabled;
      if (Array.isArray(q.choices) && q.choices.length) {
        const fs = h('fieldset', { class: 'q-choices', 'aria-labelledby': `${id}-prompt` });
        li.append(h('div', { class: 'q-prompt', id: `${id}-prompt` }, richText(pick(q.prompt))));
        const radios = [];
        q.choices.forEach((c, i) => {
          const value = typeof c === 'string' ? c : (c.en ?? pick(c));
          const r = h('input', { type: 'radio', name: id, value, id: `${id}-${i}`, checked: saved === value ? true : undefined, disabled: readOnly ? true : undefined });
          r.addEventListener('change', () => {
            store(`${prefix}.${q.id}`, value);
            refresh();
          });
          radios.push(r);
          fs.append(h('label', { class: 'q-choice', for: `${id}-${i}` }, r, h('span', null, richText(pick(c)))));
        });
        if (!readOnly) li.append(fs);
        getValue = () => radios.find((r) => r.checked)?.value ?? '';
        setDisabled = (d) => radios.forEach((r) => { r.disabled = d || readOnly; });
      } else {
        const input = h('input', {
          type: 'text',
          id,
          class: 'q-input',
          value: saved,
          autocomplete: 'off',
          inputmode: NUMERIC.has(q.answer && q.answer.metric) ? 'numeric' : undefined,
          placeholder: t('q.yourGuess'),
          disabled: readOnly ? true : undefined,
        });
        input.addEventListener('input', () => {
          store(`${prefix}.${q.id}`, input.value.trim());
          refresh();
        });
        li.append(h('label', { class: 'q-prompt', for: id }, richText(pick(q.prompt))));
        if (!readOnly) li.append(input);
        getValue = () => input.value.trim();
        setDisabled = (d) => { input.disabled = d || readOnly; };
      }
      const result = h('div', { class: 'q-result', 'aria-live': 'polite' });
      li.append(result);
      list.append(li);
      items.push({ q, getValue, setDisabled, result });
    }
    el.append(list);
    for (const it of items) it.setDisabled(locked);
    refresh();
  }

  function isOutput(q, real) {
    return typeof real === 'string' && !Array.isArray(q.choices) && OUTPUT_METRICS.has(q.answer && q.answer.metric);
  }

  function choiceText(q, value) {
    if (!Array.isArray(q.choices)) return value;
    for (const c of q.choices) {
      if (typeof c === 'string' ? c === value : c.en === value) return typeof c === 'string' ? c : pick(c);
    }
    return value;
  }

  function refresh() {
    for (const it of items) {
      clear(it.result);
      const guess = it.getValue();
      if (!answers) {
        if (!readOnly) it.result.append(h('span', { class: 'q-pending' }, t('q.pending')));
        continue;
      }
      const has = Object.prototype.hasOwnProperty.call(answers, it.q.id);
      const real = has ? answers[it.q.id] : null;
      const realText = real === null || real === undefined ? t('q.noAnswer') : choiceText(it.q, typeof real === 'object' ? JSON.stringify(real) : String(real));
      const row = h('div', { class: 'q-compare' },
        readOnly ? null : h('span', { class: 'q-label' }, `${t('q.yourGuess')}: `),
        readOnly ? null : h('span', { class: 'q-guess' }, guess ? choiceText(it.q, guess) : t('q.noPrediction')),
        readOnly ? null : h('span', { class: 'q-sep', 'aria-hidden': 'true' }, ' · '),
        h('span', { class: 'q-label' }, `${t('q.real')}: `),
        h('strong', { class: 'q-real' }, isOutput(it.q, real) ? h('code', null, realText) : realText));
      it.result.append(row);
      if (guess && real !== null && real !== undefined) {
        const ok = isMatch(guess, real, it.q);
        it.result.append(h('div', { class: `q-verdict ${ok ? 'ok' : 'no'}` }, `${ok ? '✓' : '✗'} ${t(ok ? 'q.match' : 'q.mismatch')}`));
      }
    }
  }

  build();
  onLangChange(build);

  return {
    lock(on) {
      locked = on;
      for (const it of items) it.setDisabled(on);
    },
    showAnswers(a) {
      answers = a && typeof a === 'object' ? a : null;
      refresh();
    },
    clearAnswers() {
      answers = null;
      refresh();
    },
    lang: getLang,
  };
}
