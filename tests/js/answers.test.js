import test from 'node:test';
import assert from 'node:assert/strict';
import { isMatch } from '../../static/js/model/answers.js';

test('numbers, strings, choices, signals', () => {
  assert.ok(isMatch('3', 3));
  assert.ok(isMatch(' 3 ', '3'));
  assert.ok(!isMatch('4', 3));
  assert.ok(!isMatch('', 0));
  assert.ok(!isMatch('x', null));
  assert.ok(isMatch('Init', 'init'));
  const q = { choices: [{ en: 'init', zh: 'init' }, { en: 'nobody', zh: '没有人' }] };
  assert.ok(isMatch('init', 'init', q));
  assert.ok(!isMatch('nobody', 'init', q));
  assert.ok(isMatch('KILL', 'SIGKILL'));
  assert.ok(isMatch('sigkill', 'SIGKILL'));
});
