// app.js: the console's entry point: the header, the hash router and the sign-in page.
//
// Routes (hash only, so the page works under any path prefix):
//   #/signin  #/states?prefix=&q=&after=  #/state/NAME  #/diff/NAME?from=&to=
//   #/restore/NAME?id=  #/locks  #/audit?...  #/tokens

import { h, clear, route, field } from './dom.js';
import { loadSession, signIn, signOut, getSession, setUnauthorizedHandler, forgetSession, can } from './api.js';
import { errorBox, notice, loading } from './widgets.js';
import { flash, takeFlash, go, setRender } from './nav.js';
import { statesPage, locksPage } from './states.js';
import { statePage, diffPage, restorePage } from './state.js';
import { auditPage, tokensPage } from './admin.js';

const main = () => document.getElementById('main');
let renderSeq = 0;

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const qi = raw.indexOf('?');
  const path = qi >= 0 ? raw.slice(0, qi) : raw;
  const query = {};
  if (qi >= 0) {
    for (const part of raw.slice(qi + 1).split('&')) {
      if (!part) continue;
      const eq = part.indexOf('=');
      const k = decodeURIComponent(eq >= 0 ? part.slice(0, eq) : part);
      const v = eq >= 0 ? decodeURIComponent(part.slice(eq + 1)) : '';
      query[k] = v;
    }
  }
  const parts = path.split('/').filter((p) => p !== '').map((p) => decodeURIComponent(p));
  return { parts, query };
}

// ------------------------------------------------------------------ header

function renderHeader() {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  clear(nav);
  clear(who);
  const s = getSession();
  if (!s) return;
  const cur = parseHash().parts[0] || 'states';
  const item = (key, label, href) => h('li', null,
    h('a', { href, 'aria-current': cur === key || (key === 'states' && (cur === 'state' || cur === 'diff' || cur === 'restore')) ? 'page' : null }, label));
  const items = [];
  if (can.outputs()) items.push(item('states', 'States', '#/states'));
  if (can.read()) items.push(item('locks', 'Locks', '#/locks'));
  if (can.admin()) items.push(item('audit', 'Audit', '#/audit'));
  if (can.admin()) items.push(item('tokens', 'Tokens', '#/tokens'));
  nav.appendChild(h('ul', null, items));
  who.appendChild(h('span', { class: 'identity', 'data-test': 'identity' },
    h('span', { class: 'id-name' }, s.name || '?'), ' ', h('span', { class: 'badge badge-role' }, s.role || '?')));
  who.appendChild(h('button', {
    type: 'button', class: 'btn btn-small', 'data-test': 'signout',
    onclick: async () => {
      try {
        await signOut();
        flash('Signed out. The session cookie is cleared; sign in again to continue.', 'info');
      } catch (e) {
        flash('Sign-out failed on the server (' + e.message + '); the page forgot the session anyway.', 'error');
      }
      go('#/signin');
    },
  }, 'Sign out'));
}

// ------------------------------------------------------------------ sign-in

function signinPage(ctx) {
  const tok = field('Token or OIDC JWT', {
    type: 'password', name: 'token', autocomplete: 'off', required: true, spellcheck: 'false', 'data-test': 'token',
  }, 'input', null, 'Pasted once and exchanged for a session cookie; the console never stores it.');
  const msg = h('div', { 'aria-live': 'polite' });
  const btn = h('button', { type: 'submit', class: 'btn btn-primary', 'data-test': 'signin' }, 'Sign in');
  const form = h('form', {
    class: 'panel signin', novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      const value = tok.input.value.trim();
      if (!value) {
        msg.replaceChildren(notice('Paste a token or a JWT first.', 'error'));
        tok.input.focus();
        return;
      }
      btn.disabled = true;
      msg.replaceChildren(loading('Signing in…'));
      try {
        await signIn(value);
        tok.input.value = '';
        go(ctx.query.next && ctx.query.next.startsWith('#/') && !ctx.query.next.startsWith('#/signin') ? ctx.query.next : '#/states');
      } catch (e) {
        tok.input.value = '';
        btn.disabled = false;
        msg.replaceChildren(errorBox(e, e.status === 401 ? 'Sign-in refused: the token is unknown, expired or revoked' : 'Sign-in failed'));
        tok.input.focus();
      }
    },
  },
  h('h1', { tabindex: '-1' }, 'Sign in to stated'),
  h('p', null, 'Use an API token (from ', h('code', null, 'statectl tokens create'), ' or the administrator) or an OIDC JWT your CI issued. What you see depends on its role.'),
  tok.wrap,
  h('div', { class: 'actions' }, btn),
  msg);
  return form;
}

