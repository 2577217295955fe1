// Pure run-state reducer: events (docs/events.md, v1) -> per-process state.
// No DOM use; unit-tested with `node --test tests/js/`.
//
//   const s = createState();
//   for (const ev of events) applyEvent(s, ev);
//   s.procs.get(pid) -> {pid, ppid, state, stat, why, reason, name, argv, ...}
//
// The state is made of plain objects, arrays and Maps so that
// structuredClone() copies it (used by the timeline checkpoints).

/** The textbook states, plus the two shown outside the five-state model. */
export const STATES = ['new', 'ready', 'running', 'blocked', 'stopped', 'zombie', 'terminated'];

/** States of a process that still exists in the kernel (not reaped). */
export const LIVE_STATES = new Set(['new', 'ready', 'running', 'blocked', 'stopped', 'zombie']);

const KEEP_RECENT = 400; // recent transfers / signals / ops kept in the state

export function createState() {
  return {
    seq: -1, // seq of the last applied event
    t: 0, // largest t seen (ns)
    count: 0, // events applied
    status: 'idle', // idle | queued | running | finished
    queuePosition: null,
    lesson: null,
    rootPid: null,
    initPid: null,
    pidNs: false,
    layers: [],
    limits: {},
    pace: { mode: 'normal', delay_ms: 0 },
    limitsFired: [], // run.limit events
    errors: [], // run.error details
    finished: null, // the run.finished event
    procs: new Map(), // pid -> process record
    order: [], // pids in order of first appearance
    channels: new Map(), // channel id -> channel record
    channelOrder: [],
    transfers: [], // recent ipc.transfer (trimmed)
    transferCount: 0,
    signals: [], // recent signal.sent (trimmed)
    signalCount: 0,
    edges: new Map(), // "from>to" -> number of times a process took this edge
    outputBytes: 0,
    outputEvents: 0,
    truncatedBytes: 0,
    inputs: [],
    lastTransition: null,
  };
}

function newProc(state, pid, t, seq) {
  const p = {
    pid,
    ppid: null,
    originalPpid: null,
    how: null,
    name: null,
    argv: null,
    execs: [],
    execFailed: null, // the last exec* that returned: {argv, path, error, errno, t, seq}
    state: 'new',
    prev: null,
    stat: '',
    reason: null, // English, from the event (old recordings only have this)
    why: null, // {code, ...params}: what the UI renders
    stateSince: t,
    inferred: false, // state not read from the kernel (exit seen before Z)
    exited: false,
    exit: null, // {code, signal, core}
    reaped: false,
    reapedBy: null,
    reapCall: null,
    spawnT: t,
    spawnSeq: seq,
    exitT: null,
    reapT: null,
    line: null, // {file, line}: last traced source line
    lineSeq: -1,
    threads: new Map(),
    handlers: {},
    reparents: [], // {from, to, t, seq}
    adopted: false,
    signalsIn: [], // {signal, from, t, seq, action}
    lastEdge: null, // {from, to, t, seq}
    transitions: 0,
    outputBytes: 0,
    colorIndex: state.order.length,
    synthetic: true, // created because an event named it before proc.spawn
  };
  state.procs.set(pid, p);
  state.order.push(pid);
  return p;
}

/** The record of `pid`, created if the stream has not announced it yet. */
export function ensureProc(state, pid, t = 0, seq = -1) {
  if (pid === null || pid === undefined) return null;
  const p = state.procs.get(pid);
  return p || newProc(state, pid, t, seq);
}

function trim(arr) {
  if (arr.length > KEEP_RECENT * 1.5) arr.splice(0, arr.length - KEEP_RECENT);
}

function setLine(p, line, seq) {
  if (p && line && typeof line === 'object' && line.line != null) {
    p.line = { file: line.file, line: line.line };
    p.lineSeq = seq;
  }
}

function transition(state, p, to, ev, extra = {}) {
  const from = p.state;
  if (from !== to) {
    const key = `${from}>${to}`;
    state.edges.set(key, (state.edges.get(key) || 0) + 1);
    p.prev = from;
    p.state = to;
    p.stateSince = ev.t;
    p.transitions += 1;
    p.lastEdge = { from, to, t: ev.t, seq: ev.seq };
    state.lastTransition = { pid: p.pid, from, to, t: ev.t, seq: ev.seq };
  }
  Object.assign(p, extra);
}

function basename(path) {
  if (typeof path !== 'string') return '';
  const i = path.lastIndexOf('/');
  return i >= 0 ? path.slice(i + 1) : path;
}

