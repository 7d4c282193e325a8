// state.js: one state (metadata, lock, outputs, versions timeline, resources by type,
// download), the diff of two versions and the restore page.

import { h, route, field, table, tableRow, timeEl, bytes, badge, jsonText, shortId, sensitiveMark, uid, clear } from './dom.js';
import { api, raw, statePath, can, getSession } from './api.js';
import { errorBox, notice, loading, lockPanel, confirmDialog } from './widgets.js';
import { go, flash } from './nav.js';

const VERSIONS_PER_PAGE = 50;
const INSTANCES_SHOWN = 200;

function stateName(ctx) {
  return ctx.parts.slice(1).join('/');
}

function crumbs(name, here) {
  return h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
    h('a', { href: '#/states' }, 'States'), ' / ',
    here ? [h('a', { href: route(['state', name]) }, name), ' / ', h('span', { 'aria-current': 'page' }, here)]
      : h('span', { 'aria-current': 'page' }, name));
}

// ------------------------------------------------------------------ download

function fileName(name, serial) {
  return String(name).replace(/[^A-Za-z0-9._-]/g, '_') + '-' + String(serial) + '.tfstate';
}

async function download(name, ref, serial, redact, msg) {
  msg.replaceChildren(loading('Preparing the download…'));
  try {
    const res = await raw('v1/snapshots/' + statePath(name), { query: { id: ref, redact: redact ? 1 : '' } });
    const blob = await res.blob();
    const url = URL.createObjectURL(new Blob([blob], { type: 'application/octet-stream' }));
    const a = document.createElement('a');
    a.setAttribute('href', url); // a blob: URL made here, never from state data
    a.download = fileName(name, serial) .replace(/\.tfstate$/, redact ? '.redacted.tfstate' : '.tfstate');
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    msg.replaceChildren(notice('Downloaded ' + a.download + ' (' + bytes(blob.size) + ').', 'ok'));
  } catch (e) {
    msg.replaceChildren(errorBox(e, 'The download was refused'));
  }
}

function downloadButtons(name, ref, serial, msg, small) {
  const cls = 'btn' + (small ? ' btn-small' : '');
  return [
    h('button', { type: 'button', class: cls, 'data-test': 'download', onclick: () => download(name, ref, serial, false, msg) },
      small ? 'Download' : 'Download state'),
    h('button', { type: 'button', class: cls, 'data-test': 'download-redacted', onclick: () => download(name, ref, serial, true, msg) },
      small ? 'Redacted' : 'Download redacted'),
  ];
}

// ------------------------------------------------------------------ outputs

function outputsSection(out) {
  const names = Object.keys(out.outputs || {}).sort();
  const sec = h('section', { class: 'panel', 'aria-labelledby': 'outputs-h', 'data-test': 'outputs' },
    h('h2', { id: 'outputs-h' }, 'Outputs'));
  if (names.length === 0) {
    sec.appendChild(h('p', { class: 'muted' }, 'This state has no outputs.'));
    return sec;
  }
  const cols = [{ label: 'Name' }, { label: 'Type' }, { label: 'Value' }];
  sec.appendChild(table(cols, names.map((n) => {
    const o = out.outputs[n] || {};
    return [
      h('code', { class: 'out-name' }, n),
      h('code', { class: 'muted' }, typeof o.type === 'string' ? o.type : jsonText(o.type, 80)),
      o.sensitive ? sensitiveMark() : h('code', { class: 'value' }, jsonText(o.value, 2000)),
    ];
  }), { 'aria-label': 'Outputs' }));
  return sec;
}

// ------------------------------------------------------------------ resources

function instanceAddress(r, inst) {
  let a = (r.module ? r.module + '.' : '') + (r.mode === 'data' ? 'data.' : '') + r.type + '.' + r.name;
  if (inst && inst.index_key !== undefined && inst.index_key !== null) {
    a += typeof inst.index_key === 'number' ? '[' + inst.index_key + ']' : '[' + JSON.stringify(inst.index_key) + ']';
  }
  if (inst && inst.deposed) a += ' (deposed ' + inst.deposed + ')';
  return a;
}

