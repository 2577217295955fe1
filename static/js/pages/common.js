// Shared by every page: language (detect, switch, remember), theme switch.

import { initLang, setLang, getLang, t, onLangChange } from '../i18n.js';
import { resetTextMeasure } from '../dom.js';

export function initPage() {
  initLang();
  const langBtn = document.getElementById('lang-toggle');
  if (langBtn) {
    const label = () => {
      langBtn.textContent = t('lang.other');
      langBtn.setAttribute('aria-label', t('lang.switch'));
      langBtn.setAttribute('lang', getLang() === 'zh' ? 'en' : 'zh-CN');
    };
    label();
    langBtn.addEventListener('click', () => setLang(getLang() === 'zh' ? 'en' : 'zh'));
    onLangChange(label);
  }
  const themeBtn = document.getElementById('theme-toggle');
  if (themeBtn) {
    const label = () => {
      const dark = document.documentElement.dataset.theme === 'dark';
      themeBtn.setAttribute('aria-pressed', dark ? 'true' : 'false');
      themeBtn.setAttribute('aria-label', t('theme.toggle'));
      themeBtn.title = t('theme.toggle');
      themeBtn.querySelector('.theme-label').textContent = dark ? t('theme.light') : t('theme.dark');
    };
    label();
    themeBtn.addEventListener('click', () => {
      const dark = document.documentElement.dataset.theme !== 'dark';
      document.documentElement.dataset.theme = dark ? 'dark' : 'light';
      try {
        localStorage.setItem('proclab.theme', dark ? 'dark' : 'light');
      } catch {
        /* ignore */
      }
      label();
      resetTextMeasure();
      document.dispatchEvent(new CustomEvent('proclab:theme'));
    });
    onLangChange(label);
  }
  return getLang();
}
