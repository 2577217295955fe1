// Swimlane segments: one lane per process (and per thread), each a list of
// {state, stat, t0, t1} intervals: the textbook Gantt chart of the real run.
// Incremental (apply one event at a time) and pure (no DOM).

export class Lanes {
  constructor() {
    this.reset();
  }

  reset() {
    this.lanes = new Map(); // key -> lane
    this.order = []; // lane keys, in display order (threads after their process)
    this.end = 0; // largest t seen
    this.finishedT = null;
    this.version = 0; // bumps when lanes are added (layout changes)
    this.initPid = null;
  }

  _lane(key, pid, tid, t) {
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { key, pid, tid, name: null, segments: [], start: t, closed: null, depth: 0 };
      this.lanes.set(key, lane);
      if (tid == null) {
        this.order.push(key);
      } else {
        // after the process lane and its other threads
        const pkey = `p${pid}`;
        let idx = this.order.indexOf(pkey);
        if (idx < 0) {
          this.order.push(key);
        } else {
          idx += 1;
          while (idx < this.order.length && this.lanes.get(this.order[idx]).pid === pid && this.lanes.get(this.order[idx]).tid != null) idx += 1;
          this.order.splice(idx, 0, key);
        }
      }
      this.version += 1;
    }
    return lane;
  }

  _set(lane, state, stat, t, reason = null, why = null) {
    const segs = lane.segments;
    const last = segs.length ? segs[segs.length - 1] : null;
    if (last && last.t1 == null) {
      if (last.state === state) {
        if (stat) last.stat = stat;
        if (reason) last.reason = reason;
        if (why) last.why = why;
        return;
      }
      if (t < last.t0) t = last.t0;
      last.t1 = t;
    } else if (last && last.t1 != null && t < last.t1) {
      t = last.t1;
    }
    segs.push({ state, stat: stat || '', reason, why, t0: t, t1: null });
  }

  _close(lane, t) {
    const segs = lane.segments;
    const last = segs.length ? segs[segs.length - 1] : null;
    if (last && last.t1 == null) last.t1 = Math.max(t, last.t0);
    lane.closed = t;
  }

  apply(ev) {
    if (!ev || typeof ev !== 'object') return;
    const t = Number.isFinite(ev.t) ? ev.t : this.end;
    if (t > this.end) this.end = t;
    switch (ev.type) {
      case 'run.started':
        this.initPid = ev.init_pid ?? null;
        break;
      case 'proc.spawn': {
        const lane = this._lane(`p${ev.pid}`, ev.pid, null, t);
        lane.name = ev.name ?? lane.name;
        lane.start = Math.min(lane.start, t);
        if (!lane.segments.length) this._set(lane, 'new', '', t);
        break;
      }
      case 'proc.exec': {
        const lane = this._lane(`p${ev.pid}`, ev.pid, null, t);
        if (Array.isArray(ev.argv) && ev.argv.length) {
          const a0 = ev.argv[0];
          lane.name = a0.slice(a0.lastIndexOf('/') + 1);
        }
        break;
      }
      case 'proc.state': {
        const lane = this._lane(`p${ev.pid}`, ev.pid, null, t);
        if (lane.closed != null) break;
        this._set(lane, ev.state, ev.stat, t, ev.reason ?? null, ev.why ?? null);
        break;
      }
      case 'proc.exit': {
        const lane = this._lane(`p${ev.pid}`, ev.pid, null, t);
        if (lane.closed != null) break;
        this._set(lane, 'zombie', 'Z', t);
        for (const key of this.order) {
          const l = this.lanes.get(key);
          if (l.pid === ev.pid && l.tid != null && l.closed == null) this._close(l, t);
        }
        break;
      }
      case 'proc.reaped': {
        const lane = this._lane(`p${ev.pid}`, ev.pid, null, t);
        if (lane.closed == null) this._close(lane, t);
        break;
      }
      case 'proc.thread.spawn': {
        const lane = this._lane(`t${ev.pid}.${ev.tid}`, ev.pid, ev.tid, t);
        lane.name = ev.name ?? lane.name;
        if (!lane.segments.length) this._set(lane, 'new', '', t);
        break;
      }
      case 'proc.thread.state': {
        const lane = this._lane(`t${ev.pid}.${ev.tid}`, ev.pid, ev.tid, t);
        if (lane.closed != null) break;
        this._set(lane, ev.state, ev.stat, t, ev.reason ?? null, ev.why ?? null);
        break;
      }
      case 'proc.thread.exit': {
        const lane = this._lane(`t${ev.pid}.${ev.tid}`, ev.pid, ev.tid, t);
        if (lane.closed == null) this._close(lane, t);
        break;
      }
      case 'run.finished':
        this.finishedT = t;
        for (const lane of this.lanes.values()) if (lane.closed == null) this._close(lane, t);
        break;
      default:
        break;
    }
  }

  applyAll(events) {
    for (const ev of events) this.apply(ev);
  }

  /**
   * Segments of a lane as seen at time T (ns): later segments dropped, the
   * open or crossing one clipped at T. `now` is where open segments end.
   */
  segmentsAt(key, T = Infinity, now = this.end) {
    const lane = this.lanes.get(key);
    if (!lane) return [];
    const out = [];
    for (const s of lane.segments) {
      if (s.t0 > T) break;
      const end = Math.min(s.t1 == null ? Math.max(now, s.t0) : s.t1, T);
      out.push({ state: s.state, stat: s.stat, reason: s.reason, why: s.why ?? null, t0: s.t0, t1: end, open: s.t1 == null || s.t1 > T });
    }
    return out;
  }

  /** The segment of a lane covering time T, or null. */
  segmentAt(key, T) {
    const lane = this.lanes.get(key);
    if (!lane) return null;
    const segs = lane.segments;
    let lo = 0;
    let hi = segs.length - 1;
    let found = null;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (segs[mid].t0 <= T) {
        found = segs[mid];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (!found) return null;
    if (found.t1 != null && found.t1 < T) return null;
    return found;
  }

  /** Total time spent in each state by one lane (ns), up to T. */
  totals(key, T = Infinity) {
    const out = {};
    for (const s of this.segmentsAt(key, T)) out[s.state] = (out[s.state] || 0) + (s.t1 - s.t0);
    return out;
  }
}

/** "Nice" tick positions for a time axis from 0 to span (ns): [{t, label}] */
export function timeTicks(span, maxTicks = 8) {
  if (!(span > 0)) return [{ t: 0, label: '0' }];
  const raw = span / Math.max(1, maxTicks);
  const pow = 10 ** Math.floor(Math.log10(raw));
  let step = pow;
  for (const m of [1, 2, 5, 10]) {
    if (pow * m >= raw) {
      step = pow * m;
      break;
    }
  }
  const ticks = [];
  for (let t = 0; t <= span + step * 1e-9; t += step) ticks.push({ t, label: formatDuration(t, step) });
  return ticks;
}

/** Human duration from ns: "0", "250 µs", "12 ms", "1.5 s". */
export function formatDuration(ns, step = ns) {
  if (!ns) return '0';
  if (step >= 1e9 || ns >= 10e9) return `${trimNum(ns / 1e9)} s`;
  if (step >= 1e6 || ns >= 10e6) return `${trimNum(ns / 1e6)} ms`;
  if (step >= 1e3) return `${trimNum(ns / 1e3)} µs`;
  return `${Math.round(ns)} ns`;
}

function trimNum(x) {
  const s = x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}
