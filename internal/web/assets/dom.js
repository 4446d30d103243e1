// DOM helpers of the tenantferry web admin.
//
// Invariant: text is always inserted as text nodes (strings never become
// markup); attribute values are set with setAttribute, and links are only
// ever built by this code (hash routes or http(s) URLs checked by safeURL).

// h creates an element. attrs: class, dataset, on<event> handlers, DOM
// properties (value, checked, disabled, ...) or attributes; children:
// nodes, strings (as text), arrays, or null/undefined/false (skipped).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'href') el.setAttribute('href', safeURL(v));
    else if (['value', 'checked', 'disabled', 'hidden', 'selected', 'required', 'multiple'].includes(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

// append adds children (see h) to el.
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// replace empties el and appends children.
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// safeURL returns u when it is a hash route, a path on this server or an
// http(s) URL, else "#".
export function safeURL(u) {
  const s = String(u);
  if (s.startsWith('#') || (s.startsWith('/') && !s.startsWith('//'))) return s;
  try {
    const p = new URL(s);
    if (p.protocol === 'http:' || p.protocol === 'https:') return p.href;
  } catch (_) { /* not a URL */ }
  return '#';
}

// route builds a hash route from segments, each URI-encoded.
export function route(...segs) {
  return '#/' + segs.map((s) => encodeURIComponent(s)).join('/');
}

// table renders rows: cols are {title, get(row) → node|string, cls};
// opts.row(row) returns attributes of the row; opts.empty is the text when
// there are no rows; opts.id names the table.
export function table(cols, rows, opts = {}) {
  const head = h('tr', null, cols.map((c) => h('th', { class: c.cls }, c.title)));
  const body = h('tbody');
  for (const r of rows) {
    body.append(h('tr', opts.row ? opts.row(r) : null, cols.map((c) => h('td', { class: c.cls }, c.get(r)))));
  }
  if (rows.length === 0) {
    body.append(h('tr', null, h('td', { class: 'empty', colspan: cols.length }, opts.empty || 'Nothing here yet.')));
  }
  return h('div', { class: 'table-wrap' }, h('table', { id: opts.id }, h('thead', null, head), body));
}

// props renders a definition list of [label, value] pairs; values that are
// arrays become one line per entry.
export function props(pairs, id) {
  const dl = h('dl', { class: 'props', id });
  for (const [k, v] of pairs) {
    let dd;
    if (Array.isArray(v)) dd = v.length ? h('ul', { class: 'plain' }, v.map((x) => h('li', null, x))) : h('span', { class: 'muted' }, '(none)');
    else if (v === '' || v === undefined || v === null) dd = h('span', { class: 'muted' }, '(none)');
    else dd = v;
    append(dl, [h('dt', null, k), h('dd', { dataset: { field: k } }, dd)]);
  }
  return dl;
}

// errorBox shows an API error as "CODE: message" with its hint.
export function errorBox(err) {
  const code = (err && err.code) || 'Error';
  const msg = (err && err.message) || String(err);
  return h('div', { class: 'error', role: 'alert' },
    h('span', { class: 'code' }, code), ': ', h('span', { class: 'msg' }, msg),
    err && err.hint ? h('div', { class: 'hint' }, err.hint) : null);
}

// fmtTime formats an RFC 3339 time for display ('' when absent).
export function fmtTime(s) {
  if (!s || s.startsWith('0001-')) return '';
  const d = new Date(s);
  return isNaN(d) ? String(s) : d.toLocaleString();
}

// fmtBytes formats a byte count.
export function fmtBytes(n) {
  n = Number(n) || 0;
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i];
}

// stateClass maps a move, batch or check state to a badge colour.
export function stateClass(s) {
  if (/^(Completed|Synced|Success|Passed|Perfect|Good)$/.test(s)) return 'state ok';
  if (/(Syncing|Validating|Queued|Completing|Created|Stopping|Removing)/.test(s)) return 'state busy';
  if (/(Warnings|WithErrors|Investigate|Skipped|Stopped)/.test(s)) return 'state warn';
  if (/(Failed|Poor)/.test(s)) return 'state bad';
  return 'state';
}

// badge renders a state as a coloured label.
export function badge(s) {
  return s ? h('span', { class: stateClass(s) }, s) : '';
}

// field is a labelled input for forms.
export function field(label, input) {
  return [h('label', { for: input.id }, label), input];
}

// busy disables a button while the async function runs.
export async function busy(btn, f) {
  btn.disabled = true;
  try { return await f(); } finally { btn.disabled = false; }
}
