// states.js: the states list (filter by prefix and text, paginated by limit/after) and the
// locks page.

import { h, route, field, table, timeEl, bytes, badge } from './dom.js';
import { raw, api, can, getSession } from './api.js';
import { errorBox, notice, loading, lockBadge, lockPanel } from './widgets.js';
import { go, flash } from './nav.js';

const PAGE_SIZES = [25, 50, 100, 200];
// Previous pages' "after" values, per filter, so "Previous page" works without the URL
// growing. Lost on reload (then "First page" is offered).
const pageStacks = new Map();

function openByName(ctx) {
  const f = field('State name', { name: 'name', required: true, autocomplete: 'off', placeholder: 'prod/network', 'data-test': 'open-name' });
  return h('form', {
    class: 'panel filters',
    onsubmit: (ev) => {
      ev.preventDefault();
      const n = f.input.value.trim();
      if (n) go(route(['state', n]));
    },
  }, f.wrap, h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Open')));
}

export async function statesPage(ctx, holder) {
  const q = ctx.query;
  holder.appendChild(h('h1', { tabindex: '-1' }, 'States'));
  if (!can.read()) {
    holder.appendChild(h('p', null, 'Your role (', getSession().role, ') may read outputs of the states its pattern (',
      h('code', null, getSession().states || ''), ') allows, but not list them. Open a state by name:'));
    holder.appendChild(openByName(ctx));
    return null;
  }
  const limit = PAGE_SIZES.includes(Number(q.limit)) ? Number(q.limit) : 50;
  const prefix = q.prefix || '';
  const text = q.q || '';
  const after = q.after || '';
  const key = prefix + '\u0000' + text + '\u0000' + limit;
  const stack = pageStacks.get(key) || [];

  const fPrefix = field('Name prefix', { name: 'prefix', value: prefix, autocomplete: 'off', placeholder: 'prod/', 'data-test': 'filter-prefix' });
  const fText = field('Name contains', { name: 'q', value: text, autocomplete: 'off', placeholder: 'network', 'data-test': 'filter-q' });
  const fLimit = field('Per page', { name: 'limit' }, 'select', PAGE_SIZES.map((n) => ({ value: n, label: String(n), selected: n === limit })));
  const form = h('form', {
    class: 'panel filters', role: 'search', 'aria-label': 'Filter states',
    onsubmit: (ev) => {
      ev.preventDefault();
      pageStacks.delete(key);
      go(route(['states'], { prefix: fPrefix.input.value.trim(), q: fText.input.value.trim(), limit: fLimit.input.value === '50' ? '' : fLimit.input.value }));
    },
  }, fPrefix.wrap, fText.wrap, fLimit.wrap,
  h('div', { class: 'actions' },
    h('button', { type: 'submit', class: 'btn btn-primary', 'data-test': 'filter-apply' }, 'Filter'),
    (prefix || text) ? h('a', { class: 'btn', href: '#/states' }, 'Clear') : null));
  holder.appendChild(form);
  const status = h('div', { 'aria-live': 'polite' }, loading('Loading states…'));
  holder.appendChild(status);

  let res;
  try {
    res = await raw('v1/states', { query: { prefix, q: text, limit, after } });
  } catch (e) {
    status.replaceChildren(errorBox(e, 'The states could not be listed'));
    return null;
  }
  let list = await res.json();
  let next = res.headers.get('X-Next-After');
  if (!Array.isArray(list)) list = [];
  // A server without limit/after/q answers everything: page it here, showing the same.
  if (!next && list.length > limit) {
    if (after) list = list.filter((s) => s.name > after);
    if (text) list = list.filter((s) => s.name.includes(text));
    if (list.length > limit) {
      list = list.slice(0, limit);
      next = list[list.length - 1].name;
    }
  }
  if (ctx.stale()) return null;

  if (list.length === 0) {
    status.replaceChildren(prefix || text || after
      ? notice('No state matches ' + [prefix ? 'prefix "' + prefix + '"' : '', text ? 'text "' + text + '"' : ''].filter(Boolean).join(' and ') + (after ? ' after "' + after + '"' : '') + '.', 'info')
      : h('div', { class: 'notice notice-info', role: 'status' },
        h('p', null, 'No states yet' + (getSession().states && getSession().states !== '**' ? ' that your pattern (' + getSession().states + ') allows' : '') + '.'),
        h('p', null, 'A state appears here after the first ', h('code', null, 'terraform apply'), ' against ',
          h('code', null, '/v1/states/NAME'), '; ', h('code', null, 'statectl backend-config NAME'), ' prints the backend block.')));
    performance.mark('stated:states-rendered');
    performance.measure('stated:states', 'stated:nav', 'stated:states-rendered');
    return null;
  }
  const cols = [
    { label: 'Name' }, { label: 'Lock' }, { label: 'Serial', cls: 'num' }, { label: 'Updated' },
    { label: 'Last writer' }, { label: 'Size', cls: 'num' },
  ];
  const rows = list.map((s) => [
    [h('a', { href: route(['state', s.name]), class: 'state-link' }, s.name),
      s.restored_from ? [' ', badge('restored', 'restore')] : null],
    lockBadge(s.lock),
    String(s.serial),
    timeEl(s.last_write),
    s.writer ? h('span', { class: 'writer' }, s.writer) : h('span', { class: 'muted' }, '—'),
    bytes(s.size),
  ]);
  const tbl = table(cols, rows, { 'data-test': 'states-table', 'aria-label': 'States' });

  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of states' },
    h('span', { class: 'muted' }, (stack.length ? 'Page ' + (stack.length + 1) : (after ? 'A later page' : 'Page 1')) + ' · ' + list.length + ' shown'),
    (after) ? h('button', {
      type: 'button', class: 'btn', 'data-test': 'page-prev',
      onclick: () => {
        const prev = stack.length ? stack.pop() : '';
        pageStacks.set(key, stack);
        go(route(['states'], { prefix, q: text, limit: limit === 50 ? '' : limit, after: prev }));
      },
    }, stack.length ? '← Previous page' : '← First page') : null,
    next ? h('button', {
      type: 'button', class: 'btn', 'data-test': 'page-next',
      onclick: () => {
        stack.push(after);
        pageStacks.set(key, stack);
        go(route(['states'], { prefix, q: text, limit: limit === 50 ? '' : limit, after: next }));
      },
    }, 'Next page →') : null);
  status.replaceChildren(tbl, pager);
  performance.mark('stated:states-rendered');
  performance.measure('stated:states', 'stated:nav', 'stated:states-rendered');
  return null;
}

