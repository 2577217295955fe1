import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { translate } from '../../static/js/i18n.js';
import { describeWhy, describeBlocked, describeLimit, describeOutcome, channelLabel, describeExecFailure } from '../../static/js/model/words.js';
import { explainStop } from '../../static/js/model/explain.js';
import { reduce, stopReason, applyEvent } from '../../static/js/model/reducer.js';
import { forkRun } from './fixtures/handmade.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tr = (lang) => (k, p) => translate(lang, k, p);
const en = tr('en');
const zh = tr('zh');
const schema = JSON.parse(readFileSync(join(root, 'docs', 'events.schema.json'), 'utf8'));
const thenOf = (type) => schema.allOf.find((a) => a.if.properties.type.const === type).then;

test('a blocked state in both languages, from its code and parameters', () => {
  const pipe = { code: 'pipe_read', text: 'reading pipe #1 (fd 4)', syscall: 'read', fd: 4, channel: 'pipe#1', name: 'pipe:[1]' };
  assert.equal(describeWhy(pipe, en), 'reading pipe #1 (fd 4)');
  assert.equal(describeWhy(pipe, zh), '正在读管道 #1（fd 4）');
  const wait = { code: 'wait', text: 'waiting for child 3 (wait4)', syscall: 'wait4', pid: 3 };
  assert.equal(describeWhy(wait, en), 'waiting for child 3 (wait4)');
  assert.equal(describeWhy(wait, zh), '等待子进程 3（wait4）');
  assert.equal(describeWhy({ code: 'wait', syscall: 'waitid' }, zh), '等待子进程（waitid）');
  const fifo = { code: 'fifo_open', syscall: 'openat', path: '/run/x/fifo_file', peer: 'writer' };
  assert.equal(describeWhy(fifo, en), 'opening FIFO ‘fifo_file’, waiting for a writer');
  assert.equal(describeWhy(fifo, zh), '正在打开命名管道“fifo_file”，等待写入方');
  assert.equal(describeWhy({ code: 'socket_read', fd: 5, channel: 'mp_pipe#2' }, en), 'waiting on Pipe #2, a socket pair (fd 5)');
  assert.equal(describeWhy({ code: 'semaphore', channel: 'semaphore#1' }, zh), '等待信号量 #1');
});

test('a why found through wchan, without a syscall, still reads well', () => {
  assert.equal(describeWhy({ code: 'pipe_read', text: 'reading a pipe', wchan: 'pipe_read' }, zh), '正在读管道');
  assert.equal(describeWhy({ code: 'fifo_open', wchan: 'fifo_open' }, en), 'opening a FIFO, waiting for the other end');
  assert.equal(describeWhy({ code: 'select', wchan: 'do_select' }, en), 'waiting in select()');
});

test('an unknown code from a newer sandbox says its code, never the English text', () => {
  assert.equal(describeWhy({ code: 'teleport', text: 'teleporting' }, zh), '阻塞（teleport）');
  assert.equal(describeWhy(null, en), null);
});

test('every why code of the schema has a sentence that fills all its placeholders', () => {
  const why = thenOf('proc.state').properties.why;
  const codes = (why.$ref ? schema.$defs[why.$ref.split('/').pop()] : why).properties.code.enum;
  const sample = { text: 'x', syscall: 'read', fd: 3, channel: 'pipe#1', name: '/tmp/f', path: '/tmp/f', pid: 7, peer: 'reader', nfds: 4, count: 2 };
  for (const code of codes) {
    for (const lang of ['en', 'zh']) {
      const s = describeWhy({ code, ...sample }, tr(lang));
      assert.ok(s && !/\{\w+\}/.test(s) && !s.startsWith('why.'), `${code} in ${lang}: ${s}`);
      assert.notEqual(s, translate(lang, 'why.unknown', { code }), `${code} in ${lang} has no sentence`);
    }
  }
});

test('old recordings: no why, the English reason is kept', () => {
  assert.equal(describeBlocked({ state: 'blocked', why: null, reason: 'waiting for a child (wait4)' }, zh), 'waiting for a child (wait4)');
  assert.equal(describeBlocked({ state: 'stopped', stat: 'T', reason: 'stopped by a signal' }, zh), '被信号暂停');
  assert.equal(describeBlocked({ state: 'running', reason: null }, zh), null);
});

test('a limit from its code and numbers; an old message as the fallback', () => {
  assert.equal(describeLimit({ limit: 'processes', params: { processes: 64 } }, zh),
    '运行达到了 64 个进程和线程的上限，新的 fork() 或线程创建失败。失控的 fork（fork 炸弹）在这里被阻止。');
  assert.match(describeLimit({ limit: 'leftover', params: { count: 2, leftover_s: 5 } }, en), /but 2 process\(es\) kept running for 5 s/);
  assert.equal(describeLimit({ limit: 'wall', message: { en: 'Too long.', zh: '太长。' } }, zh, 'zh'), '太长。');
  assert.equal(describeLimit({ limit: 'wall' }, zh, 'zh'), '达到了限制（运行时间太长）。');
  // params without the number the sentence needs: not a half-filled sentence
  assert.equal(describeLimit({ limit: 'wall', params: {} }, en, 'en'), 'A limit was reached (ran too long).');
});