function attributesList(attrs) {
  const keys = Object.keys(attrs || {}).sort();
  if (keys.length === 0) return h('p', { class: 'muted' }, 'No attributes.');
  return h('dl', { class: 'kv attrs' }, keys.map((k) => [
    h('dt', null, h('code', null, k)),
    h('dd', null, attrs[k] === '(sensitive)' ? sensitiveMark() : h('code', { class: 'value' }, jsonText(attrs[k], 1000))),
  ]));
}

function resourcesSection(name, sec) {
  const body = h('div', null, loading('Reading the current version…'));
  sec.appendChild(body);
  // The redacted bytes: sensitive attributes arrive as "(sensitive)", never in the page.
  raw('v1/snapshots/' + statePath(name), { query: { id: 'latest', redact: 1 } })
    .then((res) => res.text())
    .then((text) => {
      let st;
      try {
        st = JSON.parse(text);
      } catch (e) {
        body.replaceChildren(notice('The current version is not JSON stated can read, so its resources cannot be shown.', 'info'));
        return;
      }
      const groups = new Map();
      for (const r of Array.isArray(st.resources) ? st.resources : []) {
        if (!r || typeof r !== 'object') continue;
        const key = (r.mode === 'data' ? 'data.' : '') + String(r.type);
        if (!groups.has(key)) groups.set(key, []);
        const insts = Array.isArray(r.instances) && r.instances.length ? r.instances : [null];
        for (const inst of insts) groups.get(key).push({ r, inst });
      }
      if (groups.size === 0) {
        body.replaceChildren(h('p', { class: 'muted' }, 'The current version has no resources.'));
        return;
      }
      const total = [...groups.values()].reduce((n, g) => n + g.length, 0);
      body.replaceChildren(h('p', { class: 'muted' }, total + ' instance' + (total === 1 ? '' : 's') + ' of ' + groups.size + ' type' + (groups.size === 1 ? '' : 's') + ' (sensitive values redacted by the server).'));
      for (const key of [...groups.keys()].sort()) {
        const list = groups.get(key);
        const inner = h('div', { class: 'type-body' });
        const det = h('details', { class: 'rtype', 'data-test': 'rtype' },
          h('summary', null, h('code', null, key), ' ', h('span', { class: 'count' }, String(list.length))),
          inner);
        det.addEventListener('toggle', () => {
          if (!det.open || inner.firstChild) return;
          for (const { r, inst } of list.slice(0, INSTANCES_SHOWN)) {
            const attrs = h('div');
            const d2 = h('details', { class: 'instance' },
              h('summary', null, h('code', { class: 'address' }, instanceAddress(r, inst)),
                r.provider ? h('small', { class: 'muted provider' }, ' ' + String(r.provider).replace(/^provider\["?|"?\]$/g, '')) : null),
              attrs);
            d2.addEventListener('toggle', () => {
              if (d2.open && !attrs.firstChild) attrs.appendChild(attributesList(inst && inst.attributes));
            });
            inner.appendChild(d2);
          }
          if (list.length > INSTANCES_SHOWN) inner.appendChild(h('p', { class: 'muted' }, (list.length - INSTANCES_SHOWN) + ' more not shown; download the state to see them all.'));
        });
        body.appendChild(det);
      }
    })
    .catch((e) => body.replaceChildren(errorBox(e, 'The resources could not be read')));
}

// ------------------------------------------------------------------ versions timeline

function restoredNote(v) {
  if (!v.restored_from) return null;
  return h('span', { class: 'restored', 'data-test': 'restored-note' },
    badge('restore', 'restore'), ' from ', h('code', { title: v.restored_from }, shortId(v.restored_from)),
    v.restored_by ? [' by ', h('span', { class: 'writer' }, v.restored_by)] : null,
    v.reason ? [': ', h('q', { class: 'reason' }, v.reason)] : null);
}

