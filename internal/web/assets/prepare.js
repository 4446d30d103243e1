// Prepare mail users (step 8 of a cross-tenant move, `tenantferry mailuser
// prepare`): the target tenant's admin previews, then applies, the
// MailUsers created or stamped from the source mailboxes' identities
// (ExchangeGuid, ArchiveGuid, X500 addresses, a target delivery address).
// Apply is enabled only after a preview of the same inputs.
import { h, replace, route, table, errorBox, webText, field, busy, badge } from './dom.js';
import { api, seg } from './api.js';

// kindOf names what a row does: create, stamp (an existing MailUser
// updated), unchanged or failed.
export function kindOf(row) {
  switch (row.Action) {
    case 'Created': return 'create';
    case 'Updated': return 'stamp';
    case 'Unchanged': return 'unchanged';
    case 'Failed': return 'failed';
    default: return (row.Changes || []).some((c) => c.startsWith('create MailUser ')) ? 'create' : 'stamp';
  }
}

// changed returns the values of the row's changes that start with prefix.
function changed(row, prefix) {
  return (row.Changes || []).filter((c) => c.startsWith(prefix)).map((c) => c.slice(prefix.length));
}

// targetAddress is the row's address in the target delivery domain: the
// one the row adds, else the EmailAddress when it is in that domain.
function targetAddress(r, domain) {
  const added = changed(r, 'smtp:');
  if (added.length) return added.map((a) => h('code', null, a));
  return r.Action !== 'Failed' && r.EmailAddress.toLowerCase().endsWith('@' + domain.toLowerCase()) ? h('code', null, r.EmailAddress) : '';
}

// rowsTable renders the reply of a prepare: one line per CSV row.
function rowsTable(rows, dryRun, domain, scope) {
  const label = { create: dryRun ? 'Create' : 'Created', stamp: dryRun ? 'Stamp' : 'Stamped', unchanged: 'Unchanged', failed: 'Failed' };
  return table([
    { title: 'Line', cls: 'num', get: (r) => String(r.Line) },
    { title: 'EmailAddress', get: (r) => r.EmailAddress },
    { title: 'Source mailbox', get: (r) => r.SourceEmailAddress || '' },
    { title: 'Action', get: (r) => badge(label[kindOf(r)]) },
    { title: 'ExchangeGuid', get: (r) => changed(r, 'ExchangeGuid ').map((g) => h('code', null, g)) },
    { title: 'X500 addresses', get: (r) => changed(r, 'X500:').map((x) => h('div', null, h('code', { class: 'clip', title: 'X500:' + x }, 'X500:' + x))) },
    { title: 'Target address', get: (r) => targetAddress(r, domain) },
    { title: 'Error', get: (r) => (r.Error ? h('span', { class: 'row-error' }, h('span', { class: 'code' }, r.Error.Code), ': ', webText(r.Error.Message, scope)) : '') },
  ], rows, { id: 'prepare-rows', row: (r) => ({ dataset: { address: r.EmailAddress.toLowerCase(), action: r.Action, kind: kindOf(r) } }), empty: 'The CSV has no users.' });
}

// summary counts the rows per kind.
function summary(rows, dryRun) {
  const n = { create: 0, stamp: 0, unchanged: 0, failed: 0 };
  for (const r of rows) n[kindOf(r)]++;
  return rows.length + ' row' + (rows.length === 1 ? '' : 's') + (dryRun ? ' previewed' : ' applied') + ': ' + n.create + ' create, ' +
    n.stamp + ' stamp, ' + n.unchanged + ' unchanged, ' + n.failed + ' failed.' + (dryRun ? ' Nothing was written.' : '');
}

