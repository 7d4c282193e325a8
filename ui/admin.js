// admin.js: the audit trail (filters, pages by "before", chain verification) and tokens
// (create with the secret shown once, list with last use, revoke).

import { h, route, field, table, timeEl, badge, uid } from './dom.js';
import { api, can } from './api.js';
import { errorBox, notice, loading, confirmDialog } from './widgets.js';
import { go, flash } from './nav.js';

const ACTIONS = ['get', 'write', 'delete', 'lock', 'unlock', 'list', 'state-info', 'snapshot-list', 'snapshot-read',
  'snapshot-delete', 'diff', 'outputs', 'restore', 'state-move', 'lock-list', 'force-unlock', 'export',
  'audit-verify', 'audit-events', 'token-list', 'token-create', 'token-revoke', 'whoami', 'session-create', 'session',
  'session-end', 'auth-failed'];
const ROLES = ['read', 'plan', 'outputs', 'write', 'admin', 'metrics'];
const AUDIT_PAGE = 50;
const beforeStacks = new Map();

function adminOnly(holder, what) {
  holder.appendChild(notice(what + ' is for the admin role only.', 'error'));
  return null;
}

// "2026-11-22T10:00" (a datetime-local value, read as UTC) -> "2026-11-22T10:00:00Z".
function toUtc(v) {
  if (!v) return '';
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(v) ? v + ':00Z' : v;
}
function fromUtc(v) {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d)(:\d\d)?Z$/.exec(v || '');
  return m ? m[1] : '';
}

export async function auditPage(ctx, holder) {
  holder.appendChild(h('h1', { tabindex: '-1' }, 'Audit trail'));
  if (!can.admin()) return adminOnly(holder, 'The audit trail');
  const q = ctx.query;

  // Verify the chain.
  const vres = h('div', { 'aria-live': 'polite', 'data-test': 'verify-result' });
  const vbtn = h('button', {
    type: 'button', class: 'btn', 'data-test': 'verify',
    onclick: async () => {
      vbtn.disabled = true;
      vres.replaceChildren(loading('Recomputing the hash chain…'));
      try {
        const r = await api('v1/audit/verify');
        vres.replaceChildren(r.ok
          ? h('div', { class: 'notice notice-ok', role: 'status' }, 'Chain intact: ' + String(r.events) + ' events verified from the first one.')
          : h('div', { class: 'notice notice-error', role: 'alert' }, 'Chain BROKEN at event ' + String(r.first_broken) + ': ' + String(r.reason || '') +
            ' (' + String(r.events) + ' events read). An event was changed, removed or reordered after it was written.'));
      } catch (e) {
        vres.replaceChildren(errorBox(e, 'The chain could not be verified'));
      }
      vbtn.disabled = false;
    },
  }, 'Verify the chain');
  holder.appendChild(h('section', { class: 'panel verify' },
    h('p', null, 'Every event is chained to the one before by its hash; verifying recomputes the whole chain.'),
    h('div', { class: 'actions' }, vbtn), vres));

  // Filters.
  const dl = uid('actions');
  const fState = field('State pattern', { name: 'state', value: q.state || '', placeholder: 'prod/**', autocomplete: 'off', 'data-test': 'audit-state' }, 'input', null, '* within a segment, ** across');
  const fActor = field('Actor', { name: 'actor', value: q.actor || '', placeholder: 'admin', autocomplete: 'off', 'data-test': 'audit-actor' });
  const fAction = field('Action', { name: 'action', value: q.action || '', list: dl, autocomplete: 'off', 'data-test': 'audit-action' });
  const fSince = field('Since (UTC)', { type: 'datetime-local', name: 'since', value: fromUtc(q.since), 'data-test': 'audit-since' });
  const fUntil = field('Until (UTC)', { type: 'datetime-local', name: 'until', value: fromUtc(q.until), 'data-test': 'audit-until' });
  const form = h('form', {
    class: 'panel filters', role: 'search', 'aria-label': 'Filter the audit trail',
    onsubmit: (ev) => {
      ev.preventDefault();
      go(route(['audit'], {
        state: fState.input.value.trim(), actor: fActor.input.value.trim(), action: fAction.input.value.trim(),
        since: toUtc(fSince.input.value), until: toUtc(fUntil.input.value),
      }));
    },
  }, fState.wrap, fActor.wrap, fAction.wrap, fSince.wrap, fUntil.wrap,
  h('datalist', { id: dl }, ACTIONS.map((a) => h('option', { value: a }))),
  h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary', 'data-test': 'audit-apply' }, 'Filter'),
    h('a', { class: 'btn', href: '#/audit' }, 'Clear')));
  holder.appendChild(form);

  const status = h('div', { 'aria-live': 'polite' }, loading('Loading events…'));
  holder.appendChild(status);
  const filt = { state: q.state, actor: q.actor, action: q.action, since: q.since, until: q.until };
  const key = JSON.stringify(filt);
  const stack = beforeStacks.get(key) || [];
  let ans;
  try {
    ans = await api('v1/audit/events', { query: { ...filt, limit: AUDIT_PAGE, before: q.before } });
  } catch (e) {
    if (ctx.stale()) return null;
    status.replaceChildren(errorBox(e, 'The audit trail could not be read'));
    return null;
  }
  if (ctx.stale()) return null;
  const events = ans && Array.isArray(ans.events) ? ans.events : [];
  if (events.length === 0) {
    status.replaceChildren(notice(Object.values(filt).some(Boolean) ? 'No event matches these filters.' : 'The audit trail is empty.', 'info'));
    return null;
  }
  const cols = [{ label: 'Seq', cls: 'num' }, { label: 'Time' }, { label: 'Action' }, { label: 'State' }, { label: 'Actor' },
    { label: 'Status', cls: 'num' }, { label: 'Serial', cls: 'num' }, { label: 'Detail' }, { label: 'Peer' }];
  const rows = events.map((e) => [
    String(e.seq),
    timeEl(e.time),
    h('code', { class: 'nowrap', title: e.request_id ? 'request ' + e.request_id : null }, String(e.action || '')),
    e.state ? h('a', { href: route(['state', e.state]) }, String(e.state)) : h('span', { class: 'muted' }, '—'),
    [String(e.actor || '') || h('span', { class: 'muted' }, '(none)'), (e.username || e.user) ? h('small', { class: 'muted' }, ' (' + (e.username || e.user) + ')') : null],
    badge(String(e.status), Number(e.status) >= 400 ? 'removed' : 'added'),
    e.serial !== undefined && e.serial !== null ? String(e.serial) : '',
    e.detail ? h('span', { class: 'detail' }, String(e.detail)) : '',
    h('small', null, String(e.peer || e.remote || '')),
  ]);
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of events' },
    h('span', { class: 'muted' }, events.length + ' events, newest first'),
    q.before ? h('button', {
      type: 'button', class: 'btn', 'data-test': 'audit-newer',
      onclick: () => {
        const prev = stack.pop() || '';
        beforeStacks.set(key, stack);
        go(route(['audit'], { ...filt, before: prev }));
      },
    }, stack.length ? '← Newer' : '← Newest') : null,
    ans.next_before !== null && ans.next_before !== undefined ? h('button', {
      type: 'button', class: 'btn', 'data-test': 'audit-older',
      onclick: () => {
        stack.push(q.before || '');
        beforeStacks.set(key, stack);
        go(route(['audit'], { ...filt, before: ans.next_before }));
      },
    }, 'Older →') : null);
  status.replaceChildren(table(cols, rows, { 'data-test': 'audit-table', 'aria-label': 'Audit events' }), pager);
  return null;
}

