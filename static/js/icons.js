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
};

export function icon(name, size = 18) {
  return s('svg', { class: `icon icon-${name}`, viewBox: '0 0 24 24', width: size, height: size, 'aria-hidden': 'true', focusable: 'false' },
    s('path', { d: ICONS[name] || '', fill: 'currentColor' }));
}
