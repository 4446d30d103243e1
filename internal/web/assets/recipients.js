// Recipient views of the web admin: the mailbox, mail user and group lists
// (searched and paged through the API's cursor), a mailbox's create, edit,
// password, quota and delete, a recipient's Get-Mailbox identity, and a
// group's members. Every read and change goes through the admin API.
import { h, replace, route, table, props, errorBox, fmtTime, fmtBytes, field, busy, ask } from './dom.js';
import { api, apiPage, seg } from './api.js';

const kindTitles = { mailboxes: 'Mailboxes', mailusers: 'Mail users', groups: 'Groups' };

// PAGE is the number of rows a list page asks the API for.
export const PAGE = 50;

function base(ctx) {
  return 'tenants/' + seg(ctx.tenant);
}

// listPath is the API path of one page of a list: limit, search, cursor.
function listPath(path, search, cursor) {
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (search) q.set('search', search);
  if (cursor) q.set('cursor', cursor);
  return path + '?' + q.toString();
}

// pager shows a list a page at a time with a "Load more" button: pathOf
// (cursor) is the API path of a page; rows can be added and removed in
// place (a change's reply) without reading the list again.
export function pager(id, pathOf, cols, opts = {}) {
  const el = h('div', { class: 'pager', id: id + '-pager' });
  let rows = [];
  let next = '';
  const more = h('button', { type: 'button', id: id + '-more', onclick: () => busy(more, () => load(false).catch(show)) }, 'Load more');
  const notice = h('div');
  const show = (err) => replace(notice, errorBox(err));
  const render = () => {
    el.dataset.more = next ? 'yes' : 'no';
    el.dataset.rows = String(rows.length);
    replace(el, notice, table(cols, rows, { id, row: opts.row, empty: opts.empty }),
      h('div', { class: 'actions pager-foot' },
        h('span', { class: 'muted', id: id + '-count' }, next ? rows.length + ' shown, more to load' : rows.length + ' in all'),
        next ? more : null));
  };
  async function load(reset) {
    const pg = await apiPage(pathOf(reset ? '' : next));
    rows = reset ? pg.items : rows.concat(pg.items);
    next = pg.next;
    replace(notice);
    render();
  }
  return {
    el,
    reload: () => load(true),
    add(r) { rows.unshift(r); render(); },
    remove(pred) { rows = rows.filter((r) => !pred(r)); render(); },
  };
}

// domainSelect is a select of the tenant's accepted domains, the default
// one selected.
async function domainSelect(ctx, id, flag) {
  const ds = await api('GET', base(ctx) + '/domains');
  return h('select', { id, dataset: { flag } }, ds.map((d) => h('option', { value: d.DomainName, selected: d.Default, dataset: d.Default ? { default: 'yes' } : null },
    d.DomainName + (d.Status && d.Status !== 'Verified' && d.Status !== 'Accepted' && !d.Default ? ' (' + d.Status + ')' : ''))));
}

// copyButton copies text to the clipboard (the text stays selectable when
// the browser refuses).
export function copyButton(id, text, what) {
  const btn = h('button', { type: 'button', class: 'copy', id, title: 'Copy ' + what, 'aria-label': 'Copy ' + what }, 'Copy');
  btn.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      btn.textContent = 'Copied';
    } catch (_) {
      const code = btn.previousElementSibling;
      if (code) getSelection().selectAllChildren(code);
      btn.textContent = 'Selected: press Ctrl+C';
    }
  });
  return btn;
}