function versionsSection(name, versions, highlight, dlMsg) {
  const sec = h('section', { class: 'panel', 'aria-labelledby': 'versions-h', 'data-test': 'versions' },
    h('h2', { id: 'versions-h' }, 'Versions ', h('span', { class: 'count' }, String(versions.length))));
  if (versions.length === 0) {
    sec.appendChild(h('p', { class: 'muted' }, 'No versions are kept for this state.'));
    return sec;
  }
  let from = versions.length > 1 ? versions[1].id : versions[0].id;
  let to = versions[0].id;
  let page = 0;
  if (highlight) {
    const i = versions.findIndex((v) => v.id === highlight);
    if (i >= 0) page = Math.floor(i / VERSIONS_PER_PAGE);
  }
  const pages = Math.ceil(versions.length / VERSIONS_PER_PAGE);
  const compare = h('button', {
    type: 'button', class: 'btn btn-primary', 'data-test': 'compare',
    onclick: () => go(route(['diff', name], { from, to })),
  }, 'Compare selected versions');
  if (versions.length > 1) {
    sec.appendChild(h('p', { class: 'muted' }, 'Newest first. Pick a "from" and a "to" version and compare them.'));
    sec.appendChild(h('div', { class: 'actions' }, compare));
  }
  const body = h('div');
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of versions' });
  sec.appendChild(body);
  sec.appendChild(pager);
  const cols = [
    { label: 'From', cls: 'pick' }, { label: 'To', cls: 'pick' }, { label: 'Serial', cls: 'num' }, { label: 'Time' },
    { label: 'Writer' }, { label: 'Size', cls: 'num' }, { label: 'Notes' }, { label: 'Actions' },
  ];
  const draw = () => {
    const slice = versions.slice(page * VERSIONS_PER_PAGE, (page + 1) * VERSIONS_PER_PAGE);
    const rows = slice.map((v, k) => {
      const i = page * VERSIONS_PER_PAGE + k;
      const fid = uid('vf');
      const tid = uid('vt');
      const radio = (id, nm, checked, set, label) => [
        h('input', { type: 'radio', id, name: nm, value: v.id, checked, onchange: () => set(v.id) }),
        h('label', { for: id, class: 'sr-only' }, label + ' serial ' + v.serial)];
      const prev = versions[i + 1];
      return {
        attrs: { class: v.id === highlight ? 'new' : null, 'data-serial': String(v.serial), 'data-id': v.id },
        cells: [
          radio(fid, 'from', v.id === from, (x) => { from = x; }, 'Compare from'),
          radio(tid, 'to', v.id === to, (x) => { to = x; }, 'Compare to'),
          [String(v.serial), i === 0 ? [' ', badge('current', 'current')] : null],
          timeEl(v.time),
          v.writer ? h('span', { class: 'writer' }, v.writer) : h('span', { class: 'muted' }, '—'),
          bytes(v.size),
          restoredNote(v),
          h('span', { class: 'row-actions' },
            prev ? h('a', { href: route(['diff', name], { from: prev.id, to: v.id }), class: 'btn btn-small' }, 'Diff') : null,
            can.restore() && i > 0 ? h('a', { href: route(['restore', name], { id: v.id }), class: 'btn btn-small', 'data-test': 'restore-link' }, 'Restore…') : null,
            downloadButtons(name, v.id, v.serial, dlMsg, true)[0]),
        ],
      };
    });
    const tb = h('tbody', null, rows.map((r) => tableRow(cols, r.cells, r.attrs)));
    body.replaceChildren(h('div', { class: 'table-wrap' }, h('table', { class: 'grid versions', 'aria-label': 'Versions', 'data-test': 'versions-table' },
      h('thead', null, h('tr', null, cols.map((c) => h('th', { scope: 'col', class: c.cls }, c.label)))), tb)));
    clear(pager);
    if (pages > 1) {
      pager.appendChild(h('span', { class: 'muted' }, 'Versions ' + (page * VERSIONS_PER_PAGE + 1) + '–' + Math.min(versions.length, (page + 1) * VERSIONS_PER_PAGE) + ' of ' + versions.length));
      if (page > 0) pager.appendChild(h('button', { type: 'button', class: 'btn', onclick: () => { page -= 1; draw(); } }, '← Newer'));
      if (page < pages - 1) pager.appendChild(h('button', { type: 'button', class: 'btn', 'data-test': 'versions-older', onclick: () => { page += 1; draw(); } }, 'Older →'));
    }
  };
  draw();
  return sec;
}

// ------------------------------------------------------------------ the state page

