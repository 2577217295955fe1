// The UI's words: a small loader and formatter over the catalogues static/i18n/en.json and zh.json,
// the same files the server renders templates from (app/i18n.py). No build step: the browser imports
// the JSON as modules, node (tests/js/) too.
//
// Pure part (tested in node): STRINGS, translate(), pickLanguage(), format().
// Browser part: getLang(), setLang(), t(), applyI18n(), onLangChange().

import en from '../i18n/en.json' with { type: 'json' };
import zh from '../i18n/zh.json' with { type: 'json' };

export const LANGS = ['en', 'zh'];

// Strings other branches added while the catalogues moved to static/i18n/ (contracts.md: one block per
// engineer, both languages, marked with their name); the lead moves them into the JSON files.
const ADDED = {
  en: {},
  zh: {},
};

export const STRINGS = { en: { ...en, ...ADDED.en }, zh: { ...zh, ...ADDED.zh } };

/** Whether a key exists in the English catalogue (the reference). */
export function has(key) {
  return Object.prototype.hasOwnProperty.call(STRINGS.en, key);
}

/** Replace {name} placeholders. Values are inserted as text, never markup. */
export function format(str, params) {
  if (!params) return str;
  return str.replace(/\{(\w+)\}/g, (m, k) => (Object.prototype.hasOwnProperty.call(params, k) ? String(params[k]) : m));
}

/** Look a key up in a language, falling back to English, then to the key. */
export function translate(lang, key, params) {
  const table = STRINGS[lang] || STRINGS.en;
  const s = table[key] ?? STRINGS.en[key] ?? key;
  return format(s, params);
}

/** Normalise a language tag ("zh-CN", "zh_Hans", "en-US") to "en" or "zh", or null. */
export function normalizeLang(tag) {
  if (!tag || typeof tag !== 'string') return null;
  const base = tag.trim().toLowerCase().split(/[-_]/)[0];
  return LANGS.includes(base) ? base : null;
}

/**
 * Choose the UI language: an explicit choice (localStorage) wins, then the
 * cookie, then the page's language as rendered by the server, then the
 * browser's list, then English.
 */
export function pickLanguage({ stored = null, cookie = null, page = null, navigatorLanguages = [] } = {}) {
  for (const c of [stored, cookie]) {
    const l = normalizeLang(c);
    if (l) return l;
  }
  for (const c of navigatorLanguages || []) {
    const l = normalizeLang(c);
    if (l) return l;
  }
  return normalizeLang(page) || 'en';
}

/** Value of a cookie in a document.cookie string. */
export function readCookie(cookieString, name) {
  if (!cookieString) return null;
  for (const part of cookieString.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    if (part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return null;
}

// ---- browser part ---------------------------------------------------------

let current = 'en';
const listeners = new Set();
const hasDom = typeof document !== 'undefined';

function storageGet(key) {
  try {
    return typeof localStorage !== 'undefined' ? localStorage.getItem(key) : null;
  } catch {
    return null;
  }
}

function storageSet(key, value) {
  try {
    if (typeof localStorage !== 'undefined') localStorage.setItem(key, value);
  } catch {
    /* private mode */
  }
}

export function getLang() {
  return current;
}

/** Translate in the current language. */
export function t(key, params) {
  return translate(current, key, params);
}

/** Localised text of a {en, zh} object (or a plain string). */
export function pick(obj, lang = current) {
  if (obj == null) return '';
  if (typeof obj === 'string') return obj;
  return obj[lang] ?? obj.en ?? obj.zh ?? '';
}

export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/**
 * Initialise from storage, cookie, the server-rendered <html lang> and the
 * browser. Returns the chosen language and applies it to the page.
 */
export function initLang() {
  if (!hasDom) return current;
  const stored = storageGet('proclab.lang');
  const cookie = readCookie(document.cookie, 'lang');
  const page = document.documentElement.getAttribute('lang');
  const navs = typeof navigator !== 'undefined' ? (navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]) : [];
  const lang = pickLanguage({ stored, cookie, page, navigatorLanguages: navs });
  setLang(lang, { remember: !!(stored || cookie) });
  return lang;
}

/** Switch the UI language; remembered in localStorage and a `lang` cookie. */
export function setLang(lang, { remember = true } = {}) {
  const l = normalizeLang(lang) || 'en';
  const changed = l !== current;
  current = l;
  if (hasDom) {
    document.documentElement.setAttribute('lang', l === 'zh' ? 'zh-CN' : 'en');
    document.documentElement.dataset.lang = l;
    if (remember) {
      storageSet('proclab.lang', l);
      document.cookie = `lang=${l}; path=/; max-age=31536000; SameSite=Lax`;
    }
    applyI18n(document);
  }
  if (changed) for (const fn of listeners) fn(l);
  return l;
}

/**
 * Translate every [data-i18n] element's text and [data-i18n-attr] attributes
 * ("aria-label:key;title:key2").
 */
export function applyI18n(root) {
  if (!root || !root.querySelectorAll) return;
  for (const el of root.querySelectorAll('[data-i18n]')) {
    const params = el.dataset.i18nParams ? safeJson(el.dataset.i18nParams) : undefined;
    el.textContent = t(el.dataset.i18n, params);
  }
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    const params = el.dataset.i18nParams ? safeJson(el.dataset.i18nParams) : undefined;
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':').map((x) => x.trim());
      if (attr && key) el.setAttribute(attr, t(key, params));
    }
  }
}

function safeJson(s) {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}