// One handler per event type: (state, ev, t, seq), mutating state.
const HANDLERS = {
  'run.queued'(state, ev, t, seq) {
    if (state.status === 'idle') state.status = 'queued';
    state.queuePosition = ev.position ?? null;
  },
  'run.started'(state, ev, t, seq) {
    state.status = 'running';
    state.queuePosition = null;
    state.rootPid = ev.root_pid ?? null;
    state.initPid = ev.init_pid ?? null;
    state.layers = ev.layers || [];
    state.limits = ev.limits || {};
    state.lesson = ev.lesson ?? null;
    state.pidNs = !!ev.pid_ns;
  },
  'run.pace'(state, ev, t, seq) {
    state.pace = { mode: ev.mode, delay_ms: ev.delay_ms ?? 0 };
  },
  'run.limit'(state, ev, t, seq) {
    state.limitsFired.push({ limit: ev.limit, detail: ev.detail, params: ev.params || null, message: ev.message || null, t, seq });
  },
  'run.error'(state, ev, t, seq) {
    state.errors.push(ev.detail);
  },
  'run.finished'(state, ev, t, seq) {
    state.status = 'finished';
    state.finished = ev;
  },
  'proc.spawn'(state, ev, t, seq) {
    const p = ensureProc(state, ev.pid, t, seq);
    p.synthetic = false;
    p.ppid = ev.ppid ?? p.ppid;
    p.originalPpid = ev.ppid ?? p.originalPpid;
    p.how = ev.how ?? null;
    if (ev.name) p.name = ev.name;
    p.spawnT = Math.min(p.spawnT ?? t, t);
    p.spawnSeq = seq;
    setLine(p, ev.line, seq);
    if (ev.how === 'root' && state.rootPid == null) state.rootPid = ev.pid;
  },
  'proc.exec'(state, ev, t, seq) {
    const p = ensureProc(state, ev.pid, t, seq);
    p.argv = Array.isArray(ev.argv) ? ev.argv.slice() : null;
    p.execs.push({ argv: p.argv, t, seq });
    if (p.argv && p.argv.length) p.name = basename(p.argv[0]);
    setLine(p, ev.line, seq);
  },
  'proc.exec.failed'(state, ev, t, seq) {
    // The call returned: the process keeps its program (and its name); the attempt is part of its story.
    const p = ensureProc(state, ev.pid, t, seq);
    p.execFailed = {
      argv: Array.isArray(ev.argv) ? ev.argv.slice() : [],
      path: typeof ev.path === 'string' ? ev.path : null,
      error: typeof ev.error === 'string' ? ev.error : 'unknown',
      errno: Number.isInteger(ev.errno) ? ev.errno : null,
      t,
      seq,
    };
    setLine(p, ev.line, seq);
  },
  'proc.state'(state, ev, t, seq) {
    const p = ensureProc(state, ev.pid, t, seq);
    if (p.reaped) return; // a late sample of a collected process
    transition(state, p, ev.state, { t, seq }, {
      stat: ev.stat ?? p.stat,
      reason: ev.reason ?? null,
      why: ev.why ?? null,
      inferred: false,
    });
  },
  'proc.reparent'(state, ev, t, seq) {
    const p = ensureProc(state, ev.pid, t, seq);
    p.reparents.push({ from: ev.old_ppid, to: ev.new_ppid, t, seq });
    p.ppid = ev.new_ppid;
    p.adopted = state.initPid != null && ev.new_ppid === state.initPid;
  },
  'proc.exit'(state, ev, t, seq) {
    const p = ensureProc(state, ev.pid, t, seq);
    p.exited = true;
    p.exit = { code: ev.code ?? null, signal: ev.signal ?? null, core: !!ev.core };
    p.exitT = t;
    p.reason = null;
    p.why = null;
    // Exited but not yet collected is a zombie by definition; mark it as
    // inferred when the sampler did not report the Z itself.
    if (!p.reaped && p.state !== 'zombie') transition(state, p, 'zombie', { t, seq }, { inferred: true });
    for (const th of p.threads.values()) th.alive = false;
  },
  'proc.reaped'(state, ev, t, seq) {
    const p = ensureProc(state, ev.pid, t, seq);
    if (!p.exited) {
      p.exited = true;
      p.exitT = t;
    }
    p.reaped = true;
    p.reapedBy = ev.by ?? null;
    p.reapCall = ev.call ?? null;
    p.reapT = t;
    p.reason = null;
    p.why = null;
    transition(state, p, 'terminated', { t, seq }, {});
    for (const th of p.threads.values()) th.alive = false;
  },
  'proc.wait'(state, ev, t, seq) {
    const p = ensureProc(state, ev.pid, t, seq);
    setLine(p, ev.line, seq);
    p.lastWait = { call: ev.call, target: ev.target ?? null, result: ev.result, status: ev.status ?? null, t, seq };
  },
  'proc.thread.spawn'(state, ev, t, seq) {
    const p = ensureProc(state, ev.pid, t, seq);
    let th = p.threads.get(ev.tid);
    if (!th) {
      th = { tid: ev.tid, pid: ev.pid, name: ev.name ?? null, state: 'new', stat: '', reason: null, why: null, alive: true, spawnT: t, exitT: null };
      p.threads.set(ev.tid, th);
    } else if (ev.name) th.name = ev.name;
  },
  'proc.thread.state'(state, ev, t, seq) {
    const p = ensureProc(state, ev.pid, t, seq);
    let th = p.threads.get(ev.tid);
    if (!th) {
      th = { tid: ev.tid, pid: ev.pid, name: null, state: 'new', stat: '', reason: null, why: null, alive: true, spawnT: t, exitT: null };
      p.threads.set(ev.tid, th);
    }
    th.state = ev.state;
    th.stat = ev.stat ?? th.stat;
    th.reason = ev.reason ?? null;
    th.why = ev.why ?? null;
  },
  'proc.thread.exit'(state, ev, t, seq) {
    const p = ensureProc(state, ev.pid, t, seq);
    const th = p.threads.get(ev.tid);
    if (th) {
      th.alive = false;
      th.exitT = t;
      th.state = 'terminated';
    }
  },
  'proc.line'(state, ev, t, seq) {
    const p = ensureProc(state, ev.pid, t, seq);
    setLine(p, ev.line, seq);
  },
  'io.output'(state, ev, t, seq) {
    const p = ensureProc(state, ev.pid, t, seq);
    const n = typeof ev.text === 'string' ? ev.text.length : 0;
    p.outputBytes += n;
    state.outputBytes += n;
    state.outputEvents += 1;
  },
  'io.truncated'(state, ev, t, seq) {
    state.truncatedBytes += ev.bytes || 0;
  },
  'io.input'(state, ev, t, seq) {
    state.inputs.push({ text: ev.text, t, seq });
  },
  'ipc.channel'(state, ev, t, seq) {
    let ch = state.channels.get(ev.channel);
    if (!ch) {
      ch = {
        id: ev.channel, kind: ev.kind, name: ev.name ?? null, line: ev.line ?? null, t, seq,
        ends: new Map(), written: 0, read: 0, transfers: 0, ops: 0,
        value: undefined, lastOp: null, lastTransfer: null, closed: false,
      };
      state.channels.set(ev.channel, ch);
      state.channelOrder.push(ev.channel);
    } else {
      ch.kind = ev.kind || ch.kind;
      if (ev.name) ch.name = ev.name;
    }
  },
  'ipc.end'(state, ev, t, seq) {
    const ch = ensureChannel(state, ev.channel, t, seq);
    const key = `${ev.pid}:${ev.fd ?? ''}:${ev.end}`;
    let end = ch.ends.get(key);
    if (!end) {
      end = { pid: ev.pid, fd: ev.fd ?? null, end: ev.end, open: true, t };
      ch.ends.set(key, end);
    }
    end.open = ev.action !== 'close';
    end.t = t;
    ensureProc(state, ev.pid, t, seq);
  },
  'ipc.transfer'(state, ev, t, seq) {
    const ch = ensureChannel(state, ev.channel, t, seq);
    const bytes = ev.bytes || 0;
    if (ev.direction === 'read') ch.read += bytes;
    else ch.written += bytes;
    ch.transfers += 1;
    const rec = { seq, t, channel: ev.channel, pid: ev.pid, direction: ev.direction, bytes, preview: ev.preview ?? '' };
    ch.lastTransfer = rec;
    state.transfers.push(rec);
    state.transferCount += 1;
    trim(state.transfers);
    setLine(ensureProc(state, ev.pid, t, seq), ev.line, seq);
  },
  'ipc.op'(state, ev, t, seq) {
    const ch = ensureChannel(state, ev.channel, t, seq);
    ch.ops += 1;
    ch.lastOp = { pid: ev.pid, op: ev.op, value: ev.value, t, seq };
    if (ev.value !== undefined) ch.value = ev.value;
    setLine(ensureProc(state, ev.pid, t, seq), ev.line, seq);
  },
  'signal.sent'(state, ev, t, seq) {
    const rec = { seq, t, from: ev.from ?? null, to: ev.to, signal: ev.signal, action: null };
    state.signals.push(rec);
    state.signalCount += 1;
    trim(state.signals);
    if (ev.from != null && ev.from !== state.initPid) setLine(ensureProc(state, ev.from, t, seq), ev.line, seq);
    const target = ev.to > 0 ? state.procs.get(ev.to) : null;
    if (target) {
      target.signalsIn.push({ signal: ev.signal, from: ev.from ?? null, t, seq, action: null });
      if (target.signalsIn.length > 50) target.signalsIn.shift();
    }
  },
  'signal.handler'(state, ev, t, seq) {
    const p = ensureProc(state, ev.pid, t, seq);
    p.handlers[ev.signal] = ev.handler;
    setLine(p, ev.line, seq);
  },
  'signal.handled'(state, ev, t, seq) {
    const p = ensureProc(state, ev.pid, t, seq);
    for (let i = p.signalsIn.length - 1; i >= 0; i--) {
      const s = p.signalsIn[i];
      if (s.signal === ev.signal && s.action == null) {
        s.action = ev.action;
        break;
      }
    }
    p.lastHandled = { signal: ev.signal, action: ev.action, t, seq };
  },
};

