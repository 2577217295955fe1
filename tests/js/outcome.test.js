// web: the banner says when the sandbox restarted, the server stopped, or the recording was lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createState, applyEvent, stopReason } from '../../static/js/model/reducer.js';
import { explainStop } from '../../static/js/model/explain.js';
import { translate } from '../../static/js/i18n.js';

function banner(fin, lang = 'en') {
  const state = createState();
  applyEvent(state, { v: 1, seq: 0, t: 0, type: 'run.finished', duration_ms: 5, stats: {}, ...fin });
  return explainStop(stopReason(state), (k, p) => translate(lang, k, p), lang);
}

test('a run of a restarted sandbox says so in both languages', () => {
  const fin = { status: 'error', code: null, reason: 'x', outcome: { code: 'sandbox_restarted' } };
  assert.match(banner(fin).lines.join(' '), /sandbox restarted/);
  assert.match(banner(fin, 'zh').lines.join(' '), /沙箱重新启动/);
  assert.equal(banner(fin).kind, 'error');
});

test('a recording that could not be saved is shown', () => {
  const fin = { status: 'ok', code: 0, reason: null, outcome: { code: 'exit', exit_code: 0 },
    recording: { saved: false, problem: 'disk_full' } };
  const b = banner(fin);
  assert.match(b.lines.join(' '), /could not be saved on the server \(disk_full\)/);
  assert.equal(b.kind, 'warn');
  assert.doesNotMatch(banner({ ...fin, recording: { saved: true } }).lines.join(' '), /could not be saved/);
});
