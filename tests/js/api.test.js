import test from 'node:test';
import assert from 'node:assert/strict';
import { problemText } from '../../static/js/api.js';

test("ProcLab's 422 items are shown in the page's language", () => {
  const item = { loc: ['body', 'main'], msg: "the files do not include the main file 'x.py'", type: 'value_error', code: 'no_main', params: { main: 'x.py' } };
  assert.equal(problemText(item, 'zh'), '文件中没有主文件 x.py');
  assert.equal(problemText(item, 'en'), 'the files do not include the main file x.py');
});

test("FastAPI's own 422 items are shown by their type, with the field", () => {
  const item = { loc: ['body', 'pace', 'mode'], msg: "Input should be 'normal', 'paused', 'step' or 'slow'", type: 'enum', ctx: { expected: "'normal', 'paused', 'step' or 'slow'" } };
  assert.equal(problemText(item, 'zh'), "pace.mode：应为 'normal', 'paused', 'step' or 'slow'");
  const odd = { loc: ['body', 'x'], msg: 'Some new pydantic message', type: 'brand_new_type' };
  assert.equal(problemText(odd, 'zh'), 'x：值无效');
});

test('an item with neither code nor type keeps its message', () => {
  assert.equal(problemText({ msg: 'plain' }, 'zh'), 'plain');
  assert.equal(problemText('text', 'zh'), 'text');
});

test("ProcLab's own refusals (409, 404, 429 …) are shown by their code in the page's language", async () => {
  const { detailOf } = await import('../../static/js/api.js');
  const busy = { detail: 'your run r1 is still going: one run at a time in a room', code: 'one_run_at_a_time', params: { run: 'r1' } };
  assert.equal(detailOf(busy, 409, 'zh'), '你的运行 r1 还在进行：在教室里一次只能有一个运行');
  assert.equal(detailOf(busy, 409, 'en'), busy.detail);
  assert.equal(detailOf({ detail: 'no run x', code: 'no_run', params: { run: 'x' } }, 404, 'zh'), '没有运行 x');
  // a code this page does not know yet (a newer server): its English detail
  assert.equal(detailOf({ detail: 'something new', code: 'brand_new', params: {} }, 400, 'zh'), 'something new');
});