/** Apply one event to the state (mutates it). Unknown types are counted and ignored. */
export function applyEvent(state, ev) {
  if (!ev || typeof ev !== 'object') return state;
  const t = Number.isFinite(ev.t) ? ev.t : state.t;
  if (Number.isFinite(ev.seq)) state.seq = Math.max(state.seq, ev.seq);
  if (t > state.t) state.t = t;
  state.count += 1;
  const handler = Object.prototype.hasOwnProperty.call(HANDLERS, ev.type) ? HANDLERS[ev.type] : null;
  if (handler) handler(state, ev, t, ev.seq);
  return state;
}

function ensureChannel(state, id, t, seq) {
  let ch = state.channels.get(id);
  if (!ch) {
    const kind = typeof id === 'string' && id.includes('#') ? id.slice(0, id.indexOf('#')) : 'pipe';
    ch = {
      id, kind, name: null, line: null, t, seq, ends: new Map(), written: 0, read: 0, transfers: 0, ops: 0,
      value: undefined, lastOp: null, lastTransfer: null, closed: false,
    };
    state.channels.set(id, ch);
    state.channelOrder.push(id);
  }
  return ch;
}

/** Reduce a list of events from scratch. */
export function reduce(events, state = createState()) {
  for (const ev of events) applyEvent(state, ev);
  return state;
}

