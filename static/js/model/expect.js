// A lesson's expectations (lesson.md `expect:`) in plain words, for the
// instructor's "Check lesson" panel. Pure: the translation function is passed in.
//
//   formatExpectation({processes: {min: 2, max: 2}})  -> 'processes: {min: 2, max: 2}'
//   describeExpectation({processes: 2}, tr)            -> 'exactly 2 processes'
//   summarizeCheck(results)                            -> {n, passed, failed, ok}
//
// The vocabulary is the one of app/expectations.py (docs/authoring.md).

const PLAIN = /^[\w.+-]+$/;

/** A YAML-like one-line rendering of a value, as an author would write it. */
export function formatValue(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return PLAIN.test(v) && !/^(true|false|null|\d.*)$/i.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(formatValue).join(', ')}]`;
  if (typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${k}: ${formatValue(x)}`).join(', ')}}`;
  return String(v);
}

/** The expectation as it stands in lesson.md: "kind: value". */
export function formatExpectation(item) {
  const [kind, value] = entry(item);
  if (kind == null) return formatValue(item);
  return `${kind}: ${formatValue(value)}`;
}

function entry(item) {
  if (!item || typeof item !== 'object' || Array.isArray(item)) return [null, null];
  const keys = Object.keys(item);
  if (keys.length !== 1) return [null, null];
  return [keys[0], item[keys[0]]];
}

/** "exactly 2", "at least 1", "2 to 5" … of an int or {min, max}; null when it is neither. */
export function describeBounds(v, tr) {
  if (Number.isInteger(v)) return tr('exp.exactly', { n: v });
  if (!v || typeof v !== 'object') return null;
  const lo = Number.isInteger(v.min) ? v.min : null;
  const hi = Number.isInteger(v.max) ? v.max : null;
  if (lo != null && hi != null) return lo === hi ? tr('exp.exactly', { n: lo }) : tr('exp.between', { lo, hi });
  if (lo != null) return tr('exp.atLeast', { n: lo });
  if (hi != null) return tr('exp.atMost', { n: hi });
  return null;
}

function kindName(kind, tr) {
  if (!kind) return tr('exp.anyChannel');
  const k = `kind.${kind}`;
  const s = tr(k);
  return s === k ? String(kind) : s;
}

/**
 * The expectation in words of the current language, or null for a shape
 * this UI does not know (the formatted form is shown then).
 * tr(key, params) is the translate function (t, or translate bound to a language).
 */
export function describeExpectation(item, tr) {
  const s = describe(item, tr);
  return s ? s.charAt(0).toUpperCase() + s.slice(1) : s;
}

/** The catalogue's word for a code (prefix.code), or the code itself when there is none. */
function named(prefix, code, tr) {
  const k = `${prefix}.${code}`;
  const s = tr(k);
  return s === k ? String(code) : s;
}

function describe(item, tr) {
  const [kind, v] = entry(item);
  if (kind == null) return null;
  const str = (x) => (typeof x === 'string' || typeof x === 'number' ? String(x) : null);
  switch (kind) {
    case 'finished':
      return str(v) != null ? tr('exp.finished', { status: named('runStatus', v, tr) }) : null;
    case 'limit':
      return str(v) != null ? tr('exp.limit', { limit: named('limitName', v, tr) }) : null;
    case 'exit_code':
      return Number.isInteger(v) ? tr('exp.exitCode', { code: v }) : null;
    case 'output_contains':
      return str(v) != null ? tr('exp.outputContains', { text: v }) : null;
    case 'output_matches':
      return str(v) != null ? tr('exp.outputMatches', { re: v }) : null;
    case 'output_lines': {
      const b = describeBounds(v, tr);
      return b ? tr('exp.outputLines', { bounds: b }) : null;
    }
    case 'processes': {
      const b = describeBounds(v, tr);
      return b ? tr('exp.processes', { bounds: b }) : null;
    }
    case 'threads': {
      const b = describeBounds(v, tr);
      return b ? tr('exp.threads', { bounds: b }) : null;
    }
    case 'state': {
      const state = typeof v === 'string' ? v : v && v.state;
      if (!state) return null;
      const k = `state.${state}`;
      const name = tr(k) === k ? state : tr(k);
      const reason = v && typeof v === 'object' ? v.reason_contains : null;
      return reason ? tr('exp.stateReason', { state: name, reason }) : tr('exp.state', { state: name });
    }
    case 'reparent':
      return v === 'init' ? tr('exp.reparentInit') : tr('exp.reparent');
    case 'reaped_by':
      if (v === 'parent') return tr('exp.reapedParent');
      if (v === 'init') return tr('exp.reapedInit');
      return null;
    case 'exit':
      if (v && typeof v === 'object' && 'code' in v) return tr('exp.exitAny', { code: v.code });
      if (v && typeof v === 'object' && 'signal' in v) return tr('exp.exitSignal', { signal: v.signal });
      return null;
    case 'exec':
      return str(v) != null ? tr('exp.exec', { program: v }) : null;
    case 'signal': {
      const name = typeof v === 'string' ? v : v && v.signal;
      if (!name) return null;
      const handled = v && typeof v === 'object' ? v.handled : null;
      return handled ? tr('exp.signalHandled', { signal: name, action: handled }) : tr('exp.signal', { signal: name });
    }
    case 'transfer': {
      if (!v || typeof v !== 'object') return null;
      const bounds = Number.isInteger(v.bytes) ? tr('exp.exactly', { n: v.bytes })
        : tr('exp.atLeast', { n: Number.isInteger(v.min_bytes) ? v.min_bytes : 1 });
      return tr('exp.transfer', { bounds, channel: kindName(v.kind, tr) });
    }
    case 'channel':
      return str(v) != null ? tr('exp.channel', { channel: kindName(v, tr) }) : null;
    case 'op': {
      if (!v || typeof v !== 'object') return null;
      return v.op ? tr('exp.op', { op: v.op, channel: kindName(v.kind, tr) }) : tr('exp.opAny', { channel: kindName(v.kind, tr) });
    }
    case 'event':
      return str(v) != null ? tr('exp.event', { type: v }) : null;
    default:
      return null;
  }
}

/** Counts of a check's results ({expect, ok} each). */
export function summarizeCheck(results) {
  const list = Array.isArray(results) ? results : [];
  const passed = list.filter((r) => r && r.ok === true).length;
  return { n: list.length, passed, failed: list.length - passed, ok: list.length > 0 && passed === list.length };
}
