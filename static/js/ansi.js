// ANSI escape parsing for the terminal (pure, no DOM).
//
//   const st = createAnsiState();
//   parseAnsi("\x1b[31mred\x1b[0m plain", st)
//     -> [{text: "red", style: {fg: 1, ...}}, {text: " plain", style: {...}}]
//
// SGR colour/attribute codes become styles; every other escape sequence
// (cursor movement, clear screen, OSC titles, ...) is dropped. The output is
// meant for textContent: nothing here is ever HTML. NUL and other control
// characters become visible Unicode "control pictures" (NUL -> U+2400 ␀).
// An escape cut at the end of a chunk is kept in the state for the next one.

export function createAnsiState() {
  return { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false, inverse: false, pending: '' };
}

function styleOf(st) {
  return { fg: st.fg, bg: st.bg, bold: st.bold, dim: st.dim, italic: st.italic, underline: st.underline, inverse: st.inverse };
}

function sameStyle(a, b) {
  return a.fg === b.fg && a.bg === b.bg && a.bold === b.bold && a.dim === b.dim && a.italic === b.italic
    && a.underline === b.underline && a.inverse === b.inverse;
}

/** True when the style is the default one (no span needed). */
export function isPlain(style) {
  return style.fg == null && style.bg == null && !style.bold && !style.dim && !style.italic && !style.underline && !style.inverse;
}

// xterm 256-colour palette entry n (16..255) as "rgb(r,g,b)".
function color256(n) {
  if (n < 16) return n;
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return `rgb(${v},${v},${v})`;
  }
  const i = n - 16;
  const lv = [0, 95, 135, 175, 215, 255];
  return `rgb(${lv[Math.floor(i / 36)]},${lv[Math.floor(i / 6) % 6]},${lv[i % 6]})`;
}

function clampByte(x) {
  const n = Number(x);
  if (!Number.isFinite(n)) return 0;
  return Math.max(0, Math.min(255, Math.round(n)));
}

function applySgr(st, params) {
  const p = params.length ? params : [0];
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === 0 || Number.isNaN(c)) {
      st.fg = null; st.bg = null; st.bold = false; st.dim = false; st.italic = false; st.underline = false; st.inverse = false;
    } else if (c === 1) st.bold = true;
    else if (c === 2) st.dim = true;
    else if (c === 3) st.italic = true;
    else if (c === 4) st.underline = true;
    else if (c === 7) st.inverse = true;
    else if (c === 22) { st.bold = false; st.dim = false; }
    else if (c === 23) st.italic = false;
    else if (c === 24) st.underline = false;
    else if (c === 27) st.inverse = false;
    else if (c >= 30 && c <= 37) st.fg = c - 30;
    else if (c >= 90 && c <= 97) st.fg = c - 90 + 8;
    else if (c === 39) st.fg = null;
    else if (c >= 40 && c <= 47) st.bg = c - 40;
    else if (c >= 100 && c <= 107) st.bg = c - 100 + 8;
    else if (c === 49) st.bg = null;
    else if (c === 38 || c === 48) {
      const key = c === 38 ? 'fg' : 'bg';
      if (p[i + 1] === 5 && i + 2 < p.length) {
        st[key] = color256(clampByte(p[i + 2]));
        i += 2;
      } else if (p[i + 1] === 2 && i + 4 < p.length) {
        st[key] = `rgb(${clampByte(p[i + 2])},${clampByte(p[i + 3])},${clampByte(p[i + 4])})`;
        i += 4;
      } else {
        i = p.length; // malformed: ignore the rest
      }
    }
  }
}

/** Make control characters visible; drop the ones that mean nothing on screen. */
export function visibleControl(ch) {
  const code = ch.charCodeAt(0);
  if (code === 0x09 || code === 0x0a) return ch;
  if (code === 0x07 || code === 0x7f || code === 0x08) return ''; // bell, delete, backspace
  if (code < 0x20) return String.fromCharCode(0x2400 + code); // ␀ ␁ ...
  return ch;
}

const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/;

/**
 * Parse a chunk; returns segments [{text, style}] with adjacent same-style
 * text merged. Carriage returns: "\r\n" -> "\n", a lone "\r" -> "\n".
 */