test('how a run ended, from outcome, in both languages', () => {
  const fin = (outcome, extra = {}) => ({ outcome, code: null, reason: null, ...extra });
  assert.equal(describeOutcome(fin({ code: 'exit', exit_code: 3 }, { code: 3 }), zh), '程序运行结束，退出码为 3。');
  assert.equal(describeOutcome(fin({ code: 'exit' }, { code: 0 }), en), 'The program finished with exit code 0.');
  assert.equal(describeOutcome(fin({ code: 'signal', signal: 'SIGTERM' }), zh), '程序被信号 SIGTERM 终止。');
  assert.equal(describeOutcome(fin({ code: 'stopped' }), zh), '运行在结束之前被停止了。');
  assert.equal(describeOutcome(fin({ code: 'start_failed', detail: 'OSError: x' }), zh), '运行无法启动：OSError: x');
  assert.equal(describeOutcome(fin({ code: 'interrupted' }), zh), '运行期间服务器停止了；在此之前录制的内容已保留。');
  assert.equal(describeOutcome(fin({ code: 'limit', limit: 'memory' }), zh), '达到了限制（内存用得太多）。');
  const limitEv = { limit: 'memory', params: { memory_mb: 32 } };
  assert.equal(describeOutcome(fin({ code: 'limit', limit: 'memory' }), zh, 'zh', limitEv), '运行使用的内存超过了 32 MiB 的上限，因此被停止。');
  // before outcome: the recorded message in the page's language
  assert.equal(describeOutcome({ message: { en: 'The program finished.', zh: '程序运行结束。' } }, zh, 'zh'), '程序运行结束。');
  assert.equal(describeOutcome({}, zh, 'zh'), null);
});

test('every outcome code and every limit of the schema has a sentence in both languages', () => {
  const codes = thenOf('run.finished').properties.outcome.properties.code.enum;
  for (const code of codes) {
    for (const lang of ['en', 'zh']) {
      const s = describeOutcome({ outcome: { code, exit_code: 1, signal: 'SIGINT', limit: 'wall', detail: 'd' }, code: 1 }, tr(lang), lang);
      assert.ok(s && !/\{\w+\}/.test(s) && !s.startsWith('outcome.'), `${code} in ${lang}: ${s}`);
    }
  }
  const numbers = { processes: 64, memory_mb: 256, cpu_s: 10, wall_s: 30, output_kb: 256, files_mb: 64, leftover_s: 5, count: 2 };
  for (const limit of thenOf('run.limit').properties.limit.enum) {
    for (const lang of ['en', 'zh']) {
      const s = describeLimit({ limit, params: numbers }, tr(lang), lang);
      assert.ok(s && !/\{\w+\}/.test(s) && !s.startsWith('limit.'), `${limit} in ${lang}: ${s}`);
    }
  }
});

test('the banner of a run with outcome codes is Chinese in Chinese', () => {
  const events = forkRun().map((e) => (e.type === 'run.finished' ? { ...e, message: undefined, outcome: { code: 'exit', exit_code: 0 } } : e));
  const e = explainStop(stopReason(reduce(events)), zh, 'zh');
  assert.deepEqual(e.lines, ['程序运行结束，退出码为 0。']);
  assert.match(e.stats, /^运行 3 毫秒/);
});

test('channel labels', () => {
  assert.equal(channelLabel('pipe#2', zh), '管道 #2');
  assert.equal(channelLabel('fifo#1', en), 'FIFO #1');
  assert.equal(channelLabel('weird#1', en), 'weird #1');
  assert.equal(channelLabel(null, en), null);
});

test('a recording made before codes (message, reason, no outcome, no why) still reads in Chinese', () => {
  const events = readFileSync(join(root, 'tests', 'js', 'fixtures', '05-wait.ndjson'), 'utf8')
    .split('\n').filter(Boolean).map((l) => JSON.parse(l))
    .map(({ why, ...rest }) => rest); // recordings older still had no why either
  assert.ok(events.every((e) => !e.outcome) && events.at(-1).message, 'the fixture is an old recording');
  const e = explainStop(stopReason(reduce(events)), zh, 'zh');
  assert.ok(e.lines.includes('程序运行结束，退出码为 0。'), e.lines.join(' | '));
  const blocked = events.find((ev) => ev.type === 'proc.state' && ev.state === 'blocked' && ev.reason);
  const s = reduce(events.slice(0, events.indexOf(blocked) + 1));
  assert.equal(describeBlocked(s.procs.get(blocked.pid), zh), blocked.reason);
});

test('a failed exec in words: the program, the errno in words and by name, in both languages', () => {
  const s = reduce(forkRun().slice(0, 4));
  applyEvent(s, { v: 1, seq: 99, t: 1e6, type: 'proc.exec.failed', pid: 4243, argv: ['no-such-program', '-x'], path: 'no-such-program', error: 'ENOENT', errno: 2, line: { file: 'main.c', line: 12 } });
  const child = s.procs.get(4243);
  assert.equal(child.name, 'python3', 'a failed exec keeps the old program');
  assert.deepEqual(child.line, { file: 'main.c', line: 12 });
  assert.equal(describeExecFailure(child.execFailed, en), 'exec of no-such-program failed: no such file or directory (ENOENT); the process still runs its old program');
  assert.equal(describeExecFailure(child.execFailed, zh), 'exec no-such-program 失败：没有那个文件或目录 (ENOENT)；进程仍在运行原来的程序');
  // an errno the catalogue does not word is shown by its name
  assert.equal(describeExecFailure({ argv: ['x'], path: null, error: 'EXDEV' }, en), 'exec of x failed: EXDEV; the process still runs its old program');
  assert.equal(describeExecFailure(null, en), null);
  assert.deepEqual(thenOf('proc.exec.failed').required, ['v', 'seq', 't', 'type', 'pid', 'argv', 'error']);
});
