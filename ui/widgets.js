// widgets.js: error boxes, notices, the confirm dialog and the lock panel, shared by the pages.

import { h, field, timeEl, relative, utc, badge, uid } from './dom.js';
import { api, statePath, can } from './api.js';

// The server's error, as it said it: "503 INFRA_005: stated cannot reach PostgreSQL: ...".
export function errorBox(err, what) {
  const status = err && err.status ? String(err.status) : '';
  const code = err && err.code ? err.code : '';
  const lines = [];
  if (err && err.status === 403) lines.push('Your role may not do this; the server refused it.');
  if (err && err.status === 404) lines.push('Nothing by that name (it may have been deleted or moved).');
  if (err && err.status >= 500) lines.push('stated could not do this right now; the message above is the server\'s. Try again shortly.');
  if (err && err.status === 0) lines.push('The server did not answer: check that stated is running and reachable.');
  const holder = err && err.body && (err.body.Who || err.body.ID) ? err.body : null;
  return h('div', { class: 'notice notice-error', role: 'alert' },
    h('strong', null, what || 'The request failed'),
    h('p', { class: 'err-line' },
      [status, code].filter(Boolean).join(' ') + (status || code ? ': ' : ''),
      h('span', { class: 'err-msg' }, err && err.message ? err.message : String(err))),
    lines.map((l) => h('p', null, l)),
    holder ? h('p', null, 'Held by ', h('code', null, holder.Who || ''), ' (lock ', h('code', null, holder.ID || ''),
      holder.Operation ? ', ' + holder.Operation : '', ')') : null,
    err && err.requestId ? h('p', { class: 'muted' }, 'Request ID ', h('code', null, err.requestId)) : null);
}

export function notice(text, kind) {
  return h('div', { class: 'notice notice-' + (kind || 'info'), role: 'status' }, text);
}

export function loading(text) {
  return h('p', { class: 'loading', role: 'status' }, text || 'Loading…');
}

// confirmDialog({title, body, reason: {label, required, hint}, confirm, danger})
//   -> Promise<{reason}|null>. A modal <dialog> (not window.confirm): focus stays in it,
// Escape cancels.
export function confirmDialog(opts) {
  return new Promise((resolve) => {
    let reasonInput = null;
    let reasonField = null;
    if (opts.reason) {
      reasonField = field(opts.reason.label || 'Reason',
        { name: 'reason', maxlength: 200, required: !!opts.reason.required, autocomplete: 'off', 'data-test': 'dialog-reason' },
        'input', null, opts.reason.hint);
      reasonInput = reasonField.input;
    }
    const cancel = h('button', { type: 'button', class: 'btn', 'data-test': 'dialog-cancel' }, 'Cancel');
    const ok = h('button', { type: 'submit', class: 'btn ' + (opts.danger ? 'btn-danger' : 'btn-primary'), 'data-test': 'dialog-confirm' },
      opts.confirm || 'Confirm');
    const titleId = 'dlg-title-' + Math.random().toString(36).slice(2);
    const form = h('form', { method: 'dialog', class: 'dialog-form' },
      h('h2', { id: titleId }, opts.title),
      opts.body || null,
      reasonField ? reasonField.wrap : null,
      h('div', { class: 'actions' }, cancel, ok));
    const dlg = h('dialog', { 'aria-labelledby': titleId, class: 'dialog' }, form);
    let done = false;
    const finish = (v) => {
      if (done) return;
      done = true;
      if (dlg.open) dlg.close();
      dlg.remove();
      resolve(v);
    };
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (reasonInput && opts.reason.required && !reasonInput.value.trim()) {
        reasonInput.focus();
        return;
      }
      finish({ reason: reasonInput ? reasonInput.value.trim() : '' });
    });
    cancel.addEventListener('click', () => finish(null));
    dlg.addEventListener('close', () => finish(null));
    document.body.appendChild(dlg);
    dlg.showModal();
    (reasonInput || ok).focus();
  });
}