// recipientList lists the mailboxes, mail users or groups of the tenant,
// searched by name, alias, display name or address, a page at a time; the
// mailbox and group lists have their create forms.
export async function recipientList(main, ctx, kind) {
  const search = h('input', { id: 'rc-search', type: 'search', placeholder: 'name, alias, display name or address', autocomplete: 'off' });
  const go = h('button', { type: 'submit', id: 'rc-search-go' }, 'Search');
  const cols = [
    { title: 'Display name', get: (r) => h('a', { href: route('t', ctx.tenant, kind, r.PrimarySmtpAddress || r.Alias) }, r.DisplayName || r.Name) },
    { title: 'Primary SMTP address', get: (r) => r.PrimarySmtpAddress },
    { title: 'Alias', get: (r) => r.Alias },
    { title: 'Type', get: (r) => r.RecipientTypeDetails },
  ];
  if (kind === 'mailusers') cols.push({ title: 'External email address', get: (r) => r.ExternalEmailAddress || '' });
  if (kind !== 'groups') cols.push({ title: 'ExchangeGuid', get: (r) => h('code', null, r.ExchangeGuid) });
  let text = '';
  const list = pager('recipients', (cur) => listPath(base(ctx) + '/' + kind, text, cur), cols,
    { row: (r) => ({ dataset: { address: r.PrimarySmtpAddress, name: r.Name } }), empty: 'None found.' });
  const form = h('form', {
    class: 'inline', id: 'rc-search-form', role: 'search',
    onsubmit: async (e) => {
      e.preventDefault();
      text = search.value.trim();
      replace(searchNotice);
      await busy(go, () => list.reload().catch((err) => replace(searchNotice, errorBox(err, form))));
    },
  }, h('div', null, h('label', { for: 'rc-search' }, 'Search'), h('br'), search), go);
  const searchNotice = h('div', { id: 'rc-search-notice' });
  let create = null;
  if (kind === 'mailboxes') create = await mailboxCreate(ctx, list);
  if (kind === 'groups') create = await groupCreate(ctx, list);
  if (!ctx.live()) return;
  replace(main, h('h1', null, kindTitles[kind]), create, form, searchNotice, list.el);
  await list.reload();
}

// mailboxCreate is the New mailbox form (New-Mailbox).
async function mailboxCreate(ctx, list) {
  const alias = h('input', { id: 'mb-alias', required: true, autocomplete: 'off', placeholder: 'ann', dataset: { flag: 'alias' } });
  const domain = await domainSelect(ctx, 'mb-domain', 'primary-smtp');
  const display = h('input', { id: 'mb-display', autocomplete: 'off', dataset: { flag: 'display-name' } });
  const first = h('input', { id: 'mb-first', autocomplete: 'off', dataset: { flag: 'first-name' } });
  const last = h('input', { id: 'mb-last', autocomplete: 'off', dataset: { flag: 'last-name' } });
  const password = h('input', { id: 'mb-password', type: 'password', autocomplete: 'new-password', dataset: { flag: 'password' } });
  const type = h('select', { id: 'mb-type', dataset: { flag: 'type' } }, h('option', { value: 'user' }, 'User mailbox'), h('option', { value: 'shared' }, 'Shared mailbox'));
  const archive = h('input', { id: 'mb-archive', type: 'checkbox', dataset: { flag: 'archive' } });
  const btn = h('button', { type: 'submit', class: 'primary', id: 'mb-create' }, 'Create mailbox');
  const notice = h('div', { id: 'mb-create-notice' });
  const form = h('form', {
    class: 'grid', id: 'mb-create-form',
    onsubmit: async (e) => {
      e.preventDefault();
      await busy(btn, async () => {
        delete notice.dataset.created;
        replace(notice);
        const a = alias.value.trim();
        const body = { Alias: a, Name: a, PrimarySmtpAddress: a + '@' + domain.value, Type: type.value, Archive: archive.checked };
        if (display.value.trim()) body.DisplayName = display.value.trim();
        if (first.value.trim()) body.FirstName = first.value.trim();
        if (last.value.trim()) body.LastName = last.value.trim();
        if (password.value) body.Password = password.value;
        try {
          const r = await api('POST', base(ctx) + '/mailboxes', body);
          notice.dataset.created = r.PrimarySmtpAddress;
          replace(notice, h('div', { class: 'notice' }, 'Mailbox ', h('a', { href: route('t', ctx.tenant, 'mailboxes', r.PrimarySmtpAddress) }, r.PrimarySmtpAddress), ' created.'));
          for (const i of [alias, display, first, last, password]) i.value = '';
          archive.checked = false;
          list.add(r);
        } catch (err) {
          delete notice.dataset.created;
          replace(notice, errorBox(err, form));
        }
      });
    },
  }, field('Alias', alias), field('Domain', domain), field('Display name', display), field('First name', first), field('Last name', last),
  field('Password', password), field('Type', type), h('label', { for: 'mb-archive' }, 'Archive'), h('span', null, archive, ' also create an archive mailbox'),
  h('div', { class: 'actions' }, btn));
  return h('details', { class: 'card create', id: 'mb-new' }, h('summary', null, 'New mailbox'), notice, form);
}

