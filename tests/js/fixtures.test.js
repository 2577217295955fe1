// Real runs captured with `python -m app run lessons/<x>/main.py --json`.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Timeline } from '../../static/js/model/timeline.js';
import { Lanes } from '../../static/js/model/lanes.js';
import { layoutTree, treeNodes } from '../../static/js/model/layout.js';
import { stopReason } from '../../static/js/model/reducer.js';
import { explainStop } from '../../static/js/model/explain.js';
import { translate } from '../../static/js/i18n.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const load = (f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const files = readdirSync(dir).filter((f) => f.endsWith('.ndjson'));

test('fixtures exist', () => assert.ok(files.length >= 3));

for (const f of files) {
  test(`real run ${f}: every view model accepts it`, () => {
    const events = load(f);
    const tl = new Timeline({ checkpointEvery: 50 });
    tl.append(events);
    const s = tl.live;
    assert.equal(s.status, 'finished');
    assert.ok(s.order.length >= 1);
    // every process of a finished run has been collected
    for (const p of s.procs.values()) assert.equal(p.state, 'terminated', `${f}: pid ${p.pid} is ${p.state}`);
    const lanes = new Lanes();
    lanes.applyAll(events);
    for (const key of lanes.order) {
      for (const seg of lanes.lanes.get(key).segments) assert.ok(seg.t1 >= seg.t0, `${f}: ${key} segment goes back in time`);
    }
    const lay = layoutTree(treeNodes(s));
    assert.equal(lay.pos.size, s.order.length + 1);
    // scrubbing: the middle of the run is consistent with a fresh reduction
    const mid = Math.floor(events.length / 2);
    assert.equal(tl.stateAt(mid).count, mid);
    const e = explainStop(stopReason(s), (k, p) => translate('en', k, p), 'en');
    assert.ok(e && e.lines.length > 0);
  });
}

test('the zombie lesson shows a zombie; the orphan lesson an adoption by init', () => {
  const z = new Timeline();
  z.append(load('04-zombie.ndjson'));
  assert.ok(z.live.edges.get('running>zombie') || z.live.edges.get('blocked>zombie'));
  const o = new Timeline();
  o.append(load('03-orphan.ndjson'));
  const adopted = [...o.live.procs.values()].filter((p) => p.adopted);
  assert.equal(adopted.length, 1);
  assert.equal(adopted[0].reapedBy, o.live.initPid);
});
