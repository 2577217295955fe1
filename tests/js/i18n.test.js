import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STRINGS, translate, pickLanguage, normalizeLang, readCookie, format, pick } from '../../static/js/i18n.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('both languages have the same keys', () => {
  const en = Object.keys(STRINGS.en).sort();
  const zh = Object.keys(STRINGS.zh).sort();
  assert.deepEqual(zh, en);
  for (const k of en) {
    assert.ok(STRINGS.zh[k].length > 0, k);
    const pe = (STRINGS.en[k].match(/\{\w+\}/g) || []).sort();
    const pz = (STRINGS.zh[k].match(/\{\w+\}/g) || []).sort();
    assert.deepEqual(pz, pe, `placeholders of ${k}`);
  }
});

test('lookup, fallback and placeholders', () => {
  assert.equal(translate('zh', 'ctl.run'), '运行');
  assert.equal(translate('en', 'ctl.run'), 'Run');
  assert.equal(translate('fr', 'ctl.run'), 'Run');
  assert.equal(translate('en', 'no.such.key'), 'no.such.key');
  assert.equal(translate('en', 'status.queued', { n: 2 }), 'Waiting for a free slot (position 2)');
  assert.equal(format('{a} {b}', { a: '<b>' }), '<b> {b}');
  assert.equal(pick({ en: 'A', zh: 'B' }, 'zh'), 'B');
  assert.equal(pick({ en: 'A' }, 'zh'), 'A');
  assert.equal(pick('plain', 'zh'), 'plain');
});

test('language choice', () => {
  assert.equal(normalizeLang('zh-CN'), 'zh');
  assert.equal(normalizeLang('en_US'), 'en');
  assert.equal(normalizeLang('fr'), null);
  assert.equal(pickLanguage({ navigatorLanguages: ['fr-FR', 'zh-TW'] }), 'zh');
  assert.equal(pickLanguage({ stored: 'en', navigatorLanguages: ['zh-CN'] }), 'en');
  assert.equal(pickLanguage({ cookie: 'zh', navigatorLanguages: ['en'] }), 'zh');
  assert.equal(pickLanguage({ page: 'zh-CN', navigatorLanguages: ['de'] }), 'zh');
  assert.equal(pickLanguage({}), 'en');
  assert.equal(readCookie('a=1; lang=zh; b=2', 'lang'), 'zh');
  assert.equal(readCookie('', 'lang'), null);
});

test('every key a template uses is in the catalogue', () => {
  const dir = join(root, 'templates');
  let count = 0;
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.html'))) {
    const src = readFileSync(join(dir, f), 'utf8');
    // {{ T('key') }}, {{ TA('key', attr='title') }}, {{ t('key', n=1) }}
    for (const m of src.matchAll(/\b(?:T|TA|t|tr|has)\(\s*'([\w.-]+)'\s*[,)]/g)) {
      assert.ok(m[1] in STRINGS.en, `${f}: unknown key ${m[1]}`);
      count++;
    }
    // No inline translations left in a template: every word comes from the catalogue.
    assert.doesNotMatch(src, /[\u4e00-\u9fff]/, `${f}: Chinese text outside the catalogue`);
  }
  assert.ok(count > 60, `only ${count} translated strings found in templates`);
});