// groupCreate is the New group form (New-DistributionGroup -Type Security).
async function groupCreate(ctx, list) {
  const name = h('input', { id: 'grp-name', required: true, autocomplete: 'off', placeholder: 'MigrationScope', dataset: { flag: 'name' } });
  const alias = h('input', { id: 'grp-alias', autocomplete: 'off', placeholder: '(from the name)', dataset: { flag: 'alias' } });
  const domain = await domainSelect(ctx, 'grp-domain', 'primary-smtp');
  const type = h('select', { id: 'grp-type', dataset: { flag: 'type' } },
    h('option', { value: 'security' }, 'Mail-enabled security group'), h('option', { value: 'distribution' }, 'Distribution group'));
  const btn = h('button', { type: 'submit', class: 'primary', id: 'grp-create' }, 'Create group');
  const notice = h('div', { id: 'grp-notice' });
  const form = h('form', {
    class: 'grid', id: 'grp-create-form',
    onsubmit: async (e) => {
      e.preventDefault();
      await busy(btn, async () => {
        delete notice.dataset.created;
        replace(notice);
        const body = { Name: name.value.trim(), Type: type.value };
        const a = alias.value.trim();
        if (a) Object.assign(body, { Alias: a, PrimarySmtpAddress: a + '@' + domain.value });
        try {
          const r = await api('POST', base(ctx) + '/groups', body);
          notice.dataset.created = r.Name;
          replace(notice, h('div', { class: 'notice' }, 'Group ', h('a', { href: route('t', ctx.tenant, 'groups', r.PrimarySmtpAddress || r.Name) }, r.Name),
            ' created (', r.PrimarySmtpAddress, '): add its members on its page.'));
          name.value = '';
          alias.value = '';
          list.add(r);
        } catch (err) {
          delete notice.dataset.created;
          replace(notice, errorBox(err, form));
        }
      });
    },
  }, field('Name', name), field('Alias', alias), field('Domain', domain), field('Type', type), h('div', { class: 'actions' }, btn));
  return h('details', { class: 'card create', id: 'grp-new' }, h('summary', null, 'New group'), notice, form);
}

// identity is the recipient's Get-Mailbox fields, the GUIDs with copy
// buttons.
function identity(kind, r) {
  const none = /^[0-]*$/;
  const guid = (name, v) => (v && !none.test(v) ? h('span', null, h('code', null, v), ' ', copyButton('copy-' + name, v, name)) : h('code', null, v || ''));
  const pairs = [
    ['Identity', r.Identity], ['RecipientType', r.RecipientType], ['RecipientTypeDetails', r.RecipientTypeDetails],
    ['Name', r.Name], ['Alias', r.Alias], ['DisplayName', r.DisplayName], ['FirstName', r.FirstName], ['LastName', r.LastName],
    ['PrimarySmtpAddress', r.PrimarySmtpAddress], ['UserPrincipalName', r.UserPrincipalName],
  ];
  if (kind !== 'groups') pairs.push(['ExchangeGuid', guid('ExchangeGuid', r.ExchangeGuid)], ['ArchiveGuid', guid('ArchiveGuid', r.ArchiveGuid)]);
  pairs.push(['LegacyExchangeDN', h('code', null, r.LegacyExchangeDN)], ['EmailAddresses', (r.EmailAddresses || []).map((a) => h('code', null, a))]);
  if (kind === 'mailusers') pairs.push(['ExternalEmailAddress', r.ExternalEmailAddress]);
  if (kind !== 'groups') pairs.push(['ProhibitSendReceiveQuota', r.Quota ? fmtBytes(r.Quota) : 'Unlimited']);
  pairs.push(['Id', h('code', null, r.Id)], ['WhenCreated', fmtTime(r.WhenCreated)], ['WhenChanged', fmtTime(r.WhenChanged)]);
  return props(pairs, 'recipient');
}

