// Codes and parameters of events turned into words (pure; tested in node).
//   describeWhy(why, tr)                  proc.state / proc.thread.state `why` -> "reading pipe #1 (fd 4)"
//   describeBlocked(proc, tr, lang)       a process or thread of the reducer: its why, else (old recordings) its reason
//   describeLimit(limitEvent, tr, lang)   run.limit `limit` + `params` -> the student's sentence
//   describeOutcome(finished, tr, lang)   run.finished `outcome` -> how the run ended
// tr(key, params) translates (i18n.js's t or translate bound to a language); `lang` picks from the
// {en, zh} `message` of recordings made before events carried codes.

/** "pipe#2" -> "pipe #2" in the reader's language; null when the channel is unknown. */
export function channelLabel(channel, tr) {
  if (typeof channel !== 'string' || !channel.includes('#')) return null;
  const [kind, n] = channel.split('#');
  const k = `kind.${kind}`;
  const name = tr(k);
  return `${name === k ? kind : name} #${n}`;
}

function basename(path) {
  if (typeof path !== 'string' || !path) return null;
  const parts = path.split('/').filter(Boolean);
  return parts.length ? parts[parts.length - 1] : path;
}

const isNum = (x) => typeof x === 'number' && Number.isFinite(x);

// One entry per why code: the key and parameters of its sentence. A code whose parameters are
// missing (e.g. found through wchan, without a syscall) falls back to its `.any` sentence.
const WHY = {
  pipe_read: (w, tr) => (channelLabel(w.channel, tr) && isNum(w.fd) ? ['why.pipe_read', { ch: channelLabel(w.channel, tr), fd: w.fd }] : ['why.pipe_read.any']),
  pipe_write: (w, tr) => (channelLabel(w.channel, tr) && isNum(w.fd) ? ['why.pipe_write', { ch: channelLabel(w.channel, tr), fd: w.fd }] : ['why.pipe_write.any']),
  socket_read: (w, tr) => {
    const ch = channelLabel(w.channel, tr);
    if (!ch || !isNum(w.fd)) return ['why.socket_read.any'];
    return [w.channel.startsWith('mp_pipe#') ? 'why.mp_pipe_read' : 'why.socket_read', { ch, fd: w.fd }];
  },
  fifo_read: (w) => (basename(w.name) && isNum(w.fd) ? ['why.fifo_read', { file: basename(w.name), fd: w.fd }] : ['why.fifo_open.any']),
  fifo_open: (w) => {
    const file = basename(w.path);
    if (!file) return ['why.fifo_open.any'];
    return [w.peer === 'writer' || w.peer === 'reader' ? `why.fifo_open.${w.peer}` : 'why.fifo_open', { file }];
  },
  stdin: () => ['why.stdin'],
  output: () => ['why.output'],
  read: (w) => (isNum(w.fd) ? ['why.read', { fd: w.fd }] : ['why.pipe_read.any']),
  wait: (w) => {
    if (!w.syscall) return ['why.wait.any'];
    return isNum(w.pid) ? ['why.wait.pid', { pid: w.pid, syscall: w.syscall }] : ['why.wait', { syscall: w.syscall }];
  },
  sleep: () => ['why.sleep'],
  futex: () => ['why.futex'],
  select: (w) => (isNum(w.nfds) ? ['why.select', { nfds: w.nfds }] : ['why.select.any']),
  poll: (w) => (isNum(w.count) ? ['why.poll', { count: w.count }] : ['why.poll.any']),
  epoll: () => ['why.epoll'],
  accept: (w) => (isNum(w.fd) ? ['why.accept', { fd: w.fd }] : ['why.accept.any']),
  connect: () => ['why.connect'],
  signal: (w) => (w.syscall ? ['why.signal', { syscall: w.syscall }] : ['why.signal.any']),
  semaphore: (w, tr) => (channelLabel(w.channel, tr) ? ['why.semaphore.channel', { ch: channelLabel(w.channel, tr) }] : ['why.semaphore']),
  message: () => ['why.message'],
  lock: (w, tr) => (channelLabel(w.channel, tr) ? ['why.lock.channel', { ch: channelLabel(w.channel, tr) }] : ['why.lock']),
  event: (w, tr) => (channelLabel(w.channel, tr) ? ['why.event.channel', { ch: channelLabel(w.channel, tr) }] : ['why.event']),
  condition: (w, tr) => (channelLabel(w.channel, tr) ? ['why.condition.channel', { ch: channelLabel(w.channel, tr) }] : ['why.condition']),
  queue: (w, tr) => (channelLabel(w.channel, tr) ? ['why.queue.channel', { ch: channelLabel(w.channel, tr) }] : ['why.queue']),
  disk: () => ['why.disk'],
  syscall: (w) => (w.syscall ? ['why.syscall', { syscall: w.syscall }] : ['why.unknown', { code: 'syscall' }]),
  child_start: (w) => (isNum(w.pid) ? ['why.child_start', { pid: w.pid }] : ['why.child_start.any']),
};

