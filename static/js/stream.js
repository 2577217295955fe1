// WebSocket event stream of a run, with reconnection.
//
//   const s = new RunStream({runId, onEvents, onStatus});
//   s.start();
//
// Each frame holds one event or a JSON array of events. The server closes
// the socket after run.finished. After a drop, the stream reconnects with
// ?after=<last seq seen>, so no event is missed and none is delivered twice
// (duplicates are dropped here as well, by seq).
// The WebSocket constructor and timers are injectable for tests.

export function wsUrl(runId, after, loc = (typeof location !== 'undefined' ? location : null)) {
  const proto = loc && loc.protocol === 'https:' ? 'wss:' : 'ws:';
  const host = loc ? loc.host : 'localhost';
  const q = after != null && after >= 0 ? `?after=${encodeURIComponent(after)}` : '';
  return `${proto}//${host}/ws/runs/${encodeURIComponent(runId)}${q}`;
}

/** Parse one frame into a list of events (invalid frames give []). */
export function parseFrame(data) {
  let v;
  try {
    v = typeof data === 'string' ? JSON.parse(data) : data;
  } catch {
    return [];
  }
  if (Array.isArray(v)) return v.filter((e) => e && typeof e === 'object');
  if (v && typeof v === 'object') return [v];
  return [];
}

export class RunStream {
  constructor({
    runId,
    after = -1,
    onEvents = () => {},
    onStatus = () => {},
    WebSocketImpl = (typeof WebSocket !== 'undefined' ? WebSocket : null),
    urlFor = wsUrl,
    timers = { setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (h) => clearTimeout(h) },
    backoff = [250, 500, 1000, 2000, 4000, 8000],
    poll = null, // async (afterSeq) => events: HTTP fallback while the socket cannot connect
    pollEvery = 700,
    pollAfterFailures = 3,
    dedupe = true, // drop events with seq <= the last one (one run per stream)
    endOnFinish = true, // run.finished ends the stream (a classroom stream goes on)
  }) {
    this.dedupe = dedupe;
    this.poll = poll;
    this.pollEvery = pollEvery;
    this.pollAfterFailures = pollAfterFailures;
    this.polling = false;
    this.pollTimer = null;
    this.endOnFinish = endOnFinish;
    this.runId = runId;
    this.lastSeq = after;
    this.onEvents = onEvents;
    this.onStatus = onStatus;
    this.WS = WebSocketImpl;
    this.urlFor = urlFor;
    this.timers = timers;
    this.backoff = backoff;
    this.attempt = 0;
    this.finished = false;
    this.stopped = false;
    this.ws = null;
    this.timer = null;
    this.status = 'idle';
    this.connects = 0;
  }

  _setStatus(s) {
    if (s !== this.status) {
      this.status = s;
      this.onStatus(s);
    }
  }

  start() {
    this.stopped = false;
    this._connect();
    return this;
  }

  stop() {
    this.stopped = true;
    this._stopPolling();
    if (this.timer != null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    if (this.ws) {
      try {
        this.ws.close();
      } catch {
        /* already closed */
      }
    }
    this.ws = null;
    this._setStatus('closed');
  }

  _connect() {
    if (this.stopped || this.finished || !this.WS) return;
    this.timer = null;
    this.connects += 1;
    this._setStatus(this.connects > 1 ? 'reconnecting' : 'connecting');
    let ws;
    try {
      ws = new this.WS(this.urlFor(this.runId, this.lastSeq));
    } catch {
      this._retry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.attempt = 0;
      this._stopPolling();
      this._setStatus('open');
    };
    ws.onmessage = (msg) => {
      if (this.ws !== ws) return;
      this.receive(msg.data);
    };
    ws.onerror = () => {
      /* onclose follows */
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.finished) this._setStatus('finished');
      else if (!this.stopped) this._retry();
    };
  }

  _retry() {
    if (this.stopped || this.finished) return;
    const delay = this.backoff[Math.min(this.attempt, this.backoff.length - 1)];
    this.attempt += 1;
    this._setStatus('reconnecting');
    this.timer = this.timers.setTimeout(() => this._connect(), delay);
    // the socket keeps failing (a proxy without WebSocket, a blocked port):
    // fetch the events over HTTP meanwhile, from the same last seq
    if (this.poll && this.attempt >= this.pollAfterFailures && !this.polling) {
      this.polling = true;
      this._pollOnce();
    }
  }

  async _pollOnce() {
    if (!this.polling || this.stopped || this.finished) {
      this.polling = false;
      return;
    }
    try {
      const events = await this.poll(this.lastSeq);
      if (this.polling && Array.isArray(events) && events.length) this.receive(events);
    } catch {
      /* try again later */
    }
    if (this.finished) {
      this.polling = false;
      if (this.timer != null) this.timers.clearTimeout(this.timer);
      this.timer = null;
      return;
    }
    if (this.polling && !this.stopped) this.pollTimer = this.timers.setTimeout(() => this._pollOnce(), this.pollEvery);
  }

  _stopPolling() {
    this.polling = false;
    if (this.pollTimer != null) this.timers.clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }

  /** Handle one frame (public for tests and for the polling fallback). */
  receive(data) {
    const fresh = [];
    for (const ev of parseFrame(data)) {
      if (this.dedupe && Number.isFinite(ev.seq)) {
        if (ev.seq <= this.lastSeq) continue;
        this.lastSeq = ev.seq;
      }
      fresh.push(ev);
      if (ev.type === 'run.finished' && this.endOnFinish) this.finished = true;
    }
    if (fresh.length) this.onEvents(fresh);
    if (this.finished) this._setStatus('finished');
    return fresh;
  }
}