export async function statePage(ctx, holder) {
  const name = stateName(ctx);
  holder.appendChild(crumbs(name));
  holder.appendChild(h('h1', { tabindex: '-1', class: 'state-name' }, name));
  const status = h('div', { 'aria-live': 'polite' }, loading('Loading ' + name + '…'));
  holder.appendChild(status);

  if (!can.read()) {
    // The outputs role sees the outputs and nothing else.
    try {
      const out = await api('v1/outputs/' + statePath(name));
      if (ctx.stale()) return null;
      status.replaceChildren(
        h('p', { class: 'muted' }, 'Serial ' + String(out.serial) + '. Your role (outputs) may read only the outputs of this state.'),
        outputsSection(out));
    } catch (e) {
      status.replaceChildren(errorBox(e, 'The outputs could not be read'));
    }
    return null;
  }

  let info;
  let versions;
  try {
    [info, versions] = await Promise.all([
      api('v1/state-info/' + statePath(name)),
      api('v1/snapshots/' + statePath(name)),
    ]);
  } catch (e) {
    if (ctx.stale()) return null;
    status.replaceChildren(errorBox(e, 'This state could not be read'));
    return null;
  }
  if (ctx.stale()) return null;
  if (!Array.isArray(versions)) versions = [];
  const dlMsg = h('div', { 'aria-live': 'polite' });
  const meta = h('section', { class: 'panel meta', 'aria-label': 'Summary' },
    h('dl', { class: 'kv' },
      h('dt', null, 'Serial'), h('dd', { 'data-test': 'serial' }, String(info.serial)),
      h('dt', null, 'Updated'), h('dd', null, timeEl(info.last_write)),
      h('dt', null, 'Last writer'), h('dd', null, info.writer || '—'),
      h('dt', null, 'Size'), h('dd', null, bytes(info.size)),
      h('dt', null, 'Lineage'), h('dd', null, h('code', null, info.lineage || '')),
      h('dt', null, 'Versions kept'), h('dd', null, String(info.versions !== undefined ? info.versions : versions.length)),
      h('dt', null, 'Current version'), h('dd', null, h('code', { title: info.snapshot || '' }, info.snapshot || '')),
      info.restored_from ? [h('dt', null, 'Written by'), h('dd', null, restoredNote(info))] : null),
    h('div', { class: 'actions' }, downloadButtons(name, 'latest', info.serial, dlMsg, false)),
    h('p', { class: 'hint' }, can.admin()
      ? 'Download state: the exact bytes, secrets included. Download redacted: sensitive values replaced with "(sensitive)".'
      : 'Download redacted replaces sensitive values with "(sensitive)"; the full download is given as your role allows.'),
    dlMsg);
  status.replaceChildren(meta);
  holder.appendChild(lockPanel(name, info.lock, () => {
    flash('Lock on ' + name + ' released.', 'ok');
    ctx.rerender();
  }));

  const outSec = h('section', { class: 'panel', 'aria-labelledby': 'outputs-h' }, h('h2', { id: 'outputs-h' }, 'Outputs'), loading('Loading outputs…'));
  holder.appendChild(outSec);
  holder.appendChild(versionsSection(name, versions, ctx.query.highlight || '', dlMsg));
  performance.mark('stated:versions-rendered');
  performance.measure('stated:versions', 'stated:nav', 'stated:versions-rendered');

  const resSec = h('section', { class: 'panel', 'aria-labelledby': 'res-h', 'data-test': 'resources' },
    h('h2', { id: 'res-h' }, 'Resources by type'));
  holder.appendChild(resSec);
  resourcesSection(name, resSec);

  api('v1/outputs/' + statePath(name))
    .then((out) => outSec.replaceWith(outputsSection(out)))
    .catch((e) => outSec.replaceChildren(h('h2', { id: 'outputs-h' }, 'Outputs'),
      e.status === 400 ? notice(e.message, 'info') : errorBox(e, 'The outputs could not be read')));
  return null;
}

// ------------------------------------------------------------------ diff

function valueCell(entry, which) {
  if (entry.sensitive) return sensitiveMark();
  if (!(which in entry)) return h('span', { class: 'muted' }, '—');
  return h('code', { class: 'value ' + which }, jsonText(entry[which], 2000));
}