/** The sentence for a `why` object, or null when there is none. */
export function describeWhy(why, tr) {
  if (!why || typeof why !== 'object' || typeof why.code !== 'string') return null;
  const entry = Object.prototype.hasOwnProperty.call(WHY, why.code) ? WHY[why.code] : null;
  if (entry) {
    const [key, params] = entry(why, tr);
    return tr(key, params);
  }
  // A code added by a newer sandbox: its own sentence if the catalogue has it, else the code itself.
  const key = `why.${why.code}`;
  const s = tr(key, why);
  return s === key ? tr('why.unknown', { code: why.code }) : s;
}

/**
 * Why a process or thread of the reducer is in its state, in words: from `why` (blocked), from the
 * STAT letter (stopped), or, for recordings made before `why`, the English `reason` they carry.
 */
export function describeBlocked(p, tr) {
  if (!p) return null;
  if (p.state === 'blocked') return describeWhy(p.why, tr) ?? p.reason ?? null;
  if (p.state === 'stopped') return tr(p.stat === 't' ? 'why.traced' : 'why.stopped');
  return null;
}

/** A failed exec* ({argv, path, error} of the reducer's execFailed) in words: "exec of nosuch failed: no such
 * file or directory (ENOENT)"; an errno the catalogue lacks is shown by its name. */
export function describeExecFailure(f, tr) {
  if (!f) return null;
  const program = f.path || (f.argv && f.argv[0]) || '?';
  const key = `errno.${f.error}`;
  const words = tr(key);
  return tr('proc.execFailed', { program, error: words === key ? f.error : `${words} (${f.error})` });
}

function legacy(m, lang) {
  if (!m) return null;
  if (typeof m === 'string') return m;
  return m[lang] || m.en || m.zh || null;
}

/** The short name of a limit ("too many processes"), or its code when the catalogue lacks it. */
export function limitName(code, tr) {
  const k = `limitName.${code}`;
  const s = tr(k);
  return s === k ? String(code) : s;
}

/** The student's sentence for a run.limit event (or {limit, params, message} from the reducer). */
export function describeLimit(ev, tr, lang) {
  if (!ev || !ev.limit) return null;
  const key = `limit.${ev.limit}`;
  if (ev.params && typeof ev.params === 'object') {
    const s = tr(key, ev.params);
    if (s !== key && !/\{\w+\}/.test(s)) return s;
  }
  return legacy(ev.message, lang) ?? tr('banner.limit', { limit: limitName(ev.limit, tr) });
}

// One entry per outcome code: the key and parameters of its sentence.
const OUTCOME = {
  exit: (o, fin) => ['outcome.exit', { exit_code: o.exit_code ?? fin.code ?? '?' }],
  signal: (o) => ['outcome.signal', { signal: o.signal ?? '?' }],
  stopped: () => ['outcome.stopped'],
  failed: (o, fin) => ['outcome.failed', { detail: o.detail ?? fin.reason ?? '' }],
  start_failed: (o, fin) => ['outcome.start_failed', { detail: o.detail ?? fin.reason ?? '' }],
  sandbox_restarted: () => ['outcome.sandbox_restarted'],
  interrupted: () => ['outcome.interrupted'],
  node_lost: () => ['outcome.node_lost'],
  compile_failed: () => ['outcome.compile_failed'],
};

/**
 * How a run ended, from run.finished's `outcome` (limitEvent: the run.limit event, whose sentence says
 * more than the limit's name). Recordings made before outcome: their `message` in lang.
 */
export function describeOutcome(fin, tr, lang, limitEvent = null) {
  if (!fin) return null;
  const o = fin.outcome;
  if (o && typeof o === 'object' && typeof o.code === 'string') {
    if (o.code === 'limit') {
      const ev = limitEvent && limitEvent.limit === o.limit ? limitEvent : { limit: o.limit };
      return ev.params || ev.message ? describeLimit(ev, tr, lang) : tr('outcome.limit', { name: limitName(o.limit, tr) });
    }
    const entry = Object.prototype.hasOwnProperty.call(OUTCOME, o.code) ? OUTCOME[o.code] : null;
    if (entry) {
      const [key, params] = entry(o, fin);
      return tr(key, params);
    }
    const key = `outcome.${o.code}`;
    const s = tr(key, o);
    if (s !== key) return s;
  }
  return legacy(fin.message, lang);
}