// recipientDetail shows one recipient with the Get-Mailbox fields; a
// mailbox's page edits it, a group's manages its members.
export async function recipientDetail(main, ctx, kind, id) {
  const path = base(ctx) + '/' + kind + '/' + seg(id);
  const r = await api('GET', path);
  if (!ctx.live()) return;
  const card = h('div', { class: 'card' }, identity(kind, r));
  const title = h('h1', null, r.DisplayName || r.Name);
  // show redraws the identity after a change (the reply is the recipient).
  const show = (nr) => {
    replace(card, identity(kind, nr));
    replace(title, nr.DisplayName || nr.Name);
  };
  replace(main, title, card);
  if (kind === 'mailboxes') main.append(...mailboxForms(ctx, path, r, show));
  if (kind === 'groups') main.append(...(await groupMembers(ctx, path, r)));
  if (kind !== 'mailboxes') main.append(deleteButton(ctx, kind, path, r));
}

// deleteButton deletes the recipient after the admin types its address.
function deleteButton(ctx, kind, path, r) {
  const notice = h('div', { id: 'delete-notice' });
  const btn = h('button', {
    type: 'button', class: 'danger', id: 'rc-delete',
    onclick: async () => {
      const what = r.PrimarySmtpAddress || r.Name;
      if (!await ask({ title: 'Delete ' + what, text: 'This deletes ' + what + (kind === 'mailboxes' ? ' and all its mail' : '') + '. It cannot be undone.',
        ok: 'Delete', danger: true, typed: what })) return;
      await busy(btn, async () => {
        try {
          await api('DELETE', path);
          location.hash = route('t', ctx.tenant, kind);
        } catch (err) { replace(notice, errorBox(err)); }
      });
    },
  }, 'Delete');
  return h('div', { class: 'card danger-zone' }, h('h2', null, 'Delete'), notice, h('div', { class: 'actions' }, btn));
}

// mailboxForms are a mailbox's Set-Mailbox forms: names, addresses,
// password (a dialog), quota, statistics and delete.
function mailboxForms(ctx, path, r, show) {
  const notice = h('div', { id: 'mb-notice' });
  const patch = async (body, scope) => {
    const nr = await api('PATCH', path, body);
    r = nr;
    show(nr);
    addresses.refresh(nr);
    return nr;
  };
  // Names.
  const display = h('input', { id: 'ed-display', value: r.DisplayName, autocomplete: 'off', dataset: { flag: 'display-name' } });
  const first = h('input', { id: 'ed-first', value: r.FirstName, autocomplete: 'off', dataset: { flag: 'first-name' } });
  const last = h('input', { id: 'ed-last', value: r.LastName, autocomplete: 'off', dataset: { flag: 'last-name' } });
  const save = h('button', { type: 'submit', class: 'primary', id: 'ed-save' }, 'Save');
  const names = h('form', {
    class: 'grid', id: 'ed-form',
    onsubmit: async (e) => {
      e.preventDefault();
      await busy(save, async () => {
        try {
          await patch({ DisplayName: display.value.trim(), FirstName: first.value.trim(), LastName: last.value.trim() }, names);
          replace(notice, h('div', { class: 'notice', dataset: { change: 'names' } }, 'Names saved.'));
        } catch (err) { replace(notice, errorBox(err, names)); }
      });
    },
  }, field('Display name', display), field('First name', first), field('Last name', last), h('div', { class: 'actions' }, save));
  const addresses = addressEditor(patch);
  // Quota.
  const qv = h('input', { id: 'quota-value', type: 'number', step: 'any', required: true, dataset: { flag: 'quota' } });
  const qu = h('select', { id: 'quota-unit' }, h('option', { value: String(2 ** 20) }, 'MB'), h('option', { value: String(2 ** 30), selected: true }, 'GB'));
  const qbtn = h('button', { type: 'submit', id: 'quota-set' }, 'Set quota');
  const qnone = h('button', { type: 'button', id: 'quota-unlimited' }, 'Unlimited');
  const qnotice = h('div', { id: 'quota-notice' });
  const setQuota = async (btn, bytes) => busy(btn, async () => {
    try {
      const nr = await patch({ Quota: bytes }, quota);
      replace(qnotice, h('div', { class: 'notice', dataset: { quota: String(nr.Quota || 0) } }, 'Quota set: ', nr.Quota ? fmtBytes(nr.Quota) : 'Unlimited', '.'));
    } catch (err) { replace(qnotice, errorBox(err, quota)); }
  });
  qnone.addEventListener('click', () => setQuota(qnone, 0));
  const quota = h('form', {
    class: 'inline', id: 'quota-form',
    onsubmit: (e) => { e.preventDefault(); setQuota(qbtn, Math.round(Number(qv.value) * Number(qu.value))); },
  }, h('div', null, h('label', { for: 'quota-value' }, 'Quota'), h('br'), qv), h('div', null, h('label', { for: 'quota-unit' }, 'Unit'), h('br'), qu), qbtn, qnone);
  // Statistics.
  const out = h('div');
  const stats = h('button', {
    type: 'button', id: 'mailbox-stats',
    onclick: async () => busy(stats, async () => {
      try {
        const st = await api('GET', path + '/stats');
        replace(out, h('pre', { class: 'log' }, JSON.stringify(st.Statistics, null, 2)));
      } catch (err) { replace(out, errorBox(err)); }
    }),
  }, 'Show statistics');
  const pw = h('button', { type: 'button', id: 'mb-set-password', onclick: () => passwordDialog(path, notice) }, 'Set password');
  return [h('div', { class: 'actions' }, pw, stats), notice, out,
    h('h2', { class: 'spaced' }, 'Names'), h('div', { class: 'card' }, names),
    h('h2', { class: 'spaced' }, 'Email addresses'), h('div', { class: 'card' }, addresses.el),
    h('h2', { class: 'spaced' }, 'Quota'), h('div', { class: 'card' },
      h('p', { class: 'hint' }, 'ProhibitSendReceiveQuota: mail that would take the mailbox over it is refused (QuotaExceeded).'), qnotice, quota),
    deleteButton(ctx, 'mailboxes', path, r)];
}

