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

// errorBox shows an API error as "CODE: message" with its hint, both in
// the web's words (webText): scope, the form the error is about (default:
// the whole page), names the fields.
export function errorBox(err, scope) {
  const code = (err && err.code) || 'Error';
  const msg = webText((err && err.message) || String(err), scope);
  return h('div', { class: 'error', role: 'alert' },
    h('span', { class: 'code' }, code), ': ', h('span', { class: 'msg' }, msg),
    err && err.hint ? h('div', { class: 'hint' }, webText(err.hint, scope)) : null);
}

// flagLabel names the form field of a CLI flag: the label of the input
// marked data-flag="FLAG" (a list: one input may stand for several flags,
// e.g. "secret secret-file") in scope, else the flag's words
// (--target-delivery-domain: "Target delivery domain").
export function flagLabel(flag, scope) {
  const root = scope || document;
  const input = root.querySelector('[data-flag~="' + flag.replace(/[^a-z0-9-]/g, '') + '"]');
  const label = input && input.id ? root.querySelector('label[for="' + input.id + '"]') : null;
  if (label && label.textContent.trim()) return label.textContent.trim();
  const words = flag.replace(/-/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

// commandPages names the web admin page of a CLI command ("noun verb" or
// "noun"), for hints that quote one.
const commandPages = {
  domain: 'Overview (Accepted domains)', tenant: 'Tenants', 'tenant token': 'Tokens', 'tenant admin-token': 'Tokens',
  mailbox: 'Mailboxes', mailuser: 'Mail users', 'mailuser prepare': 'Prepare mail users', group: 'Groups',
  app: 'Apps', consent: 'Consents', orgrel: 'Organization relationships', endpoint: 'Endpoints',
  batch: 'Migration batches', migrationuser: 'Migration batches',
};

// webText rewrites an API message or hint written for the CLI for the web:
// "pass --flag VALUE[, e.g. X]" becomes "Fill in FIELD", a quoted batch or
// migrationuser command the page's button, another quoted command the page
// of its object (commandPages), any other --flag the field's name (quoted
// commands without a page, such as 'tenantferry serve', stay as written).
export function webText(s, scope) {
  if (!s) return s;
  const one = '--[a-z0-9-]+(?: [A-Z][A-Z_]*(?![a-z]))?';
  const flags = new RegExp('pass (' + one + '(?:(?:, | or |,? and )' + one + ')*)(?:,? e\\.g\\. [^\\s,;)]+)?', 'g');
  let out = String(s).replace(flags, (_, list) => 'fill in ' + [...new Set(list.match(/--[a-z0-9-]+/g).map((f) => flagLabel(f.slice(2), scope)))].join(', '));
  // A quoted batch or migrationuser command is a button of the batch page.
  const cmds = { start: 'Start', stop: 'Stop', 'sync-now': 'Sync now', complete: 'Complete', remove: 'Remove', resync: 'Resync',
    'approve-skipped-items': 'Approve skipped items', report: 'Download report (CSV)' };
  out = out.replace(/'tenantferry (batch|migrationuser) ([a-z-]+)[^']*'/g, (m, kind, verb) => (cmds[verb]
    ? 'the ' + cmds[verb] + (kind === 'batch' ? ' button of the batch' : ' command of the user\'s Actions menu') : m));
  // A quoted command whose object has a page of its own names the page.
  // "with 'tenantferry domain add X'" reads "on the Overview (Accepted
  // domains) page", "run(s) '...'" "use(s) the ... page".
  const lead = { with: 'on', run: 'use', runs: 'uses' };
  out = out.replace(/(?:\b(with|runs?) )?'tenantferry ([a-z-]+) ([a-z-]+)[^']*'/g, (m, how, noun, verb) => {
    const page = commandPages[noun + ' ' + verb] || commandPages[noun];
    if (!page) return m;
    return (how ? lead[how] + ' ' : '') + 'the ' + page + ' page';
  });
  // Other quoted CLI commands stay whole (a mangled command helps no one).
  out = out.split(/('tenantferry [^']*')/).map((part, i) => (i % 2 ? part
    : part.replace(/(^|[^\w-])--([a-z][a-z0-9-]*)/g, (_, pre, f) => pre + flagLabel(f, scope)))).join('');
  return out.replace(/^fill in/, 'Fill in');
}

// fmtTime formats an RFC 3339 time for display ('' when absent).
export function fmtTime(s) {
  if (!s || s.startsWith('0001-')) return '';
  const d = new Date(s);
  return isNaN(d) ? String(s) : d.toLocaleString();
}

// fmtBytes formats a byte count in binary units as the CLI does
// (internal/units.Bytes): B, then KiB and MiB with one decimal, GiB with two.
export function fmtBytes(n) {
  n = Number(n) || 0;
  if (n >= 2 ** 30) return (n / 2 ** 30).toFixed(2) + ' GiB';
  if (n >= 2 ** 20) return (n / 2 ** 20).toFixed(1) + ' MiB';
  if (n >= 2 ** 10) return (n / 2 ** 10).toFixed(1) + ' KiB';
  return Math.round(n) + ' B';
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

// ask shows a modal confirmation dialog and resolves to true when the
// admin confirms, false on Cancel or Escape. opts: title, text, ok (the
// button's title), danger, typed (a text the admin must type before OK
// enables: the irreversible commands), extra (more nodes, e.g. a checkbox).
export function ask(opts) {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'button', class: opts.danger ? 'danger' : 'primary', id: 'confirm-ok' }, opts.ok || 'OK');
    const cancel = h('button', { type: 'button', id: 'confirm-cancel' }, 'Cancel');
    const input = opts.typed ? h('input', { id: 'confirm-typed', autocomplete: 'off', spellcheck: 'false' }) : null;
    const dlg = h('dialog', { class: 'confirm', id: 'confirm' }, h('h2', null, opts.title || 'Confirm'), h('p', null, opts.text || ''),
      input ? [h('label', { for: input.id }, 'Type ', h('strong', null, opts.typed), ' to confirm'), input] : null,
      opts.extra || null, h('div', { class: 'actions' }, cancel, ok));
    let done = false;
    const finish = (v) => {
      if (done) return;
      done = true;
      if (dlg.open) dlg.close();
      dlg.remove();
      resolve(v);
    };
    const check = () => { ok.disabled = input ? input.value.trim() !== opts.typed : false; };
    if (input) input.addEventListener('input', check);
    check();
    ok.addEventListener('click', () => { if (!ok.disabled) finish(true); });
    cancel.addEventListener('click', () => finish(false));
    dlg.addEventListener('close', () => finish(false));
    document.body.append(dlg);
    dlg.showModal();
    (input || cancel).focus();
  });
}