function changesTable(entries, keyName) {
  const cols = [{ label: keyName === 'path' ? 'Attribute' : 'Output' }, { label: 'Change' }, { label: 'Old' }, { label: 'New' }];
  return table(cols, entries.map((a) => [
    h('code', null, String(a[keyName] !== undefined ? a[keyName] : (a.path !== undefined ? a.path : a.name))),
    badge(a.action, a.action),
    valueCell(a, 'old'),
    valueCell(a, 'new'),
  ]), { class: 'grid changes' });
}

export function renderDiff(d) {
  const resources = Array.isArray(d.resources) ? d.resources : [];
  const outputs = Array.isArray(d.outputs) ? d.outputs : [];
  const count = (a) => resources.filter((r) => r.action === a).length;
  const wrap = h('div', { class: 'diff', 'data-test': 'diff' });
  wrap.appendChild(h('p', { class: 'diff-summary' },
    badge(count('added') + ' added', 'added'), ' ', badge(count('changed') + ' changed', 'changed'), ' ',
    badge(count('removed') + ' removed', 'removed'), ' ', h('span', { class: 'muted' }, outputs.length + ' output change' + (outputs.length === 1 ? '' : 's'))));
  if (resources.length === 0 && outputs.length === 0) {
    wrap.appendChild(notice('The two versions have the same resources and outputs.', 'info'));
    return wrap;
  }
  const rs = h('section', { class: 'panel', 'aria-label': 'Resources changed' }, h('h2', null, 'Resources'));
  if (resources.length === 0) rs.appendChild(h('p', { class: 'muted' }, 'No resource changed.'));
  for (const r of resources) {
    rs.appendChild(h('div', { class: 'rchange rchange-' + r.action, 'data-test': 'rchange' },
      h('h3', null, badge(r.action, r.action), ' ', h('code', { class: 'address' }, String(r.address))),
      r.action === 'changed' && Array.isArray(r.attributes) && r.attributes.length ? changesTable(r.attributes, 'path') : null));
  }
  wrap.appendChild(rs);
  const os = h('section', { class: 'panel', 'aria-label': 'Outputs changed' }, h('h2', null, 'Outputs'));
  if (outputs.length === 0) os.appendChild(h('p', { class: 'muted' }, 'No output changed.'));
  else os.appendChild(changesTable(outputs, 'name'));
  wrap.appendChild(os);
  return wrap;
}

function versionLabel(v, i) {
  return 'serial ' + String(v.serial) + ' · ' + (v.time ? v.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '') + (i === 0 ? ' (current)' : '') + (v.restored_from ? ' (restore)' : '');
}

export async function diffPage(ctx, holder) {
  const name = stateName(ctx);
  holder.appendChild(crumbs(name, 'diff'));
  holder.appendChild(h('h1', { tabindex: '-1' }, 'Diff of ', h('span', { class: 'state-name' }, name)));
  const status = h('div', { 'aria-live': 'polite' }, loading('Comparing…'));
  holder.appendChild(status);
  const from = ctx.query.from || 'latest~1';
  const to = ctx.query.to || 'latest';
  let versions;
  let d;
  try {
    [versions, d] = await Promise.all([
      api('v1/snapshots/' + statePath(name)),
      api('v1/diff/' + statePath(name), { query: { from, to } }),
    ]);
  } catch (e) {
    if (ctx.stale()) return null;
    status.replaceChildren(errorBox(e, 'The versions could not be compared'));
    return null;
  }
  if (ctx.stale()) return null;
  const opts = (sel) => versions.map((v, i) => ({ value: v.id, label: versionLabel(v, i), selected: v.id === sel }));
  const fFrom = field('From', { name: 'from', 'data-test': 'diff-from' }, 'select', opts(d.from && d.from.snapshot));
  const fTo = field('To', { name: 'to', 'data-test': 'diff-to' }, 'select', opts(d.to && d.to.snapshot));
  const form = h('form', {
    class: 'panel filters',
    onsubmit: (ev) => {
      ev.preventDefault();
      go(route(['diff', name], { from: fFrom.input.value, to: fTo.input.value }));
    },
  }, fFrom.wrap, fTo.wrap, h('div', { class: 'actions' },
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Compare'),
    h('a', { class: 'btn', href: route(['diff', name], { from: d.to && d.to.snapshot, to: d.from && d.from.snapshot }) }, 'Swap')));
  status.replaceChildren(
    h('p', null, 'From serial ', h('strong', { 'data-test': 'diff-from-serial' }, String(d.from && d.from.serial)), ' (', h('code', null, shortId(d.from && d.from.snapshot)), ') to serial ',
      h('strong', { 'data-test': 'diff-to-serial' }, String(d.to && d.to.serial)), ' (', h('code', null, shortId(d.to && d.to.snapshot)), ').'),
    form, renderDiff(d));
  return null;
}

