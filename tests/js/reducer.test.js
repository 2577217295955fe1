import test from 'node:test';
import assert from 'node:assert/strict';
import { createState, applyEvent, reduce, liveProcs, procLabel, stopReason } from '../../static/js/model/reducer.js';
import { forkRun, orphanRun, pipeSignalRun } from './fixtures/handmade.js';

test('fork run: two processes, child zombie then reaped by parent', () => {
  const s = reduce(forkRun());
  assert.equal(s.rootPid, 4242);
  assert.equal(s.initPid, 4241);
  assert.deepEqual(s.order, [4242, 4243]);
  const child = s.procs.get(4243);
  assert.equal(child.ppid, 4242);
  assert.equal(child.how, 'fork');
  assert.equal(child.state, 'terminated');
  assert.equal(child.reaped, true);
  assert.equal(child.reapedBy, 4242);
  assert.equal(child.reapCall, 'wait');
  assert.deepEqual(child.exit, { code: 0, signal: null, core: false });
  assert.deepEqual(child.line, { file: 'main.py', line: 4 });
  assert.equal(s.status, 'finished');
  assert.equal(s.finished.status, 'ok');
  assert.equal(s.edges.get('running>zombie'), 2);
  assert.equal(s.edges.get('zombie>terminated'), 2);
    assert.equal(s.edges.get('blocked>running'), 1);
  assert.equal(liveProcs(s).length, 0);
});

test('state at an intermediate moment', () => {
  const ev = forkRun();
  const s = reduce(ev.slice(0, 9)); // child just became a zombie
  const child = s.procs.get(4243);
  assert.equal(child.state, 'zombie');
  assert.equal(child.stat, 'Z');
  assert.equal(child.prev, 'running');
  assert.equal(s.procs.get(4242).state, 'blocked');
  assert.equal(s.procs.get(4242).reason, 'waiting for a child (wait4)');
  assert.equal(liveProcs(s).length, 2);
});

test('orphan adopted by init and reaped by init', () => {
  const s = reduce(orphanRun());
  const c = s.procs.get(101);
  assert.equal(c.originalPpid, 100);
  assert.equal(c.ppid, 1);
  assert.equal(c.adopted, true);
  assert.deepEqual(c.reparents.map((r) => [r.from, r.to]), [[100, 1]]);
  assert.equal(c.reapedBy, 1);
  // exit without a Z sample: zombie is inferred until the reap
  const mid = reduce(orphanRun().slice(0, 5));
  assert.equal(mid.procs.get(100).state, 'zombie');
  assert.equal(mid.procs.get(100).inferred, true);
});

test('pipe ends, transfers, threads, signals, values', () => {
  const s = reduce(pipeSignalRun());
  const ch = s.channels.get('pipe#1');
  assert.equal(ch.kind, 'pipe');
  assert.equal(ch.name, 'pipe:[13525]');
  assert.equal(ch.written, 5);
  assert.equal(ch.read, 5);
  const open = [...ch.ends.values()].filter((e) => e.open).map((e) => `${e.pid}:${e.end}`).sort();
  assert.deepEqual(open, ['10:write', '11:read']);
  assert.equal(s.transfers.length, 2);
  assert.equal(s.transfers[0].preview, 'hello');
  const th = s.procs.get(11).threads.get(12);
  assert.equal(th.name, 'worker');
  assert.equal(th.alive, false);
  assert.equal(s.procs.get(10).handlers.SIGUSR1, 'on_usr1');
  assert.equal(s.procs.get(10).signalsIn[0].action, 'handler');
  assert.equal(s.signals.length, 2);
  // channel known only from an op gets its kind from the id
  assert.equal(s.channels.get('value#1').kind, 'value');
  assert.equal(s.channels.get('value#1').value, 42);
  assert.deepEqual(s.procs.get(11).line, { file: 'main.py', line: 15 });
});

test('stop reason: limit, root killed by the user', () => {
  const r = stopReason(reduce(pipeSignalRun()));
  assert.equal(r.status, 'limit');
  assert.equal(r.limit.limit, 'wall');
  assert.equal(r.rootSignal, 'SIGKILL');
  assert.equal(r.rootSignalFrom, null);
  assert.equal(r.message.zh, '已停止：时间太长。');
  assert.equal(stopReason(createState()), null);
});

test('events about unknown pids and unknown types do not throw', () => {
  const s = createState();
  applyEvent(s, { v: 1, seq: 0, t: 5, type: 'io.output', pid: 77, stream: 'stdout', text: 'x' });
  applyEvent(s, { v: 1, seq: 1, t: 6, type: 'something.new', pid: 77 });
  applyEvent(s, null);
  assert.equal(s.procs.get(77).synthetic, true);
  applyEvent(s, { v: 1, seq: 2, t: 7, type: 'proc.spawn', pid: 77, ppid: 1, how: 'observed', name: 'sh', line: null });
  assert.equal(s.procs.get(77).synthetic, false);
  assert.equal(s.seq, 2);
  // a late sample after the reap does not resurrect the process
  applyEvent(s, { v: 1, seq: 3, t: 8, type: 'proc.reaped', pid: 77, by: 1, call: null, status: null });
  applyEvent(s, { v: 1, seq: 4, t: 9, type: 'proc.state', pid: 77, state: 'running', prev: 'zombie', stat: 'R', reason: null });
  assert.equal(s.procs.get(77).state, 'terminated');
});

test('exec changes the label; structuredClone copies the state', () => {
  const s = reduce(forkRun().slice(0, 4));
  applyEvent(s, { v: 1, seq: 99, t: 1e6, type: 'proc.exec', pid: 4243, argv: ['/bin/ls', '-l', '/tmp'], line: { file: 'main.py', line: 7 } });
  assert.equal(s.procs.get(4243).name, 'ls');
  assert.equal(procLabel(s.procs.get(4243)), 'ls -l /tmp');
  const c = structuredClone(s);
  c.procs.get(4243).name = 'changed';
  assert.equal(s.procs.get(4243).name, 'ls');
});
