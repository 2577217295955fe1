// Stable colours per process and the state palette (pure, no DOM).
// A process keeps the colour of its index of first appearance in the run
// (the same in the live view and in a replay); the pid is always written next
// to the colour, so colour is never the only cue.

export const PID_PALETTE_SIZE = 12;

/** Palette index for a process record (or a number). */
export function pidColorIndex(procOrIndex) {
  const i = typeof procOrIndex === 'number' ? procOrIndex : procOrIndex?.colorIndex ?? 0;
  return ((i % PID_PALETTE_SIZE) + PID_PALETTE_SIZE) % PID_PALETTE_SIZE;
}

/** CSS class carrying the process colour in --pc (see app.css). */
export function pidClass(procOrIndex) {
  return `pc-${pidColorIndex(procOrIndex)}`;
}

// Concrete colours for canvas drawing (light, dark), mirrored in app.css.
export const PID_COLORS = {
  light: ['#2563eb', '#d9480f', '#2f9e44', '#ae3ec9', '#c2255c', '#0c8599', '#a16207', '#5f3dc4', '#e8590c', '#1971c2', '#087f5b', '#862e9c'],
  dark: ['#74a7ff', '#ff922b', '#69db7c', '#e599f7', '#f783ac', '#3bc9db', '#ffd43b', '#b197fc', '#ffa94d', '#74c0fc', '#63e6be', '#da77f2'],
};

/** State colours and the short letter drawn on them (colour is never alone). */
export const STATE_STYLE = {
  new: { light: '#c5d6f0', dark: '#3b4d6b', letter: 'N', pattern: 'dots' },
  ready: { light: '#ffd66b', dark: '#b8860b', letter: 'Rd', pattern: 'diag' },
  running: { light: '#37b24d', dark: '#2f9e44', letter: 'Ru', pattern: 'solid' },
  blocked: { light: '#74a9e8', dark: '#3f6fb0', letter: 'B', pattern: 'hatch' },
  stopped: { light: '#c9a3f0', dark: '#7048a8', letter: 'T', pattern: 'bars' },
  zombie: { light: '#868e96', dark: '#5c636a', letter: 'Z', pattern: 'cross' },
  terminated: { light: '#e9ecef', dark: '#2b3035', letter: '✕', pattern: 'none' },
};
