// dom.js: the only way the console builds its page.
//
// State contents are attacker-controlled (resource names, attribute values, outputs, lock Who
// and Info), so nothing here ever parses HTML: every string becomes a text node, attributes
// come from a fixed list of harmless names, and an href can only be an internal "#/..." route
// whose data pieces went through encodeURIComponent (see route()).

const SAFE_ATTRS = new Set([
  'class', 'id', 'for', 'type', 'name', 'value', 'placeholder', 'autocomplete', 'required',
  'disabled', 'checked', 'readonly', 'maxlength', 'min', 'max', 'size', 'role', 'title',
  'colspan', 'scope', 'datetime', 'tabindex', 'hidden', 'open', 'spellcheck', 'inputmode',
  'list', 'selected', 'lang', 'method', 'novalidate', 'width', 'height', 'alt',
]);

// An internal link: "#/" then path pieces and a query, each piece already encoded.
const ROUTE_RE = /^#\/[A-Za-z0-9._~%/?&=+-]*$/;

// h(tag, attrs, ...children): an element. attrs: the safe attributes above, aria-*/data-*,
// href (internal routes only), on<event> listeners. Children: nodes, strings (as text), numbers,
// arrays of those, null/undefined/false (skipped).
export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') {
        el.addEventListener(k.slice(2), v);
      } else if (k === 'href') {
        if (typeof v !== 'string' || !ROUTE_RE.test(v)) throw new Error('refused link ' + JSON.stringify(v));
        el.setAttribute('href', v);
      } else if (SAFE_ATTRS.has(k) || k.startsWith('aria-') || k.startsWith('data-')) {
        el.setAttribute(k, v === true ? '' : String(v));
      } else {
        throw new Error('attribute not allowed: ' + k);
      }
    }
  }
  append(el, kids);
  return el;
}

export function append(el, kids) {
  for (const k of kids) {
    if (k === null || k === undefined || k === false) continue;
    if (Array.isArray(k)) append(el, k);
    else if (k instanceof Node) el.appendChild(k);
    else el.appendChild(document.createTextNode(String(k)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// route(['state', name], {from: a}) -> "#/state/prod%2Fnet?from=a": every piece encoded.
export function route(parts, query) {
  let s = '#/' + parts.map((p) => encodeURIComponent(String(p))).join('/');
  const q = qs(query);
  if (q) s += '?' + q;
  return s;
}

// A query string; empty values are left out. encodeURIComponent (%20, never "+").
export function qs(query) {
  if (!query) return '';
  return Object.entries(query)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(String(v)))
    .join('&');
}

let idSeq = 0;
export function uid(prefix) {
  idSeq += 1;
  return (prefix || 'f') + '-' + idSeq;
}

// A labelled control: returns {wrap, input}. kind: 'input' | 'select' | 'textarea'.
export function field(label, attrs, kind, options, hint) {
  const id = attrs.id || uid('f');
  let input;
  if (kind === 'select') {
    input = h('select', { ...attrs, id }, (options || []).map((o) =>
      h('option', { value: o.value, selected: o.selected }, o.label)));
  } else if (kind === 'textarea') {
    input = h('textarea', { ...attrs, id });
  } else {
    input = h('input', { type: 'text', ...attrs, id });
  }
  const hintEl = hint ? h('small', { class: 'hint', id: id + '-hint' }, hint) : null;
  if (hintEl) input.setAttribute('aria-describedby', id + '-hint');
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), input, hintEl);
  return { wrap, input };
}

// ------------------------------------------------------------------ formatting

export function pad(n) {
  return String(n).padStart(2, '0');
}

// "2026-11-22 02:20:13 UTC"
export function utc(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return '';
  return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' +
    pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ':' + pad(d.getUTCSeconds()) + ' UTC';
}

// "3 min ago", "in 2 h", "just now"
export function relative(iso, now) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return '';
  const s = Math.round(((now || Date.now()) - d.getTime()) / 1000);
  const a = Math.abs(s);
  let t;
  if (a < 5) return 'just now';
  if (a < 60) t = a + ' s';
  else if (a < 3600) t = Math.floor(a / 60) + ' min';
  else if (a < 86400) t = Math.floor(a / 3600) + ' h ' + Math.floor((a % 3600) / 60) + ' min';
  else t = Math.floor(a / 86400) + ' d';
  return s >= 0 ? t + ' ago' : 'in ' + t;
}

// A <time> with the UTC text and the relative one below it.
export function timeEl(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: iso, title: iso, class: 'when' },
    h('span', { class: 'utc' }, utc(iso)), ' ', h('span', { class: 'rel' }, relative(iso)));
}

export function bytes(n) {
  if (n === null || n === undefined || n === '') return '';
  n = Number(n);
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KB';
  return (n / 1024 / 1024).toFixed(1) + ' MB';
}

// A value from a state or a diff, as compact JSON text (never HTML).
export function jsonText(v, max) {
  let s;
  try {
    s = JSON.stringify(v);
  } catch (e) {
    s = String(v);
  }
  if (s === undefined) s = 'null';
  if (max && s.length > max) s = s.slice(0, max) + '…';
  return s;
}

export function shortId(id) {
  if (!id) return '';
  return String(id).length > 22 ? String(id).slice(0, 22) + '…' : String(id);
}

export function badge(text, kind) {
  return h('span', { class: 'badge' + (kind ? ' badge-' + kind : '') }, text);
}

export function sensitiveMark() {
  return h('span', { class: 'badge badge-sensitive', title: 'sensitive value, not shown' }, 'sensitive — hidden');
}

// A table whose cells carry their column label (shown before the cell on narrow screens).
// cols: [{label, cls}], rows: arrays of cell contents.
export function table(cols, rows, attrs) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'grid', ...(attrs || {}) },
      h('thead', null, h('tr', null, cols.map((c) => h('th', { scope: 'col', class: c.cls }, c.label)))),
      h('tbody', null, rows.map((r) => tableRow(cols, r)))));
}

// Each cell's content is wrapped in one span, so that on narrow screens the cell is two
// columns: its label and its content. An empty cell is marked (hidden on narrow screens).
export function tableRow(cols, cells, attrs) {
  return h('tr', attrs || null, cells.map((c, i) => {
    const blank = c === null || c === undefined || c === '';
    return h('td', { 'data-label': cols[i].label, class: [cols[i].cls, blank ? 'blank' : ''].filter(Boolean).join(' ') || null },
      blank ? null : h('span', { class: 'cell' }, c));
  }));
}
