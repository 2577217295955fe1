// One animation frame for every view: schedule(fn) runs fn once in the next
// frame however often it is asked for. No DOM beyond requestAnimationFrame
// (falls back to a timer, e.g. in node or a hidden tab).

const raf = typeof requestAnimationFrame === 'function'
  ? (f) => requestAnimationFrame(f)
  : (f) => setTimeout(() => f(Date.now()), 16);

const queue = new Set();
let pending = false;

function run(ts) {
  pending = false;
  const jobs = [...queue];
  queue.clear();
  for (const fn of jobs) {
    try {
      fn(ts);
    } catch (err) {
      // one broken view must not stop the others
      if (typeof console !== 'undefined') console.error(err);
    }
  }
}

export function schedule(fn) {
  queue.add(fn);
  if (!pending) {
    pending = true;
    raf(run);
  }
}

/** Run everything scheduled now (tests, and before a screenshot). */
export function flush() {
  if (queue.size) run(Date.now());
}

/** True when the user asked for less motion. */
export function reducedMotion() {
  try {
    return typeof matchMedia === 'function' && matchMedia('(prefers-reduced-motion: reduce)').matches;
  } catch {
    return false;
  }
}
