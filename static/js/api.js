// Small fetch helpers for the ProcLab REST API (same origin only).

import { getLang, has, t, translate } from './i18n.js';

export class ApiError extends Error {
  constructor(status, detail, body = null) {
    super(typeof detail === 'string' ? detail : `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
    this.body = body; // the parsed response (e.g. {detail: {file, line, message}})
  }
}

/** What an error answer says, in the page's language: ProcLab's own 401/403/404/409/413/429/503 …
 * carry a code and its parameters (`error.<code>`) beside their English `detail`. */
export function detailOf(body, status, lang = getLang()) {
  if (!body) return `HTTP ${status}`;
  if (typeof body === 'string') return body.slice(0, 300);
  if (typeof body.code === 'string' && has(`error.${body.code}`)) return translate(lang, `error.${body.code}`, body.params || {});
  const d = body.detail ?? body.error ?? body.message;
  if (typeof d === 'string') return d;
  if (d && typeof d === 'object' && (d.en || d.zh)) return d;
  if (Array.isArray(d)) return d.map((x) => problemText(x, lang)).join('; ');
  return `HTTP ${status}`;
}

/** One item of a 422's detail in the page's language: ProcLab's own carry a code and its parameters
 * (`error.<code>`); FastAPI's carry a type and its context (`error.type.<type>`). */
export function problemText(x, lang = getLang()) {
  if (!x || typeof x !== 'object') return String(x);
  if (typeof x.code === 'string' && has(`error.${x.code}`)) return translate(lang, `error.${x.code}`, x.params || {});
  const loc = Array.isArray(x.loc) ? x.loc.filter((p) => p !== 'body' && p !== 'query' && p !== 'path') : [];
  const params = { field: loc.join('.') || '…', ...(x.ctx && typeof x.ctx === 'object' ? x.ctx : {}) };
  if (typeof x.type === 'string' && has(`error.type.${x.type}`)) return translate(lang, `error.type.${x.type}`, params);
  if (typeof x.type === 'string' && x.type !== 'value_error' && loc.length) return translate(lang, 'error.type.other', params);
  return x.msg || JSON.stringify(x);
}

export async function request(method, url, body, { raw = null, type = 'application/json' } = {}) {
  const init = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
  if (raw != null) {
    // a file or text sent as it is (a recording)
    init.headers['Content-Type'] = type;
    init.body = raw;
  } else if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, t('api.network'));
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!res.ok) throw new ApiError(res.status, detailOf(data, res.status), data);
  return data;
}

const enc = encodeURIComponent;

export const api = {
  lesson: (id) => request('GET', `/api/lessons/${enc(id)}`),
  createRun: (lesson, files, pace = null) => request('POST', '/api/runs', pace ? { lesson, files, pace } : { lesson, files }),
  run: (id) => request('GET', `/api/runs/${enc(id)}`),
  events: (id, after = -1) => request('GET', `/api/runs/${enc(id)}/events${after >= 0 ? `?after=${after}` : ''}`),
  stop: (id) => request('POST', `/api/runs/${enc(id)}/stop`),
  signal: (id, pid, signal) => request('POST', `/api/runs/${enc(id)}/signal`, { pid, signal }),
  input: (id, text) => request('POST', `/api/runs/${enc(id)}/input`, { text }),
  pace: (id, mode, delayMs) => request('POST', `/api/runs/${enc(id)}/pace`, { mode, delay_ms: delayMs }),
  step: (id) => request('POST', `/api/runs/${enc(id)}/step`),
  room: (code) => request('GET', `/api/rooms/${enc(code)}`),
  createRoom: (title) => request('POST', '/api/rooms', title ? { title } : undefined),
  me: () => request('GET', '/api/me'),
  exportUrl: (id) => `/api/runs/${enc(id)}/export`,
  importRun: (file) => request('POST', '/api/runs/import', undefined, { raw: file, type: 'application/x-ndjson' }),
  lessonFile: (id, name) => request('GET', `/api/lessons/${enc(id)}/files/${enc(name)}`),
  saveLessonFile: (id, name, content) => request('PUT', `/api/lessons/${enc(id)}/files/${enc(name)}`, { content }),
  checkLesson: (id) => request('POST', `/api/lessons/${enc(id)}/check`),
};

/** A lesson error's words in lang: `lessonError.<code>` with its parameters, a parameter that is itself
 * {code, params} (the problem inside "expectation 'state': …") in words too; null for a code this page lacks. */
export function lessonText(m, lang = getLang()) {
  if (!m || typeof m !== 'object' || typeof m.code !== 'string' || !has(`lessonError.${m.code}`)) return null;
  const params = {};
  for (const [k, v] of Object.entries(m.params && typeof m.params === 'object' ? m.params : {})) {
    params[k] = v && typeof v === 'object' && typeof v.code === 'string' ? (lessonText(v, lang) ?? v.code) : v;
  }
  return translate(lang, `lessonError.${m.code}`, params);
}

/** The {file, line, message} of a lesson that did not validate (422), or null; the message in lang
 * (its code's words; the English `message` when the code is one this page does not know). */
export function lessonProblem(err, lang = getLang()) {
  const d = err && err.body && typeof err.body === 'object' ? err.body.detail : null;
  if (!d || typeof d !== 'object' || Array.isArray(d) || typeof d.message !== 'string') return null;
  const file = typeof d.file === 'string' ? d.file.split('/').pop() : '';
  const line = Number.isInteger(d.line) && d.line > 0 ? d.line : null;
  return { file, line, message: lessonText(d, lang) ?? d.message };
}