export function parseAnsi(chunk, st = createAnsiState()) {
  let s = st.pending + (chunk == null ? '' : String(chunk));
  st.pending = '';
  const out = [];
  let buf = '';
  let bufStyle = styleOf(st);
  const flush = () => {
    if (buf) {
      const last = out.length ? out[out.length - 1] : null;
      if (last && sameStyle(last.style, bufStyle)) last.text += buf;
      else out.push({ text: buf, style: bufStyle });
    }
    buf = '';
  };
  const n = s.length;
  let i = 0;
  while (i < n) {
    const ch = s[i];
    if (ch === '\x1b') {
      // need at least one more char to know the kind of sequence
      if (i + 1 >= n) { st.pending = s.slice(i); break; }
      const kind = s[i + 1];
      if (kind === '[') {
        // CSI: params (0x30-0x3f), intermediates (0x20-0x2f), final (0x40-0x7e)
        let j = i + 2;
        while (j < n && s.charCodeAt(j) >= 0x30 && s.charCodeAt(j) <= 0x3f) j++;
        while (j < n && s.charCodeAt(j) >= 0x20 && s.charCodeAt(j) <= 0x2f) j++;
        if (j >= n) {
          if (n - i < 64) { st.pending = s.slice(i); break; } // cut escape: finish it with the next chunk
          buf += '\u241b'; // too long to be an escape: show the ESC and go on
          i += 1;
          continue;
        }
        const final = s[j];
        const fc = s.charCodeAt(j);
        if (fc < 0x40 || fc > 0x7e) {
          buf += '\u241b'; // malformed: show the ESC, keep the rest as text
          i += 1;
          continue;
        }
        if (final === 'm') {
          const raw = s.slice(i + 2, j);
          const params = raw === '' ? [] : raw.split(/[;:]/).map((x) => (x === '' ? 0 : parseInt(x, 10)));
          flush();
          applySgr(st, params);
          bufStyle = styleOf(st);
        }
        i = j + 1;
        continue;
      }
      if (kind === ']' || kind === 'P' || kind === '_' || kind === '^') {
        // OSC / DCS / APC / PM: up to BEL or ST (ESC \)
        let j = i + 2;
        let end = -1;
        while (j < n) {
          if (s[j] === '\x07') { end = j + 1; break; }
          if (s[j] === '\x1b' && s[j + 1] === '\\') { end = j + 2; break; }
          j++;
        }
        if (end < 0) {
          if (n - i < 4096) { st.pending = s.slice(i); break; }
          buf += '\u241b';
          i += 1;
          continue;
        }
        i = end;
        continue;
      }
      // two-character escapes (ESC c, ESC 7, ESC ( B ...)
      i += kind === '(' || kind === ')' ? 3 : 2;
      continue;
    }
    if (ch === '\r') {
      if (i + 1 >= n) { st.pending = '\r'; break; }
      buf += '\n';
      i += s[i + 1] === '\n' ? 2 : 1;
      continue;
    }
    if (CONTROL.test(ch)) {
      buf += visibleControl(ch);
      i++;
      continue;
    }
    // plain run up to the next special character
    let j = i + 1;
    while (j < n) {
      const c = s.charCodeAt(j);
      if (c === 0x1b || c === 0x0d || (c < 0x20 && c !== 0x0a && c !== 0x09) || c === 0x7f) break;
      j++;
    }
    buf += s.slice(i, j);
    i = j;
  }
  flush();
  return out;
}

/** Plain text with every escape removed and controls made visible. */
export function stripAnsi(text) {
  const st = createAnsiState();
  const segs = parseAnsi(text, st);
  let out = segs.map((x) => x.text).join('');
  if (st.pending) out += st.pending === '\r' ? '\n' : '';
  return out;
}

/** CSS class names and inline colours for a style (used with textContent). */
export function styleToCss(style) {
  const classes = [];
  const css = {};
  let { fg, bg } = style;
  if (style.inverse) {
    [fg, bg] = [bg ?? 'default-bg', fg ?? 'default-fg'];
  }
  if (typeof fg === 'number') classes.push(`ansi-fg-${fg}`);
  else if (fg === 'default-fg' || fg === 'default-bg') classes.push(`ansi-fg-${fg}`);
  else if (typeof fg === 'string') css.color = fg;
  if (typeof bg === 'number') classes.push(`ansi-bg-${bg}`);
  else if (bg === 'default-fg' || bg === 'default-bg') classes.push(`ansi-bg-${bg}`);
  else if (typeof bg === 'string') css.backgroundColor = bg;
  if (style.bold) classes.push('ansi-bold');
  if (style.dim) classes.push('ansi-dim');
  if (style.italic) classes.push('ansi-italic');
  if (style.underline) classes.push('ansi-underline');
  return { classes, css };
}
