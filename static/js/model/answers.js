// Comparing a student's prediction with the real answer (pure).

function norm(v) {
  return String(v ?? '').trim().toLowerCase().replace(/\s+/g, ' ').replace(/[.。]$/, '');
}

/**
 * True when the prediction matches the real value: numbers numerically,
 * choices by any of their texts, strings case- and space-insensitively.
 */
export function isMatch(guess, real, question = {}) {
  if (real === null || real === undefined) return false;
  const g = norm(guess);
  if (!g) return false;
  if (typeof real === 'number' || (/^-?\d+(\.\d+)?$/.test(norm(real)) && /^-?\d+(\.\d+)?$/.test(g))) {
    return Number(g) === Number(real);
  }
  const r = norm(real);
  if (g === r) return true;
  if (Array.isArray(question.choices)) {
    for (const c of question.choices) {
      const texts = typeof c === 'string' ? [c] : Object.values(c);
      const ns = texts.map(norm);
      if (ns.includes(g) && ns.includes(r)) return true;
    }
  }
  // signals: "SIGKILL" vs "kill" vs "9" are not guessed: only the name
  if (/^sig/.test(r) && `sig${g}` === r) return true;
  return false;
}
