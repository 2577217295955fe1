import test from 'node:test';
import assert from 'node:assert/strict';
import { formatExpectation, formatValue, describeExpectation, describeBounds, summarizeCheck } from '../../static/js/model/expect.js';
import { translate } from '../../static/js/i18n.js';

const en = (k, p) => translate('en', k, p);
const zh = (k, p) => translate('zh', k, p);

test('expectations formatted as in lesson.md', () => {
  assert.equal(formatExpectation({ processes: { min: 2, max: 2 } }), 'processes: {min: 2, max: 2}');
  assert.equal(formatExpectation({ output_matches: '^before fork: PID=\\d+$' }), 'output_matches: "^before fork: PID=\\\\d+$"');
  assert.equal(formatExpectation({ reaped_by: 'parent' }), 'reaped_by: parent');
  assert.equal(formatExpectation({ exit_code: 0 }), 'exit_code: 0');
  assert.equal(formatExpectation({ finished: 'ok' }), 'finished: ok');
  assert.equal(formatExpectation({ signal: { signal: 'SIGUSR1', handled: 'handler' } }), 'signal: {signal: SIGUSR1, handled: handler}');
  assert.equal(formatValue('123'), '"123"');
  assert.equal(formatValue('true'), '"true"');
  assert.equal(formatValue([1, 'a b']), '[1, "a b"]');
  assert.equal(formatExpectation({ a: 1, b: 2 }), '{a: 1, b: 2}');
});

test('bounds in words', () => {
  assert.equal(describeBounds(2, en), 'exactly 2');
  assert.equal(describeBounds({ min: 2, max: 2 }, en), 'exactly 2');
  assert.equal(describeBounds({ min: 1, max: 3 }, en), '1 to 3');
  assert.equal(describeBounds({ min: 1 }, en), 'at least 1');
  assert.equal(describeBounds({ max: 4 }, zh), '至多 4');
  assert.equal(describeBounds({}, en), null);
  assert.equal(describeBounds('x', en), null);
});

test('every kind of expectation described in both languages', () => {
  const items = [
    [{ finished: 'ok' }, 'The run’s status is “finished normally”', '运行状态为“正常结束”'],
    [{ limit: 'wall' }, 'A limit is reached: ran too long', '达到限制：运行时间太长'],
    [{ exit_code: 0 }, 'The main process exits with code 0', '主进程以退出码 0 结束'],
    [{ output_contains: 'hi' }, 'The output contains “hi”', '输出中包含“hi”'],
    [{ output_matches: '^a$' }, 'An output line matches ^a$', '有一行输出匹配 ^a$'],
    [{ output_lines: { min: 5, max: 5 } }, 'Exactly 5 lines of output', '输出行数：正好 5'],
    [{ processes: { min: 2, max: 2 } }, 'Exactly 2 processes in the run', '这次运行的进程数：正好 2'],
    [{ threads: { min: 3 } }, 'At least 3 threads in a process at one time', '一个进程中同时存在的线程数：至少 3'],
    [{ state: 'zombie' }, 'A process is zombie', '有进程处于僵尸状态'],
    [{ state: { state: 'blocked', reason_contains: 'pipe' } }, 'A process is blocked, in pipe', '有进程处于阻塞状态，位于 pipe'],
    [{ reparent: 'init' }, 'An orphan is adopted by init', '有孤儿进程被 init 收养'],
    [{ reparent: true }, 'A process gets a new parent', '有进程换了父进程'],
    [{ reaped_by: 'parent' }, 'A child is reaped by its parent', '有子进程被它的父进程回收'],
    [{ reaped_by: 'init' }, 'A process is reaped by init', '有进程被 init 回收'],
    [{ exit: { code: 3 } }, 'A process exits with code 3', '有进程以退出码 3 退出'],
    [{ exit: { signal: 'SIGKILL' } }, 'A process is ended by SIGKILL', '有进程被 SIGKILL 终止'],
    [{ exec: 'ls' }, 'A process runs ls with exec', '有进程通过 exec 运行 ls'],
    [{ signal: 'SIGTERM' }, 'SIGTERM is sent or handled', '发送或处理了 SIGTERM'],
    [{ signal: { signal: 'SIGINT', handled: 'handler' } }, 'SIGINT is handled (handler)', 'SIGINT 被处理（handler）'],
    [{ transfer: { kind: 'pipe', min_bytes: 10 } }, 'At least 10 bytes are read through pipe', '通过管道读出的字节数：至少 10'],
    [{ transfer: { bytes: 5 } }, 'Exactly 5 bytes are read through any channel', '通过任意通道读出的字节数：正好 5'],
    [{ channel: 'fifo' }, 'A FIFO is used', '使用了命名管道'],
    [{ op: { kind: 'queue', op: 'put' } }, 'Put on queue', '队列上的操作 put'],
    [{ op: {} }, 'An operation on any channel', '任意通道上有操作'],
    [{ event: 'proc.exec' }, 'An event proc.exec happens', '出现事件 proc.exec'],
  ];
  for (const [item, e, z] of items) {
    assert.equal(describeExpectation(item, en), e, JSON.stringify(item));
    assert.equal(describeExpectation(item, zh), z, JSON.stringify(item));
  }
  // unknown or malformed shapes: no words (the formatted form is shown instead)
  assert.equal(describeExpectation({ nope: 1 }, en), null);
  assert.equal(describeExpectation({ processes: 'many' }, en), null);
  assert.equal(describeExpectation({ a: 1, b: 2 }, en), null);
  assert.equal(describeExpectation(null, en), null);
});

test('check summary', () => {
  assert.deepEqual(summarizeCheck([{ ok: true }, { ok: false }, { ok: true }]), { n: 3, passed: 2, failed: 1, ok: false });
  assert.deepEqual(summarizeCheck([{ ok: true }]), { n: 1, passed: 1, failed: 0, ok: true });
  assert.deepEqual(summarizeCheck([]), { n: 0, passed: 0, failed: 0, ok: false });
  assert.deepEqual(summarizeCheck(null), { n: 0, passed: 0, failed: 0, ok: false });
});