// ------------------------------------------------------------------ router

const PAGES = {
  signin: signinPage,
  states: statesPage,
  state: statePage,
  diff: diffPage,
  restore: restorePage,
  locks: locksPage,
  audit: auditPage,
  tokens: tokensPage,
};

let started = false;

async function render() {
  // "#main" (the skip link) and other in-page anchors are not routes.
  if (started && location.hash && !location.hash.startsWith('#/')) return;
  started = true;
  const seq = ++renderSeq;
  performance.mark('stated:nav');
  const ctx = location.hash.startsWith('#/') ? parseHash() : { parts: [], query: {} };
  let page = ctx.parts[0] || (getSession() ? 'states' : 'signin');
  if (!PAGES[page]) page = 'notfound';
  if (page !== 'signin' && !getSession()) {
    const next = location.hash && !location.hash.startsWith('#/signin') ? location.hash : '';
    location.replace(route(['signin'], { next }));
    return;
  }
  if (page === 'signin' && getSession()) {
    location.replace('#/states');
    return;
  }
  renderHeader();
  const m = main();
  clear(m);
  const f = takeFlash();
  if (f) m.appendChild(notice(f.text, f.kind));
  const holder = h('div', { class: 'page page-' + page });
  m.appendChild(holder);
  ctx.stale = () => seq !== renderSeq;
  ctx.rerender = () => render();
  document.title = titleFor(page, ctx) + ' · stated';
  try {
    if (page === 'notfound') {
      holder.appendChild(h('div', null, h('h1', { tabindex: '-1' }, 'No such page'),
        h('p', null, 'The address does not name a page of the console. ', h('a', { href: '#/states' }, 'Go to the states.'))));
    } else {
      const node = await PAGES[page](ctx, holder);
      if (ctx.stale()) return;
      if (node) holder.appendChild(node);
    }
  } catch (e) {
    if (ctx.stale()) return;
    if (e && e.status === 401) return; // the handler below took over
    holder.appendChild(errorBox(e, 'This page could not be shown'));
  }
  if (ctx.stale()) return;
  m.setAttribute('data-rendered', String(seq));
  const h1 = holder.querySelector('h1');
  if (h1 && document.activeElement === document.body) h1.focus({ preventScroll: true });
}

function titleFor(page, ctx) {
  const n = ctx.parts[1] || '';
  switch (page) {
    case 'state': return n;
    case 'diff': return 'Diff ' + n;
    case 'restore': return 'Restore ' + n;
    case 'signin': return 'Sign in';
    default: return page.charAt(0).toUpperCase() + page.slice(1);
  }
}

setUnauthorizedHandler(() => {
  if (!getSession()) return;
  forgetSession();
  flash('Your session has ended (expired, signed out elsewhere, or the token was revoked). Sign in again.', 'info');
  renderSeq++;
  const next = location.hash && !location.hash.startsWith('#/signin') ? location.hash : '';
  location.replace(route(['signin'], { next }));
});

async function start() {
  const m = main();
  m.replaceChildren(loading('Connecting to stated…'));
  try {
    await loadSession();
  } catch (e) {
    m.replaceChildren(errorBox(e, 'stated did not answer the session check'));
    return;
  }
  setRender(render);
  window.addEventListener('hashchange', render);
  render();
}

start();
