import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SIGNALS } from '../../static/js/views/signalmenu.js';
import { STRINGS } from '../../static/js/i18n.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The values of the protocol's UserSignal enum, read from its source (the one list the server accepts). */
function userSignals() {
  const src = readFileSync(join(root, 'app', 'sandbox', 'protocol.py'), 'utf8');
  const body = src.split('class UserSignal(enum.StrEnum):')[1].split(/\n(?=\S)/)[0];
  return [...body.matchAll(/^\s+(SIG\w+) = "(SIG\w+)"$/gm)].map((m) => m[2]);
}

test('the signal menu offers every signal the protocol accepts from a student', () => {
  const accepted = userSignals();
  assert.ok(accepted.length >= 8 && accepted.includes('SIGHUP') && accepted.includes('SIGUSR2'), String(accepted));
  assert.deepEqual(SIGNALS, accepted);
});

test('each signal of the menu has its words in both languages', () => {
  for (const lang of ['en', 'zh']) {
    const missing = SIGNALS.filter((s) => !STRINGS[lang][`signal.${s}`]);
    assert.deepEqual(missing, [], `static/i18n/${lang}.json lacks signal.<name> for these`);
  }
  assert.notEqual(STRINGS.zh['signal.SIGHUP'], STRINGS.en['signal.SIGHUP']);
});
