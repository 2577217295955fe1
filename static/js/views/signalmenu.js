// The signal menu of a process node: a keyboard-usable popup menu.
//   openSignalMenu(anchorElement, pid, async (signal) => {...})

import { h } from '../dom.js';
import { t } from '../i18n.js';

// Every signal the protocol lets a student send (app/sandbox/protocol.py, UserSignal), in that order.
export const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGKILL', 'SIGSTOP', 'SIGCONT', 'SIGUSR1', 'SIGUSR2', 'SIGHUP'];

let menu = null;
let anchor = null;

function close({ refocus = true } = {}) {
  if (!menu) return;
  const a = anchor;
  menu.remove();
  menu = null;
  anchor = null;
  document.removeEventListener('pointerdown', onOutside, true);
  if (a) {
    a.setAttribute('aria-expanded', 'false');
    if (refocus && a.isConnected) a.focus({ preventScroll: true });
  }
}

function onOutside(e) {
  if (menu && !menu.contains(e.target) && e.target !== anchor) close({ refocus: false });
}

export function closeSignalMenu() {
  close({ refocus: false });
}

export function isSignalMenuOpen() {
  return !!menu;
}

export function openSignalMenu(anchorEl, pid, onSend, { disabled = false } = {}) {
  const same = menu && anchor === anchorEl;
  close({ refocus: false });
  if (same) return null;
  anchor = anchorEl;
  const items = SIGNALS.map((sig) => h('button', {
    type: 'button',
    role: 'menuitem',
    class: 'sigmenu-item',
    dataset: { signal: sig },
    'aria-disabled': disabled ? 'true' : undefined,
    tabindex: '-1',
    onclick: async () => {
      close();
      await onSend(sig);
    },
  }, h('span', { class: 'sig-name' }, sig), h('span', { class: 'sig-desc' }, t(`signal.${sig}`))));
  menu = h('div', {
    class: 'sigmenu',
    role: 'menu',
    'aria-label': t('proc.menuTitle', { pid }),
    dataset: { pid: String(pid) },
  }, h('div', { class: 'sigmenu-title', 'aria-hidden': 'true' }, t('proc.menuTitle', { pid })),
  disabled ? h('div', { class: 'sigmenu-note' }, t('proc.notRunning')) : null,
  items);
  menu.addEventListener('keydown', (e) => {
    const idx = items.indexOf(document.activeElement);
    if (e.key === 'Escape') {
      e.preventDefault();
      close();
    } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const next = (idx + (e.key === 'ArrowDown' ? 1 : -1) + items.length) % items.length;
      items[next].focus();
    } else if (e.key === 'Home' || e.key === 'End') {
      e.preventDefault();
      items[e.key === 'Home' ? 0 : items.length - 1].focus();
    } else if (e.key === 'Tab') {
      close({ refocus: false });
    }
  });
  document.body.append(menu);
  const r = anchorEl.getBoundingClientRect();
  const mw = menu.offsetWidth || 220;
  const mh = menu.offsetHeight || 240;
  let left = r.left + r.width / 2 - mw / 2;
  let top = r.bottom + 6;
  left = Math.max(8, Math.min(left, window.innerWidth - mw - 8));
  if (top + mh > window.innerHeight - 8) top = Math.max(8, r.top - mh - 6);
  menu.style.left = `${left}px`;
  menu.style.top = `${top}px`;
  anchorEl.setAttribute('aria-expanded', 'true');
  document.addEventListener('pointerdown', onOutside, true);
  items[0].focus({ preventScroll: true });
  return menu;
}