/** Processes still present in the kernel (not reaped), in order of appearance. */
export function liveProcs(state) {
  const out = [];
  for (const pid of state.order) {
    const p = state.procs.get(pid);
    if (p && !p.reaped) out.push(p);
  }
  return out;
}

/** Short, human label of a process: exec'd program or name. */
export function procLabel(p) {
  if (!p) return '';
  if (p.argv && p.argv.length) {
    const a0 = basename(p.argv[0]);
    const rest = p.argv.slice(1).join(' ');
    const s = rest ? `${a0} ${rest}` : a0;
    return s.length > 28 ? `${s.slice(0, 27)}…` : s;
  }
  return p.name || '';
}

/** Why the run stopped, as structured data (the banner localizes it). */
export function stopReason(state) {
  if (!state.finished && state.limitsFired.length === 0) return null;
  const fin = state.finished;
  const limit = state.limitsFired.length ? state.limitsFired[state.limitsFired.length - 1] : null;
  const root = state.rootPid != null ? state.procs.get(state.rootPid) : null;
  const rootSignal = root && root.exit && root.exit.signal ? root.exit.signal : null;
  let killer = null;
  if (rootSignal) {
    for (let i = root.signalsIn.length - 1; i >= 0; i--) {
      if (root.signalsIn[i].signal === rootSignal) {
        killer = root.signalsIn[i].from;
        break;
      }
    }
  }
  return {
    status: fin ? fin.status : 'limit',
    finished: !!fin,
    code: fin ? fin.code : null,
    reason: fin ? fin.reason : null,
    outcome: fin && fin.outcome ? fin.outcome : null,
    message: fin && fin.message ? fin.message : null, // recordings made before outcome
    recording: fin && fin.recording ? fin.recording : null,
    limit,
    rootSignal,
    rootSignalFrom: killer,
    errors: state.errors.slice(),
    durationMs: fin ? fin.duration_ms : null,
    stats: fin ? fin.stats || null : null,
  };
}
