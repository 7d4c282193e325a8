// nav.js: moving between pages and the one-shot message shown on the next page.

let flashMsg = null;
let renderFn = null;

export function setRender(fn) {
  renderFn = fn;
}

// A message shown once, on the next page rendered.
export function flash(text, kind) {
  flashMsg = { text, kind: kind || 'ok' };
}

export function takeFlash() {
  const f = flashMsg;
  flashMsg = null;
  return f;
}

// Go to an internal route; rendering again when it is already the current one.
export function go(hash) {
  if (location.hash === hash && renderFn) renderFn();
  else location.hash = hash;
}
