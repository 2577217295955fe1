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
  const prof = typeof window !== 'undefined' ? window.__proclabProfile : null;
  for (const fn of jobs) {
    try {
      if (prof) {
        const t0 = performance.now();
        fn(ts);
        const k = fn.profileName || fn.name || 'anon';
        prof[k] = (prof[k] || 0) + (performance.now() - t0);
        continue;
      }
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

const lastRun = new WeakMap();
const timers = new WeakMap();

/**
 * Like schedule(), but runs fn at most once every `ms` milliseconds (heavy
 * SVG views while events pour in: less style, layout and paint per frame).
 */
export function scheduleAtMost(fn, ms) {
  if (timers.has(fn)) return;
  const now = typeof performance !== 'undefined' ? performance.now() : Date.now();
  const wait = (lastRun.get(fn) ?? -Infinity) + ms - now;
  const go = () => {
    timers.delete(fn);
    schedule(() => {
      lastRun.set(fn, typeof performance !== 'undefined' ? performance.now() : Date.now());
      fn();
    });
  };
  if (wait <= 0) {
    lastRun.set(fn, now);
    schedule(fn);
  } else {
    timers.set(fn, setTimeout(go, wait));
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
