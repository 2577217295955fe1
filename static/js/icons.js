// Small inline SVG icons (no icon font: the glyphs of fonts vary too much).
// Mirrored in templates/_macros.html (the `icon` macro).

import { s } from './dom.js';

export const ICONS = {
  play: 'M7 4.5v15l13-7.5z',
  pause: 'M6 4h4v16H6zM14 4h4v16h-4z',
  stop: 'M6 6h12v12H6z',
  prev: 'M5 5h2.5v14H5zM20 5v14L9 12z',
  next: 'M16.5 5H19v14h-2.5zM4 5v14l11-7z',
  step: 'M11 3h2v9.2l3.6-3.6 1.4 1.4L12 16 6 10l1.4-1.4 3.6 3.6zM5 18.5h14v2H5z',
  stepmode: 'M3 5h11v2H3zM3 11h11v2H3zM3 17h11v2H3zM16.5 8.5 22 12l-5.5 3.5z',
  slow: 'M12 4a9 9 0 0 0-9 9v2h2v-2a7 7 0 0 1 14 0v2h2v-2a9 9 0 0 0-9-9zm-.9 10.3-4.6-4.6 1.4-1.4 4.6 4.6a1.6 1.6 0 1 1-1.4 1.4z',
  expand: 'M4 4h6v2H6v4H4zM20 4v6h-2V6h-4V4zM4 20v-6h2v4h4v2zM20 20h-6v-2h4v-4h2z',
  theme: 'M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 2v16a8 8 0 0 1 0-16z',
  live: 'M12 7a5 5 0 1 0 0 10 5 5 0 0 0 0-10z',
  download: 'M11 3h2v10.2l3.6-3.6 1.4 1.4-6 6-6-6 1.4-1.4 3.6 3.6zM4 19h16v2H4z',
  upload: 'M11 21h2V10.8l3.6 3.6 1.4-1.4-6-6-6 6 1.4 1.4 3.6-3.6zM4 3h16v2H4z',
  save: 'M5 3h11l5 5v13H3V3zm2 2v5h9V5zm5 8a3 3 0 1 0 0 6 3 3 0 0 0 0-6z',
  check: 'M9.5 16.2 4.8 11.5l-1.4 1.4 6.1 6.1L21 7.5l-1.4-1.4z',
  qr: 'M3 3h8v8H3zm2 2v4h4V5zm8-2h8v8h-8zm2 2v4h4V5zM3 13h8v8H3zm2 2v4h4v-4zm8-2h3v3h-3zm3 3h3v3h-3zm3-3h2v3h-2zm-6 6h3v2h-3zm6 0h2v2h-2z',
};

export function icon(name, size = 18) {
  return s('svg', { class: `icon icon-${name}`, viewBox: '0 0 24 24', width: size, height: size, 'aria-hidden': 'true', focusable: 'false' },
    s('path', { d: ICONS[name] || '', fill: 'currentColor' }));
}
