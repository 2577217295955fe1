import test from 'node:test';
import assert from 'node:assert/strict';
import { RunStream, parseFrame, wsUrl } from '../../static/js/stream.js';

class FakeWS {
  static all = [];
  constructor(url) {
    this.url = url;
    FakeWS.all.push(this);
  }
  close() {
    this.onclose && this.onclose();
  }
}

function fakeTimers() {
  const q = [];
  return { q, setTimeout: (f, ms) => { q.push({ f, ms }); return q.length; }, clearTimeout: () => {} };
}

const ev = (seq, type = 'io.output') => ({ v: 1, seq, t: seq * 10, type });

test('parseFrame accepts one event or a list', () => {
  assert.equal(parseFrame('{"seq":1}').length, 1);
  assert.equal(parseFrame('[{"seq":1},{"seq":2}]').length, 2);
  assert.deepEqual(parseFrame('not json'), []);
  assert.deepEqual(parseFrame('3'), []);
});

test('wsUrl', () => {
  assert.equal(wsUrl('abc', -1, { protocol: 'http:', host: 'h:1' }), 'ws://h:1/ws/runs/abc');
  assert.equal(wsUrl('abc', 7, { protocol: 'https:', host: 'h' }), 'wss://h/ws/runs/abc?after=7');
});

test('reconnects after a drop from the last seq, without duplicates', () => {
  FakeWS.all = [];
  const timers = fakeTimers();
  const got = [];
  const statuses = [];
  const s = new RunStream({
    runId: 'r1', WebSocketImpl: FakeWS, timers,
    urlFor: (id, after) => `ws://x/ws/runs/${id}${after >= 0 ? `?after=${after}` : ''}`,
    onEvents: (e) => got.push(...e.map((x) => x.seq)),
    onStatus: (x) => statuses.push(x),
  }).start();
  const ws1 = FakeWS.all[0];
  assert.equal(ws1.url, 'ws://x/ws/runs/r1');
  ws1.onopen();
  ws1.onmessage({ data: JSON.stringify([ev(0), ev(1), ev(2)]) });
  ws1.onmessage({ data: JSON.stringify(ev(2)) }); // duplicate
  ws1.onclose(); // dropped
  assert.equal(timers.q.length, 1);
  timers.q[0].f();
  const ws2 = FakeWS.all[1];
  assert.equal(ws2.url, 'ws://x/ws/runs/r1?after=2');
  ws2.onopen();
  ws2.onmessage({ data: JSON.stringify([ev(1), ev(3), ev(4, 'run.finished')]) });
  ws2.onclose();
  assert.deepEqual(got, [0, 1, 2, 3, 4]);
  assert.equal(timers.q.length, 1, 'no reconnect after run.finished');
  assert.ok(statuses.includes('reconnecting'));
  assert.equal(s.status, 'finished');
});

test('back-off grows and stop() ends it', () => {
  FakeWS.all = [];
  const timers = fakeTimers();
  const s = new RunStream({ runId: 'r', WebSocketImpl: FakeWS, timers, backoff: [10, 20, 40] }).start();
  FakeWS.all[0].onclose();
  timers.q[0].f();
  FakeWS.all[1].onclose();
  timers.q[1].f();
  FakeWS.all[2].onclose();
  assert.deepEqual(timers.q.map((x) => x.ms), [10, 20, 40]);
  s.stop();
  assert.equal(s.status, 'closed');
});

test('falls back to HTTP polling while the socket cannot connect', async () => {
  FakeWS.all = [];
  const timers = fakeTimers();
  const got = [];
  const asked = [];
  const s = new RunStream({
    runId: 'r', WebSocketImpl: FakeWS, timers, backoff: [10, 20, 40], pollAfterFailures: 2,
    poll: async (after) => {
      asked.push(after);
      return after < 1 ? [ev(0), ev(1)] : [ev(1), ev(2, 'run.finished')];
    },
    onEvents: (e) => got.push(...e.map((x) => x.seq)),
  }).start();
  FakeWS.all[0].onclose(); // attempt 1: no polling yet
  assert.equal(asked.length, 0);
  timers.q.shift().f();
  FakeWS.all[1].onclose(); // attempt 2: polling starts
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(asked, [-1]);
  // the next poll is scheduled after the reconnect timer
  const pollTimer = timers.q.find((x) => x.ms === 700);
  pollTimer.f();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(asked, [-1, 1]);
  assert.deepEqual(got, [0, 1, 2]);
  assert.equal(s.finished, true);
  assert.equal(s.polling, false);
});
