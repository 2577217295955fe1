import test from 'node:test';
import assert from 'node:assert/strict';
import { Timeline } from '../../static/js/model/timeline.js';
import { reduce } from '../../static/js/model/reducer.js';
import { forkRun, bigRun } from './fixtures/handmade.js';

test('append drops duplicates and keeps the live state', () => {
  const tl = new Timeline();
  const ev = forkRun();
  assert.equal(tl.append(ev.slice(0, 5)).length, 5);
  assert.equal(tl.append(ev.slice(3, 8)).length, 3); // 3,4 are duplicates
  assert.equal(tl.append(ev).length, ev.length - 8);
  assert.equal(tl.length, ev.length);
  assert.equal(tl.live.status, 'finished');
});

test('state at a count and at a time', () => {
  const tl = new Timeline({ checkpointEvery: 3 });
  const ev = forkRun();
  tl.append(ev);
  for (let n = 0; n <= ev.length; n++) {
    const a = tl.stateAt(n);
    const b = reduce(ev.slice(0, n));
    assert.equal(a.count, b.count, `count at ${n}`);
    assert.deepEqual([...a.procs.values()].map((p) => p.state), [...b.procs.values()].map((p) => p.state), `states at ${n}`);
  }
  // going backwards works too
  assert.equal(tl.stateAt(9).procs.get(4243).state, 'zombie');
  assert.equal(tl.stateAt(4).procs.get(4243).state, 'new');
  // by time: at 1.2 ms the child is a zombie, at 3.1 ms it is reaped
  assert.equal(tl.countAtTime(1199999), 8);
  assert.equal(tl.stateAtTime(1200000).procs.get(4243).state, 'zombie');
  assert.equal(tl.stateAtTime(3100000).procs.get(4243).state, 'terminated');
  assert.equal(tl.stateAtTime(-1).procs.size, 0);
  assert.equal(tl.timeAtCount(0), 0);
  assert.equal(tl.timeAtCount(ev.length), tl.duration);
  assert.equal(tl.countAtSeq(3), 4);
});

test('time is the running maximum when t goes back', () => {
  const tl = new Timeline();
  tl.append([
    { v: 1, seq: 0, t: 0, type: 'run.started', root_pid: 2, init_pid: 1 },
    { v: 1, seq: 1, t: 50, type: 'proc.spawn', pid: 2, ppid: 1, how: 'root' },
    { v: 1, seq: 2, t: 40, type: 'io.output', pid: 2, stream: 'stdout', text: 'a' },
    { v: 1, seq: 3, t: 60, type: 'io.output', pid: 2, stream: 'stdout', text: 'b' },
  ]);
  assert.deepEqual(tl.maxT, [0, 50, 50, 60]);
  assert.equal(tl.countAtTime(45), 1);
  assert.equal(tl.countAtTime(50), 3);
});

test('10,000 events: scrubbing anywhere is fast', () => {
  const ev = bigRun(200, 10000);
  const tl = new Timeline();
  const t0 = performance.now();
  tl.append(ev);
  const tAppend = performance.now() - t0;
  const t1 = performance.now();
  for (let i = 0; i < 200; i++) tl.stateAt(Math.floor(Math.random() * ev.length));
  const perSeek = (performance.now() - t1) / 200;
  assert.equal(tl.live.procs.size, 200);
  assert.ok(tAppend < 1500, `append took ${tAppend} ms`);
  assert.ok(perSeek < 30, `seek took ${perSeek} ms`);
});
