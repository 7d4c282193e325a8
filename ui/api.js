// api.js: talks to stated's admin API with the session cookie.
//
// Every URL is relative ("../v1/..." from /ui/), so the console works behind a path prefix.
// The sign-in token is sent once in the body of POST ../v1/session and then forgotten; the
// session is the HttpOnly cookie the server set, and the CSRF token lives only in this
// module's memory (a reload asks GET ../v1/session for it again). Nothing is written to
// localStorage, sessionStorage or the URL.

import { qs } from './dom.js';

let session = null;
let onUnauthorized = null;

export class ApiError extends Error {
  constructor(status, code, message, requestId, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.body = body;
  }
}

export function getSession() {
  return session;
}

export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

// A state name in a path: each segment encoded (names are [A-Za-z0-9._-] anyway).
export function statePath(name) {
  return String(name).split('/').map(encodeURIComponent).join('/');
}

// raw(path, opts): the Response, or throws ApiError with the server's {code, message}.
// path is relative to stated's root ("v1/states"); opts: method, query, body (JSON), quiet401.
export async function raw(path, opts) {
  const o = opts || {};
  const method = o.method || 'GET';
  let url = '../' + path;
  const q = qs(o.query);
  if (q) url += '?' + q;
  const headers = { Accept: 'application/json' };
  let body;
  if (o.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(o.body);
  }
  if (method !== 'GET' && session && session.csrf) headers['X-CSRF-Token'] = session.csrf;
  let res;
  try {
    res = await fetch(url, { method, headers, body, credentials: 'same-origin', cache: 'no-store', redirect: 'error' });
  } catch (e) {
    throw new ApiError(0, '', 'stated did not answer (' + e.message + ')', null, null);
  }
  if (!res.ok) {
    let j = null;
    try {
      j = JSON.parse(await res.text());
    } catch (e) {
      j = null;
    }
    const msg = j && typeof j.message === 'string' ? j.message : res.statusText || 'request failed';
    const err = new ApiError(res.status, j && typeof j.code === 'string' ? j.code : '', msg,
      res.headers.get('X-Request-Id'), j);
    if (res.status === 401 && !o.quiet401 && onUnauthorized) onUnauthorized(err);
    throw err;
  }
  return res;
}

export async function api(path, opts) {
  const res = await raw(path, opts);
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

// ------------------------------------------------------------------ session

export async function loadSession() {
  try {
    session = await api('v1/session', { quiet401: true });
  } catch (e) {
    session = null;
    if (e.status !== 401) throw e;
  }
  return session;
}

export async function signIn(token) {
  session = await api('v1/session', { method: 'POST', body: { token }, quiet401: true });
  return session;
}

export async function signOut() {
  try {
    await api('v1/session', { method: 'DELETE', quiet401: true });
  } finally {
    session = null;
  }
}

export function forgetSession() {
  session = null;
}

// ------------------------------------------------------------------ roles

const RANK = { metrics: 0, outputs: 1, read: 2, plan: 3, write: 4, admin: 5 };

export function role() {
  return session ? session.role : '';
}

export const can = {
  // list and read states, versions, diffs, locks
  read: () => (RANK[role()] || 0) >= RANK.read,
  outputs: () => (RANK[role()] || 0) >= RANK.outputs,
  restore: () => (RANK[role()] || 0) >= RANK.write,
  admin: () => role() === 'admin',
  // Force-unlock from the console: admin always; another identity only when the server
  // says its policy allows it (a "force_unlock" field in the session, when present).
  forceUnlock: (lock) => {
    if (role() === 'admin') return true;
    const p = session && session.force_unlock;
    if ((RANK[role()] || 0) < RANK.write || !p) return false;
    if (p === 'any') return true;
    if (p === 'holder-or-admin') return !!(lock && lock.owner && lock.owner === session.name);
    return false;
  },
};