// A lock's details: holder's info, identity, age, lease expiry; force-unlock when allowed.
// onReleased() runs after a successful force-unlock.
export function lockPanel(name, lock, onReleased) {
  const hid = uid('lock-h');
  if (!lock) {
    return h('section', { class: 'panel lock-panel', 'aria-labelledby': hid },
      h('h2', { id: hid }, 'Lock'),
      h('p', { class: 'muted', 'data-test': 'lock-none' }, 'Not locked. Terraform takes the lock during plan and apply and releases it when done.'));
  }
  const rows = [
    ['Who', lock.who ? h('code', { 'data-test': 'lock-who' }, lock.who) : h('span', { class: 'muted' }, '(not given)')],
    ['Operation', lock.operation || '—'],
    ['Info', lock.info ? h('code', null, lock.info) : h('span', { class: 'muted' }, '(none)')],
    ['Owner identity', lock.owner ? h('code', null, lock.owner) : h('span', { class: 'muted' }, '(not recorded)')],
    ['Lock ID', h('code', null, lock.id || '')],
    lock.version ? ['Client version', lock.version] : null,
    lock.path ? ['Path', h('code', null, lock.path)] : null,
    ['Held since', timeEl(lock.created)],
    ['Age', lock.created ? relative(lock.created).replace(/ ago$/, '').replace(/^just now$/, 'under 5 s') : '—'],
    ['Last renewed', timeEl(lock.renewed)],
    ['Lease expires', timeEl(lock.expires)],
  ].filter(Boolean);
  const msg = h('div', { 'aria-live': 'polite' });
  let unlockBtn = null;
  if (can.forceUnlock(lock)) {
    unlockBtn = h('button', {
      type: 'button', class: 'btn btn-danger', 'data-test': 'force-unlock',
      onclick: async () => {
        const r = await confirmDialog({
          title: 'Force-unlock ' + name + '?',
          body: h('div', null,
            h('p', null, 'This releases the lock held by ', h('code', null, lock.who || '(unknown)'),
              ' (ID ', h('code', null, lock.id || ''), '). If that client is still running, its next write may be refused or may overwrite newer work.'),
            h('p', null, 'The release and your reason are recorded in the audit trail.')),
          reason: { label: 'Reason', required: true, hint: 'e.g. "CI job 4711 was cancelled"' },
          confirm: 'Force-unlock',
          danger: true,
        });
        if (!r) return;
        unlockBtn.disabled = true;
        try {
          await api('v1/locks/' + statePath(name), { method: 'DELETE', query: { id: lock.id, reason: r.reason } });
          msg.replaceChildren(notice('Lock released.', 'ok'));
          if (onReleased) onReleased();
        } catch (e) {
          unlockBtn.disabled = false;
          msg.replaceChildren(errorBox(e, 'Force-unlock failed'));
        }
      },
    }, 'Force-unlock…');
  }
  return h('section', { class: 'panel lock-panel locked', 'aria-labelledby': hid, 'data-test': 'lock-panel' },
    h('h2', { id: hid }, 'Lock ', badge('locked', 'lock')),
    h('dl', { class: 'kv' }, rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
    unlockBtn ? h('div', { class: 'actions' }, unlockBtn)
      : h('p', { class: 'muted', 'data-test': 'unlock-hint' }, 'Releasing another client\'s lock needs the admin role here; the holder can run ',
        h('code', null, 'terraform force-unlock ' + (lock.id || 'ID')), ' as stated\'s --force-unlock policy allows.'),
    msg);
}

// The small badge in lists: "locked · WHO", with since/expires in the title and the text.
export function lockBadge(lock) {
  if (!lock) return h('span', { class: 'muted' }, '—');
  return h('span', { class: 'lockcell' },
    badge('locked', 'lock'), ' ', h('code', { class: 'who' }, lock.who || lock.owner || '?'),
    h('small', { class: 'lock-times' },
      'since ' + (lock.created ? relative(lock.created) : '?') + ' · expires ' + (lock.expires ? relative(lock.expires) : '?')),
    null);
}

export { utc };
