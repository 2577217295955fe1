// Pure logic of the classroom pages (tested in node): histogram bars with the
// kernel's answer marked, goal summaries, wall cards, progress cells, solo progress.

/** Bars of one question in one round: most votes first, the kernel's answer marked. */
export function histogramBars(question, kernel) {
  const answers = (question && question.answers) || {};
  const answered = (question && question.answered) || 0;
  const truth = kernel === null || kernel === undefined ? null : String(kernel).trim();
  const bars = Object.entries(answers).map(([answer, count]) => ({
    answer,
    count,
    share: answered ? count / answered : 0,
    kernel: truth !== null && answer.trim() === truth,
  }));
  if (truth !== null && !bars.some((b) => b.kernel)) bars.push({ answer: truth, count: 0, share: 0, kernel: true });
  bars.sort((a, b) => b.count - a.count || a.answer.localeCompare(b.answer));
  return bars;
}

/** {passed, total, failing}: how far a run's goals got. */
export function goalSummary(goals) {
  const list = goals || [];
  const passed = list.filter((g) => g.passed).length;
  return { passed, total: list.length, failing: list.length - passed, all: list.length > 0 && passed === list.length };
}

/** An expectation as its author wrote it: `kind: value`. */
export function expectText(item) {
  const [kind, value] = Object.entries(item || {})[0] || ['', ''];
  return `${kind}: ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`;
}

/** The CSS tone of a wall card: stuck beats everything; then limit/error, passed, running. */
export function wallTone(entry) {
  if (!entry || !entry.run) return 'idle';
  if (entry.stuck) return 'stuck';
  if (entry.limit || entry.status === 'error' || entry.status === 'limit') return 'bad';
  if (entry.passed === true) return 'passed';
  if (entry.status === 'running' || entry.status === 'queued') return 'running';
  return 'done';
}

export const CELL_MARK = { passed: '✓', tried: '✗', not_tried: '' };

/** Solo progress in the browser: {"lesson/exercise": {passed, attempts, first, passedAt}}. */
export function recordAttempt(progress, key, passed, now) {
  const prev = progress[key] || { passed: false, attempts: 0, first: now, passedAt: null };
  return {
    ...progress,
    [key]: {
      passed: prev.passed || passed,
      attempts: prev.attempts + 1,
      first: prev.first,
      passedAt: prev.passedAt ?? (passed ? now : null),
    },
  };
}