export async function locksPage(ctx, holder) {
  holder.appendChild(h('h1', { tabindex: '-1' }, 'Locks'));
  holder.appendChild(h('p', { class: 'muted' }, 'Live leases held by Terraform or OpenTofu clients' +
    (can.admin() ? '.' : ', on the states your pattern allows.')));
  const status = h('div', { 'aria-live': 'polite' }, loading('Loading locks…'));
  holder.appendChild(status);
  let locks;
  try {
    locks = await api('v1/locks');
  } catch (e) {
    status.replaceChildren(errorBox(e, 'The locks could not be listed'));
    return null;
  }
  if (ctx.stale()) return null;
  if (!Array.isArray(locks) || locks.length === 0) {
    status.replaceChildren(notice('No state is locked right now.', 'info'));
    return null;
  }
  const sel = ctx.query.state || '';
  const list = h('div', { class: 'locks' });
  for (const l of locks) {
    const card = h('div', { class: 'lock-card' },
      h('h3', null, h('a', { href: route(['state', l.state]) }, l.state)),
      lockPanel(l.state, l, () => {
        flash('Lock on ' + l.state + ' released.', 'ok');
        ctx.rerender();
      }));
    if (sel && sel === l.state) card.classList.add('selected');
    list.appendChild(card);
  }
  status.replaceChildren(list);
  return null;
}
