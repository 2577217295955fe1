// "Why it stopped", in plain words (pure; the banner view renders it).
//   explainStop(stopReason(state), tr, lang) -> {kind, lines: [string], stats: string|null}
// tr(key, params) translates; lang picks from the {en, zh} messages of recordings made before
// events carried codes (run.limit params, run.finished outcome).

import { describeLimit, describeOutcome } from './words.js';

export function explainStop(r, tr, lang) {
  if (!r) return null;
  const lines = [];
  const add = (s) => {
    if (s && !lines.includes(s)) lines.push(s);
  };
  let kind = 'ok';
  if (r.errors && r.errors.length) {
    kind = 'error';
    for (const d of r.errors) add(tr('banner.error', { detail: d }));
  }
  if (r.limit) {
    kind = kind === 'error' ? kind : 'limit';
    add(describeLimit(r.limit, tr, lang));
  }
  if (r.status === 'stopped') {
    if (kind === 'ok') kind = 'stopped';
    add(tr('banner.stopped'));
  }
  if (r.rootSignal && r.status !== 'stopped') {
    if (kind === 'ok') kind = 'killed';
    if (r.rootSignalFrom === null) add(tr('banner.killedByYou', { signal: r.rootSignal }));
    else if (r.rootSignalFrom != null) add(tr('banner.killedFrom', { signal: r.rootSignal, from: r.rootSignalFrom }));
    else add(tr('banner.killed', { signal: r.rootSignal }));
  }
  if (r.status === 'error' && kind === 'ok') kind = 'error';
  // A recording that could not be saved (disk full …): the run itself went on.
  if (r.recording && r.recording.saved === false) {
    add(tr('recording.unsaved', { problem: r.recording.problem || '?' }));
    if (kind === 'ok') kind = 'warn';
  }
  const finMsg = r.finished
    ? describeOutcome({ outcome: r.outcome, message: r.message, code: r.code, reason: r.reason }, tr, lang, r.limit)
    : null;
  if (finMsg) add(finMsg);
  else if (r.finished && kind === 'ok') add(tr('banner.ok'));
  if (r.finished && r.code != null && r.code !== 0 && !r.rootSignal) {
    add(tr('banner.exitCode', { code: r.code }));
    if (kind === 'ok') kind = 'warn';
  }
  if (r.status === 'error' && r.reason && !lines.length) add(r.reason);
  let stats = null;
  if (r.finished && r.durationMs != null) {
    const s = r.stats || {};
    stats = tr('banner.duration', { ms: r.durationMs, p: s.processes ?? '?', e: s.events ?? '?' });
  }
  return { kind, lines, stats };
}
