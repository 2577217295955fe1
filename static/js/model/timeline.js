// Time scrubbing: the full event list of a run, the live state, and the
// state at any earlier moment (by number of events or by time).
// Pure logic, no DOM.
//
// "The moment T" is the longest prefix of the stream (in seq order) whose
// events all happened at or before T. `t` is non-decreasing only per source,
// so the prefix is found on the running maximum of `t`, which is monotonic.

import { createState, applyEvent } from './reducer.js';

const clone = typeof structuredClone === 'function'
  ? structuredClone
  : (x) => { throw new Error('structuredClone is required'); };

export class Timeline {
  constructor({ checkpointEvery = 400 } = {}) {
    this.checkpointEvery = checkpointEvery;
    this.reset();
  }

  reset() {
    this.events = [];
    this.maxT = []; // maxT[i] = max t of events[0..i]
    this.lastSeq = -1;
    this.live = createState();
    this.checkpoints = [{ n: 0, state: createState() }];
    this._cursor = null; // {n, state} cache of the last stateAt()
  }

  get length() {
    return this.events.length;
  }

  /** End of the recorded time (ns). */
  get duration() {
    const n = this.maxT.length;
    return n ? this.maxT[n - 1] : 0;
  }

  /**
   * Append events (any batch, possibly overlapping with what is known).
   * Events with seq <= the last seq are dropped as duplicates.
   * Returns the accepted events, in order.
   */
  append(batch) {
    const list = Array.isArray(batch) ? batch : [batch];
    const accepted = [];
    for (const ev of list) {
      if (!ev || typeof ev !== 'object') continue;
      if (Number.isFinite(ev.seq)) {
        if (ev.seq <= this.lastSeq) continue;
        this.lastSeq = ev.seq;
      }
      const prevMax = this.maxT.length ? this.maxT[this.maxT.length - 1] : 0;
      const t = Number.isFinite(ev.t) ? ev.t : prevMax;
      this.events.push(ev);
      this.maxT.push(Math.max(prevMax, t));
      applyEvent(this.live, ev);
      accepted.push(ev);
      const n = this.events.length;
      if (n % this.checkpointEvery === 0) this.checkpoints.push({ n, state: clone(this.live) });
    }
    return accepted;
  }

  /** Number of events that happened at or before time T (ns). */
  countAtTime(T) {
    // upper bound: first index with maxT > T
    let lo = 0;
    let hi = this.maxT.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.maxT[mid] <= T) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Time of the moment after the first n events. */
  timeAtCount(n) {
    if (n <= 0) return 0;
    return this.maxT[Math.min(n, this.maxT.length) - 1];
  }

  /** Number of events with seq <= S. */
  countAtSeq(S) {
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.events[mid].seq ?? mid) <= S) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * The state after the first n events. The returned object is shared with
   * the timeline's cache: read it, do not modify it.
   */
  stateAt(n) {
    n = Math.max(0, Math.min(n, this.events.length));
    if (n === this.events.length) return this.live;
    const c = this._cursor;
    if (c && c.n === n) return c.state;
    let base;
    if (c && c.n < n && n - c.n <= this.checkpointEvery) {
      base = c; // move forward from the cached moment
    } else {
      let lo = 0;
      let hi = this.checkpoints.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1;
        if (this.checkpoints[mid].n <= n) lo = mid;
        else hi = mid - 1;
      }
      const cp = this.checkpoints[lo];
      base = { n: cp.n, state: clone(cp.state) };
    }
    for (let i = base.n; i < n; i++) applyEvent(base.state, this.events[i]);
    base.n = n;
    this._cursor = base;
    return base.state;
  }

  /** The state at time T (ns). */
  stateAtTime(T) {
    return this.stateAt(this.countAtTime(T));
  }

  /** Events [from, to) as a slice. */
  slice(from, to) {
    return this.events.slice(from, to);
  }
}