// ------------------------------------------------------------------ tokens

async function copyText(text, input, msg) {
  try {
    await navigator.clipboard.writeText(text);
    msg.replaceChildren(notice('Copied to the clipboard.', 'ok'));
  } catch (e) {
    input.select();
    msg.replaceChildren(notice('The browser did not allow copying: the secret is selected, press Ctrl+C.', 'info'));
  }
}

function secretPanel(t) {
  const id = uid('secret');
  const input = h('input', { type: 'text', id, readonly: true, value: t.token, class: 'secret', spellcheck: 'false', autocomplete: 'off', 'data-test': 'new-secret' });
  const msg = h('div', { 'aria-live': 'polite' });
  return h('section', { class: 'panel secret-panel', role: 'region', 'aria-label': 'New token' },
    h('h2', null, 'Token ', h('code', null, t.name), ' created'),
    h('p', null, h('strong', null, 'Copy the secret now: it is shown this once'), ' (stated keeps only its SHA-256). Role ',
      h('code', null, t.role), ', states ', h('code', null, t.states), t.expires ? [', expires ', timeEl(t.expires)] : ', never expires', '.'),
    h('div', { class: 'field' }, h('label', { for: id }, 'Secret'),
      h('div', { class: 'inline' }, input,
        h('button', { type: 'button', class: 'btn', 'data-test': 'copy-secret', onclick: () => copyText(t.token, input, msg) }, 'Copy'))),
    msg,
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-primary', 'data-test': 'secret-done', onclick: (ev) => ev.target.closest('section').remove() }, 'Done, I have copied it')));
}

export async function tokensPage(ctx, holder) {
  holder.appendChild(h('h1', { tabindex: '-1' }, 'Tokens'));
  if (!can.admin()) return adminOnly(holder, 'Token management');
  const secretSlot = h('div');
  holder.appendChild(secretSlot);

  const fName = field('Name', { name: 'name', required: true, autocomplete: 'off', placeholder: 'ci-dev', 'data-test': 'tok-name' });
  const fRole = field('Role', { name: 'role', 'data-test': 'tok-role' }, 'select', ROLES.map((r) => ({ value: r, label: r, selected: r === 'read' })));
  const fStates = field('States pattern', { name: 'states', value: '**', autocomplete: 'off', 'data-test': 'tok-states' }, 'input', null, 'e.g. dev/** or prod/network');
  const fExp = field('Expires after', { name: 'expires', autocomplete: 'off', placeholder: '30d', 'data-test': 'tok-expires' }, 'input', null, '90s, 12h, 30d or an RFC 3339 time; empty: never');
  const cmsg = h('div', { 'aria-live': 'polite' });
  const form = h('form', {
    class: 'panel filters', 'aria-label': 'Create a token',
    onsubmit: async (ev) => {
      ev.preventDefault();
      const body = { name: fName.input.value.trim(), role: fRole.input.value, states: fStates.input.value.trim() || '**' };
      if (fExp.input.value.trim()) body.expires = fExp.input.value.trim();
      if (!body.name) {
        cmsg.replaceChildren(notice('Give the token a name.', 'error'));
        fName.input.focus();
        return;
      }
      try {
        const t = await api('v1/tokens', { method: 'POST', body });
        cmsg.replaceChildren();
        fName.input.value = '';
        fExp.input.value = '';
        secretSlot.replaceChildren(secretPanel(t));
        await loadList();
        secretSlot.querySelector('input').focus();
      } catch (e) {
        cmsg.replaceChildren(errorBox(e, 'The token was not created'));
      }
    },
  }, h('h2', { class: 'full' }, 'Create a token'), fName.wrap, fRole.wrap, fStates.wrap, fExp.wrap,
  h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary', 'data-test': 'tok-create' }, 'Create token')), cmsg);
  holder.appendChild(form);

  const listSlot = h('section', { class: 'panel', 'aria-labelledby': 'tok-list-h' }, h('h2', { id: 'tok-list-h' }, 'Tokens'));
  const listBody = h('div', { 'aria-live': 'polite' }, loading('Loading tokens…'));
  listSlot.appendChild(listBody);
  holder.appendChild(listSlot);
  const rmsg = h('div', { 'aria-live': 'polite' });
  listSlot.appendChild(rmsg);

  async function loadList() {
    let toks;
    try {
      toks = await api('v1/tokens');
    } catch (e) {
      listBody.replaceChildren(errorBox(e, 'The tokens could not be listed'));
      return;
    }
    if (!Array.isArray(toks) || toks.length === 0) {
      listBody.replaceChildren(notice('No tokens.', 'info'));
      return;
    }
    const cols = [{ label: 'Name' }, { label: 'Role' }, { label: 'States' }, { label: 'Source' }, { label: 'Created' },
      { label: 'Expires' }, { label: 'Last used' }, { label: 'Revoke' }];
    listBody.replaceChildren(table(cols, toks.map((t) => [
      h('code', null, String(t.name)),
      badge(String(t.role), 'role'),
      h('code', null, String(t.states || '')),
      String(t.source || ''),
      timeEl(t.created),
      t.expires ? timeEl(t.expires) : h('span', { class: 'muted' }, 'never'),
      t.last_used ? [timeEl(t.last_used), t.last_used_from ? h('small', { class: 'muted' }, ' from ' + t.last_used_from) : null] : h('span', { class: 'muted' }, 'not used yet'),
      t.source === 'store' || t.source === 'postgres'
        ? h('button', {
          type: 'button', class: 'btn btn-small btn-danger', 'data-test': 'revoke', 'data-name': String(t.name),
          onclick: async () => {
            const ok = await confirmDialog({
              title: 'Revoke token ' + t.name + '?',
              body: h('p', null, 'Every client using it (CI jobs, sessions signed in with it) is refused from its next request.'),
              confirm: 'Revoke', danger: true,
            });
            if (!ok) return;
            try {
              await api('v1/tokens/' + encodeURIComponent(t.name), { method: 'DELETE' });
              rmsg.replaceChildren(notice('Token ' + t.name + ' revoked.', 'ok'));
              await loadList();
            } catch (e) {
              rmsg.replaceChildren(errorBox(e, 'The token was not revoked'));
            }
          },
        }, 'Revoke…')
        : h('small', { class: 'muted', title: 'remove it from the environment or the token file' }, 'from ' + (t.source || '?')),
    ]), { 'data-test': 'tokens-table', 'aria-label': 'Tokens' }));
  }
  await loadList();
  return null;
}

