import test from 'node:test';
import assert from 'node:assert/strict';
import { parseAnsi, createAnsiState, stripAnsi, styleToCss, isPlain } from '../../static/js/ansi.js';

test('plain text is one plain segment', () => {
  const segs = parseAnsi('hello\n');
  assert.equal(segs.length, 1);
  assert.equal(segs[0].text, 'hello\n');
  assert.ok(isPlain(segs[0].style));
});

test('SGR colours and reset', () => {
  const segs = parseAnsi('\x1b[1;31mred\x1b[0m plain \x1b[38;5;196mx\x1b[38;2;1;2;3my\x1b[92mz');
  assert.deepEqual(segs.map((s) => s.text), ['red', ' plain ', 'x', 'y', 'z']);
  assert.equal(segs[0].style.fg, 1);
  assert.equal(segs[0].style.bold, true);
  assert.ok(isPlain(segs[1].style));
  assert.equal(segs[2].style.fg, 'rgb(255,0,0)');
  assert.equal(segs[3].style.fg, 'rgb(1,2,3)');
  assert.equal(segs[4].style.fg, 10);
  assert.deepEqual(styleToCss(segs[0].style).classes, ['ansi-fg-1', 'ansi-bold']);
});

test('other escapes are dropped, controls made visible', () => {
  assert.equal(stripAnsi('\x1b[2J\x1b[Hclear\x1b]0;title\x07 ok'), 'clear ok');
  assert.equal(stripAnsi('a\x00b'), 'a\u2400b');
  assert.equal(stripAnsi('bell\x07 del\x7f'), 'bell del');
  assert.equal(stripAnsi('x\r\ny\rz'), 'x\ny\nz');
  assert.equal(stripAnsi('<script>alert(1)</script>'), '<script>alert(1)</script>');
});

test('an escape split across chunks', () => {
  const st = createAnsiState();
  const a = parseAnsi('ab\x1b[3', st);
  assert.deepEqual(a.map((s) => s.text), ['ab']);
  const b = parseAnsi('2mgreen', st);
  assert.equal(b[0].text, 'green');
  assert.equal(b[0].style.fg, 2);
  // the style carries over to the next chunk
  assert.equal(parseAnsi('more', st)[0].style.fg, 2);
});

test('a runaway escape does not eat the output', () => {
  const s = parseAnsi('\x1b[' + '1;'.repeat(100));
  assert.ok(s.map((x) => x.text).join('').length > 100);
  assert.equal(stripAnsi('\x1b[1\x01x'), '\u241b[1\u2401x');
});

test('inverse swaps colours', () => {
  const [seg] = parseAnsi('\x1b[7;31mx');
  const css = styleToCss(seg.style);
  assert.ok(css.classes.includes('ansi-bg-1'));
});
