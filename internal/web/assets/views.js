// Tenant views of the web admin: recipients (apps and consents are in
// apps.js, endpoints in endpoints.js, organization relationships in
// orgrels.js). Each view reads through the admin API only.
import { h, replace, route, table, props, errorBox, fmtTime, field, busy, badge } from './dom.js';
import { api, seg } from './api.js';

const kindTitles = { mailboxes: 'Mailboxes', mailusers: 'Mail users', groups: 'Groups' };

function base(ctx) {
  return 'tenants/' + seg(ctx.tenant);
}

const tags = (xs) => (xs || []).map((x) => h('span', { class: 'tag' }, x));

// recipientList lists the mailboxes, mail users or groups of the tenant.
export async function recipientList(main, ctx, kind) {
  const rs = await api('GET', base(ctx) + '/' + kind);
  if (!ctx.live()) return;
  const cols = [
    { title: 'Display name', get: (r) => h('a', { href: route('t', ctx.tenant, kind, r.PrimarySmtpAddress || r.Alias) }, r.DisplayName || r.Name) },
    { title: 'Primary SMTP address', get: (r) => r.PrimarySmtpAddress },
    { title: 'Alias', get: (r) => r.Alias },
    { title: 'Type', get: (r) => r.RecipientTypeDetails },
  ];
  if (kind === 'mailusers') cols.push({ title: 'External email address', get: (r) => r.ExternalEmailAddress || '' });
  if (kind !== 'groups') cols.push({ title: 'ExchangeGuid', get: (r) => h('code', null, r.ExchangeGuid) });
  replace(main, h('h1', null, kindTitles[kind]),
    table(cols, rs, { id: 'recipients', row: (r) => ({ dataset: { address: r.PrimarySmtpAddress } }), empty: 'None in this tenant.' }));
}

// recipientDetail shows one recipient with the Get-Mailbox fields.
export async function recipientDetail(main, ctx, kind, id) {
  const r = await api('GET', base(ctx) + '/' + kind + '/' + seg(id));
  if (!ctx.live()) return;
  const pairs = [
    ['Identity', r.Identity], ['RecipientType', r.RecipientType], ['RecipientTypeDetails', r.RecipientTypeDetails],
    ['Name', r.Name], ['Alias', r.Alias], ['DisplayName', r.DisplayName], ['FirstName', r.FirstName], ['LastName', r.LastName],
    ['PrimarySmtpAddress', r.PrimarySmtpAddress], ['UserPrincipalName', r.UserPrincipalName],
  ];
  if (kind !== 'groups') {
    pairs.push(['ExchangeGuid', h('code', null, r.ExchangeGuid)], ['ArchiveGuid', h('code', null, r.ArchiveGuid)]);
  }
  pairs.push(['LegacyExchangeDN', h('code', null, r.LegacyExchangeDN)], ['EmailAddresses', (r.EmailAddresses || []).map((a) => h('code', null, a))]);
  if (kind === 'mailusers') pairs.push(['ExternalEmailAddress', r.ExternalEmailAddress]);
  if (kind === 'groups') pairs.push(['Members', r.Members || []]);
  pairs.push(['Id', h('code', null, r.Id)], ['WhenCreated', fmtTime(r.WhenCreated)], ['WhenChanged', fmtTime(r.WhenChanged)]);
  replace(main, h('h1', null, r.DisplayName || r.Name), h('div', { class: 'card' }, props(pairs, 'recipient')));
  if (kind === 'mailboxes') {
    const out = h('div');
    const btn = h('button', {
      type: 'button', id: 'mailbox-stats',
      onclick: async () => busy(btn, async () => {
        try {
          const st = await api('GET', base(ctx) + '/mailboxes/' + seg(id) + '/stats');
          replace(out, h('pre', { class: 'log' }, JSON.stringify(st.Statistics, null, 2)));
        } catch (err) { replace(out, errorBox(err)); }
      }),
    }, 'Show statistics');
    main.append(h('div', { class: 'actions' }, btn), out);
  }
}
