import test from 'node:test';
import assert from 'node:assert/strict';
import { Lanes, timeTicks, formatDuration } from '../../static/js/model/lanes.js';
import { forkRun, pipeSignalRun } from './fixtures/handmade.js';

test('segments of the fork run', () => {
  const l = new Lanes();
  l.applyAll(forkRun());
  assert.deepEqual(l.order, ['p4242', 'p4243']);
  const child = l.lanes.get('p4243').segments.map((s) => [s.state, s.t0, s.t1]);
  assert.deepEqual(child, [
    ['new', 950000, 960000],
    ['ready', 960000, 980000],
    ['running', 980000, 1200000],
    ['zombie', 1200000, 3100000],
  ]);
  assert.equal(l.lanes.get('p4243').closed, 3100000);
  const parent = l.lanes.get('p4242').segments.map((s) => s.state);
  assert.deepEqual(parent, ['new', 'running', 'blocked', 'running', 'zombie']);
});

test('segments at a moment are clipped', () => {
  const l = new Lanes();
  l.applyAll(forkRun());
  const at = l.segmentsAt('p4243', 1000000);
  assert.deepEqual(at.map((s) => [s.state, s.t1, s.open]), [
    ['new', 960000, false],
    ['ready', 980000, false],
    ['running', 1000000, true],
  ]);
  assert.equal(l.segmentAt('p4243', 970000).state, 'ready');
  assert.equal(l.segmentAt('p4243', 5000000), null);
  assert.equal(l.segmentAt('p4243', 1), null);
  const tot = l.totals('p4243');
  assert.equal(tot.running, 220000);
});

test('open segments end at the latest time; threads follow their process', () => {
  const l = new Lanes();
  const ev = pipeSignalRun();
  l.applyAll(ev.slice(0, 14));
  assert.deepEqual(l.order, ['p10', 'p11', 't11.12']);
  const segs = l.segmentsAt('p10');
  assert.equal(segs[segs.length - 1].t1, l.end);
  l.applyAll(ev.slice(14));
  assert.equal(l.lanes.get('t11.12').closed, 67);
  assert.equal(l.lanes.get('p11').closed, 130); // closed at run.finished
});

test('time ticks and durations', () => {
  const ticks = timeTicks(3.3e6, 6);
  assert.equal(ticks[0].t, 0);
  assert.ok(ticks.length >= 4 && ticks.length <= 8);
  assert.equal(ticks[1].label, '1 ms');
  assert.equal(timeTicks(2e6, 4)[1].label, '500 µs');
  assert.equal(formatDuration(1.5e9), '1.5 s');
  assert.equal(formatDuration(12e6), '12 ms');
  assert.equal(formatDuration(0), '0');
});