// ------------------------------------------------------------------ restore

export async function restorePage(ctx, holder) {
  const name = stateName(ctx);
  const id = ctx.query.id || '';
  holder.appendChild(crumbs(name, 'restore'));
  holder.appendChild(h('h1', { tabindex: '-1' }, 'Restore a version of ', h('span', { class: 'state-name' }, name)));
  if (!can.restore()) {
    holder.appendChild(notice('Your role (' + getSession().role + ') may not restore versions; write or admin may.', 'error'));
    return null;
  }
  const status = h('div', { 'aria-live': 'polite' }, loading('Preparing the preview…'));
  holder.appendChild(status);
  let info;
  let versions;
  let d;
  try {
    [info, versions, d] = await Promise.all([
      api('v1/state-info/' + statePath(name)),
      api('v1/snapshots/' + statePath(name)),
      api('v1/diff/' + statePath(name), { query: { from: 'latest', to: id } }),
    ]);
  } catch (e) {
    if (ctx.stale()) return null;
    status.replaceChildren(errorBox(e, 'The restore cannot be prepared'));
    return null;
  }
  if (ctx.stale()) return null;
  const v = versions.find((x) => x.id === (d.to && d.to.snapshot)) || {};
  const reason = field('Reason', { name: 'reason', maxlength: 200, autocomplete: 'off', 'data-test': 'restore-reason', placeholder: 'roll back the broken apply of 14:02' },
    'input', null, 'Kept with the new version and in the audit trail (at most 200 bytes).');
  const msg = h('div', { 'aria-live': 'polite' });
  const btn = h('button', { type: 'submit', class: 'btn btn-danger', 'data-test': 'restore-submit' }, 'Restore…');
  const form = h('form', {
    class: 'panel',
    onsubmit: async (ev) => {
      ev.preventDefault();
      const r = await confirmDialog({
        title: 'Restore serial ' + String(v.serial !== undefined ? v.serial : '?') + ' of ' + name + '?',
        body: h('div', null,
          h('p', null, 'Its content is written as a new version (serial above ' + String(info.serial) + '); nothing is overwritten and the current version stays in the history.'),
          reason.input.value.trim() ? h('p', null, 'Reason: ', h('q', null, reason.input.value.trim())) : h('p', { class: 'muted' }, 'No reason given.')),
        confirm: 'Restore',
        danger: true,
      });
      if (!r) return;
      btn.disabled = true;
      msg.replaceChildren(loading('Restoring…'));
      try {
        const out = await api('v1/restore/' + statePath(name), { method: 'POST', query: { id: d.to.snapshot, reason: reason.input.value.trim() } });
        flash('Restored serial ' + String(v.serial) + ' as the new version, serial ' + String(out.serial) + '.', 'ok');
        go(route(['state', name], { highlight: out.snapshot }));
      } catch (e) {
        btn.disabled = false;
        msg.replaceChildren(errorBox(e, e.status === 423 ? 'The state is locked: the restore was refused' : 'The restore failed'));
      }
    },
  },
  h('h2', null, 'Confirm'),
  reason.wrap,
  h('div', { class: 'actions' }, btn, h('a', { class: 'btn', href: route(['state', name]) }, 'Cancel')),
  msg);
  status.replaceChildren(...[
    h('p', null, 'Restoring version serial ', h('strong', null, String(v.serial)), ' (', timeEl(v.time), v.writer ? ', written by ' + v.writer : '',
      ') writes its content as a new version. The preview below is what changes compared with the current version (serial ', String(info.serial), ').'),
    info.lock ? notice('The state is locked by ' + (info.lock.who || info.lock.owner || '?') + ': the restore will be refused until the lock is released.', 'error') : null,
    renderDiff(d),
    form].filter(Boolean));
  return null;
}