// addressEditor lists a recipient's EmailAddresses with a Remove button
// each (the primary one excepted) and adds new ones (SMTP: makes one
// primary).
function addressEditor(patch) {
  const el = h('div', { id: 'addresses' });
  const notice = h('div', { id: 'addr-notice' });
  const input = h('input', { id: 'ed-add-address', autocomplete: 'off', placeholder: 'smtp:ann.lee@contoso.example', dataset: { flag: 'add-address' } });
  const add = h('button', { type: 'submit', id: 'ed-add' }, 'Add address');
  const form = h('form', {
    class: 'inline', id: 'addr-form',
    onsubmit: async (e) => {
      e.preventDefault();
      await busy(add, async () => {
        try {
          await patch({ AddAddresses: [input.value.trim()] }, form);
          replace(notice, h('div', { class: 'notice', dataset: { added: input.value.trim() } }, 'Added ', input.value.trim(), '.'));
          input.value = '';
        } catch (err) { replace(notice, errorBox(err, form)); }
      });
    },
  }, h('div', null, h('label', { for: 'ed-add-address' }, 'Address to add'), h('br'), input), add);
  const list = h('ul', { class: 'plain addresses' });
  const refresh = (r) => replace(list, (r.EmailAddresses || []).map((a) => h('li', { dataset: { address: a } }, h('code', null, a), ' ',
    a.startsWith('SMTP:') ? h('span', { class: 'tag' }, 'primary') : h('button', {
      type: 'button', class: 'danger small', dataset: { action: 'remove-address' },
      onclick: async (e) => busy(e.target, async () => {
        try {
          await patch({ RemoveAddresses: [a] }, form);
          replace(notice, h('div', { class: 'notice', dataset: { removed: a } }, 'Removed ', a, '.'));
        } catch (err) { replace(notice, errorBox(err, form)); }
      }),
    }, 'Remove'))));
  replace(el, notice, list, form);
  return { el, refresh };
}

// passwordDialog sets a mailbox's password in a modal dialog; the password
// is sent once and never shown back.
function passwordDialog(path, pageNotice) {
  const input = h('input', { id: 'pw-new', type: 'password', autocomplete: 'new-password', dataset: { flag: 'password' } });
  const msg = h('div', { id: 'pw-error' });
  const ok = h('button', { type: 'submit', class: 'primary', id: 'pw-ok' }, 'Set password');
  const cancel = h('button', { type: 'button', id: 'pw-cancel' }, 'Cancel');
  const form = h('form', {
    id: 'pw-form',
    onsubmit: async (e) => {
      e.preventDefault();
      await busy(ok, async () => {
        try {
          await api('PATCH', path, { Password: input.value });
          input.value = '';
          dlg.close();
          replace(pageNotice, h('div', { class: 'notice', dataset: { change: 'password' } }, 'Password changed.'));
        } catch (err) { replace(msg, errorBox(err, form)); }
      });
    },
  }, msg, h('label', { for: 'pw-new' }, 'New password'), input,
  h('p', { class: 'hint' }, 'The mailbox signs in to IMAP, SMTP and DAV with it. It is not shown again.'),
  h('div', { class: 'actions' }, cancel, ok));
  const dlg = h('dialog', { class: 'confirm', id: 'pw-dialog' }, h('h2', null, 'Set password'), form);
  cancel.addEventListener('click', () => dlg.close());
  dlg.addEventListener('close', () => { input.value = ''; dlg.remove(); });
  document.body.append(dlg);
  dlg.showModal();
  input.focus();
}