// prepareView is the Prepare mail users page.
export async function prepareView(main, ctx) {
  const base = 'tenants/' + seg(ctx.tenant);
  const [eps, ds] = await Promise.all([api('GET', base + '/endpoints'), api('GET', base + '/domains')]);
  if (!ctx.live()) return;
  const endpoint = h('select', { id: 'prep-endpoint', dataset: { flag: 'endpoint' } },
    eps.map((e) => h('option', { value: e.Name }, e.Name + ' (' + (e.RemoteTenant || e.RemoteServer || e.EndpointType) + ')')));
  const csv = h('textarea', { id: 'prep-csv', rows: 6, spellcheck: 'false', placeholder: 'EmailAddress\nuser01@fabrikam.example', dataset: { flag: 'csv' } });
  const file = h('input', { id: 'prep-file', type: 'file', accept: '.csv,text/csv' });
  const tdd = h('select', { id: 'prep-tdd', dataset: { flag: 'target-delivery-domain' } },
    ds.map((d) => h('option', { value: d.DomainName, selected: d.Default }, d.DomainName)));
  const preview = h('button', { type: 'submit', id: 'prep-preview' }, 'Preview');
  const apply = h('button', { type: 'button', class: 'primary', id: 'prep-apply', disabled: true }, 'Apply');
  const notice = h('div', { id: 'prep-notice' });
  const result = h('div', { id: 'prep-result' });
  let previewed = '';
  const inputs = () => JSON.stringify([endpoint.value, csv.value, tdd.value]);
  const stale = () => {
    if (inputs() !== previewed) apply.disabled = true;
  };
  for (const el of [endpoint, csv, tdd]) {
    el.addEventListener('input', stale);
    el.addEventListener('change', stale);
  }
  file.addEventListener('change', async () => {
    if (!file.files.length) return;
    csv.value = await file.files[0].text();
    stale();
  });
  const run = async (dryRun) => {
    const rows = await api('POST', base + '/mailusers/prepare',
      { Endpoint: endpoint.value, Csv: csv.value, TargetDeliveryDomain: tdd.value, DryRun: dryRun });
    result.dataset.mode = dryRun ? 'preview' : 'applied';
    result.dataset.rows = String(rows.length);
    replace(result, h('h2', { class: 'spaced' }, dryRun ? 'Preview' : 'Result'), h('p', { id: 'prep-summary' }, summary(rows, dryRun)),
      rowsTable(rows, dryRun, tdd.value, form),
      dryRun ? null : h('p', { id: 'prep-done' }, h('a', { href: route('t', ctx.tenant, 'mailusers') }, 'Open the mail users'),
        ', then create the migration batch with the same CSV.'));
  };
  const form = h('form', {
    class: 'grid', id: 'prep-form',
    onsubmit: async (e) => {
      e.preventDefault();
      await busy(preview, async () => {
        apply.disabled = true;
        replace(notice);
        delete result.dataset.mode;
        replace(result);
        try {
          const at = inputs();
          await run(true);
          previewed = at;
          stale();
          apply.disabled = inputs() !== previewed;
        } catch (err) {
          previewed = '';
          delete result.dataset.mode;
          replace(result);
          replace(notice, errorBox(err, form));
        }
      });
    },
  }, field('Migration endpoint', endpoint),
  h('label', { for: 'prep-csv' }, 'CSV file'), h('div', null, csv, h('div', { class: 'hint' }, 'An EmailAddress column (the target addresses); optional SourceEmailAddress. Or upload: ', file)),
  field('Target delivery domain', tdd), h('div', { class: 'actions' }, preview, apply));
  apply.addEventListener('click', async () => {
    if (inputs() !== previewed) {
      apply.disabled = true;
      replace(notice, h('div', { class: 'notice' }, 'The inputs changed since the preview: preview again.'));
      return;
    }
    await busy(apply, async () => {
      delete result.dataset.mode;
      try {
        await run(false);
        replace(notice);
      } catch (err) { replace(notice, errorBox(err, form)); }
    });
    previewed = '';
    apply.disabled = true;
  });
  replace(main, h('h1', null, 'Prepare mail users'),
    h('p', { class: 'hint' }, 'Creates or stamps the target MailUsers of a migration batch from the source mailboxes (ExchangeGuid, ArchiveGuid, ',
      'the LegacyExchangeDN and X500 addresses as X500 proxies, an address in the target delivery domain). Preview first: nothing is written until Apply.'),
    eps.length ? null : h('div', { class: 'notice' }, 'This tenant has no migration endpoint yet: create one on the ',
      h('a', { href: route('t', ctx.tenant, 'endpoints') }, 'Endpoints'), ' page.'),
    h('div', { class: 'card' }, notice, form), result);
}
