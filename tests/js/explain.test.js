import test from 'node:test';
import assert from 'node:assert/strict';
import { explainStop } from '../../static/js/model/explain.js';
import { reduce, stopReason } from '../../static/js/model/reducer.js';
import { translate } from '../../static/js/i18n.js';
import { forkRun, pipeSignalRun } from './fixtures/handmade.js';

const tr = (lang) => (k, p) => translate(lang, k, p);

test('a normal end', () => {
  const e = explainStop(stopReason(reduce(forkRun())), tr('en'), 'en');
  assert.equal(e.kind, 'ok');
  assert.deepEqual(e.lines, ['The program finished.']);
  assert.match(e.stats, /3 ms · 2 processes/);
});

test('a limit and a kill by the user, in Chinese', () => {
  const e = explainStop(stopReason(reduce(pipeSignalRun())), tr('zh'), 'zh');
  assert.equal(e.kind, 'limit');
  assert.equal(e.lines[0], '程序运行时间太长。');
  assert.ok(e.lines.includes('主进程被你发送的信号 SIGKILL 终止。'));
  assert.ok(e.lines.includes('已停止：时间太长。'));
});

test('nothing to explain before the end', () => {
  assert.equal(explainStop(stopReason(reduce(forkRun().slice(0, 4))), tr('en'), 'en'), null);
});

test('stopped by the user; exit code', () => {
  const base = { status: 'stopped', finished: true, code: null, errors: [], limit: null, rootSignal: 'SIGKILL', rootSignalFrom: null, message: null, durationMs: 5, stats: {} };
  assert.deepEqual(explainStop(base, tr('en'), 'en').lines, ['You stopped the run.']);
  const e = explainStop({ ...base, status: 'ok', rootSignal: null, code: 3 }, tr('en'), 'en');
  assert.equal(e.kind, 'warn');
  assert.ok(e.lines.includes('The main process exited with code 3.'));
});