// groupMembers lists a group's members a page at a time and adds (with
// suggestions from a mailbox search) and removes them; each change's reply
// is the change only.
async function groupMembers(ctx, path, g) {
  const notice = h('div', { id: 'member-notice' });
  const cols = [
    { title: 'Member', get: (m) => m.PrimarySmtpAddress },
    { title: 'Display name', get: (m) => m.DisplayName || '' },
    { title: 'Type', get: (m) => m.RecipientTypeDetails },
    { title: '', cls: 'row-actions', get: (m) => h('button', { type: 'button', class: 'danger small', dataset: { action: 'remove-member' }, onclick: remove(m) }, 'Remove') },
  ];
  const list = pager('members', (cur) => listPath(path + '/members', '', cur), cols,
    { row: (m) => ({ dataset: { address: (m.PrimarySmtpAddress || '').toLowerCase() } }), empty: 'No members yet.' });
  const changed = (ch) => {
    notice.dataset.change = ch.Change;
    notice.dataset.member = ch.Member.toLowerCase();
    replace(notice, h('div', { class: 'notice' }, ch.Change, ' ', h('strong', null, ch.Member), ' (', ch.MemberType, ') ',
      ch.Change === 'Added' ? 'to ' : 'from ', ch.Group, '.'));
  };
  function remove(m) {
    return async (e) => busy(e.target, async () => {
      try {
        const ch = await api('DELETE', path + '/members/' + seg(m.Id || m.PrimarySmtpAddress));
        list.remove((x) => (x.Id || x.PrimarySmtpAddress) === (m.Id || m.PrimarySmtpAddress));
        changed(ch);
      } catch (err) { replace(notice, errorBox(err)); }
    });
  }
  const suggest = h('datalist', { id: 'member-suggest' });
  const input = h('input', { id: 'member-add', list: 'member-suggest', autocomplete: 'off', placeholder: 'user01@contoso.example', dataset: { flag: 'member' } });
  let timer = 0;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (q.length < 2) return;
    timer = setTimeout(async () => {
      try {
        const pg = await apiPage(listPath(base(ctx) + '/mailboxes', q, '').replace('limit=' + PAGE, 'limit=10'));
        if (input.value.trim() === q) replace(suggest, pg.items.map((r) => h('option', { value: r.PrimarySmtpAddress }, r.DisplayName || r.Name)));
      } catch (_) { /* suggestions are a convenience: the add reports errors */ }
    }, 250);
  });
  const add = h('button', { type: 'submit', class: 'primary', id: 'member-add-btn' }, 'Add member');
  const form = h('form', {
    class: 'inline', id: 'member-form',
    onsubmit: async (e) => {
      e.preventDefault();
      await busy(add, async () => {
        delete notice.dataset.change;
        delete notice.dataset.member;
        replace(notice);
        try {
          const ch = await api('POST', path + '/members', { Member: input.value.trim() });
          list.add({ Id: ch.MemberId, PrimarySmtpAddress: ch.Member, RecipientTypeDetails: ch.MemberType });
          changed(ch);
          input.value = '';
        } catch (err) {
          delete notice.dataset.change;
          replace(notice, errorBox(err, form));
        }
      });
    },
  }, h('div', null, h('label', { for: 'member-add' }, 'Member'), h('br'), input, suggest), add);
  await list.reload();
  return [h('h2', { class: 'spaced' }, 'Members of ', g.Name), h('p', { class: 'hint' },
    'A mail-enabled security group named in an organization relationship\u2019s MailboxMovePublishedScopes is the set of mailboxes another tenant may move.'),
  notice, form, list.el];
}
