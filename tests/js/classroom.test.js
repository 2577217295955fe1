import test from 'node:test';
import assert from 'node:assert/strict';
import { histogramBars, goalSummary, expectText, wallTone, recordAttempt } from '../../static/js/model/classroom.js';

test('histogram bars: most votes first, shares, the kernel answer marked even when nobody chose it', () => {
  const bars = histogramBars({ answers: { 0: 3, 1: 6, 2: 1 }, answered: 10 }, 1);
  assert.deepEqual(bars.map((b) => [b.answer, b.count, b.kernel]), [['1', 6, true], ['0', 3, false], ['2', 1, false]]);
  assert.equal(bars[0].share, 0.6);
  const none = histogramBars({ answers: { 5: 2 }, answered: 2 }, 7);
  assert.deepEqual(none.map((b) => [b.answer, b.count, b.kernel]), [['5', 2, false], ['7', 0, true]]);
  assert.deepEqual(histogramBars({ answers: {}, answered: 0 }, null), []);
});

test('goal summary and the expectation text', () => {
  assert.deepEqual(goalSummary([{ passed: true }, { passed: false }]), { passed: 1, total: 2, failing: 1, all: false });
  assert.equal(goalSummary([]).all, false);
  assert.equal(expectText({ transfer: { kind: 'fifo', bytes: 100 } }), 'transfer: {"kind":"fifo","bytes":100}');
  assert.equal(expectText({ state: 'zombie' }), 'state: zombie');
});

test('wall tone: stuck first, then problems, passed, running', () => {
  assert.equal(wallTone({ run: null }), 'idle');
  assert.equal(wallTone({ run: 'r', stuck: true, passed: true }), 'stuck');
  assert.equal(wallTone({ run: 'r', limit: 'memory' }), 'bad');
  assert.equal(wallTone({ run: 'r', status: 'ok', passed: true }), 'passed');
  assert.equal(wallTone({ run: 'r', status: 'running' }), 'running');
  assert.equal(wallTone({ run: 'r', status: 'ok', passed: false }), 'done');
});

test('solo progress keeps the first pass and counts attempts', () => {
  let p = recordAttempt({}, 'l/e', false, 10);
  p = recordAttempt(p, 'l/e', true, 20);
  p = recordAttempt(p, 'l/e', false, 30);
  assert.deepEqual(p['l/e'], { passed: true, attempts: 3, first: 10, passedAt: 20 });
});
