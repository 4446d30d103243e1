// Organization relationships of the web admin (docs/architecture.md §1
// steps 4 and 6): the target's Inbound relationship naming the source
// tenant, the source's RemoteOutbound one naming the target tenant, its
// migration app (OAuthApplicationId) and the published scope groups. List,
// create, a page per relationship to edit or delete it. The server
// validates every change.
import { h, replace, route, table, props, errorBox, fmtTime, field, busy, ask } from './dom.js';
import { api, seg } from './api.js';

function base(ctx) {
  return 'tenants/' + seg(ctx.tenant);
}

const tags = (xs) => (xs || []).map((x) => h('span', { class: 'tag' }, x));

// The two capabilities the form offers (the others, Outbound and
// RemoteInbound, are kept as they are).
const caps = [
  ['Inbound', 'or-cap-inbound', 'Inbound: this tenant receives mailboxes from the partner (the target side)'],
  ['RemoteOutbound', 'or-cap-remoteoutbound', 'RemoteOutbound: the partner\u2019s app may move mailboxes out of this tenant (the source side)'],
];

// tenantOfIssuer returns the tenant ID of an issuer URL (SERVER/ID/v2.0).
function tenantOfIssuer(iss) {
  const m = /\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/v2\.0$/i.exec(iss || '');
  return m ? m[1] : '';
}

// hints reads what the form suggests: partner tenants (from consents and
// endpoints), app ids (consents and this tenant's apps) and the tenant's
// security groups (the published scopes). A failure leaves a list empty.
async function hints(ctx) {
  const get = (p) => api('GET', base(ctx) + p).catch(() => []);
  const [consents, endpoints, apps, groups] = await Promise.all([get('/consents'), get('/endpoints'), get('/apps'), get('/groups')]);
  const partners = [];
  for (const c of consents) {
    const id = tenantOfIssuer(c.Issuer);
    if (id) partners.push([id, 'target tenant of app ' + c.AppId + ' (consented)']);
  }
  for (const e of endpoints) if (e.RemoteTenant) partners.push([e.RemoteTenant, 'source tenant of endpoint ' + e.Name]);
  const appIds = consents.map((c) => [c.AppId, 'consented app of ' + c.Issuer]).concat(apps.map((a) => [a.AppId, a.DisplayName + ' (this tenant\u2019s app)']));
  const security = groups.filter((g) => g.RecipientType === 'MailUniversalSecurityGroup' || g.RecipientTypeDetails === 'MailUniversalSecurityGroup');
  return { partners, appIds, groups: security };
}

// orgRelForm builds the create (o null) or edit form of a relationship;
// submit(body, form) sends it.
function orgRelForm(ctx, o, hs, submit) {
  const edit = !!o;
  const p = edit ? 'oe-' : 'or-';
  const name = edit ? null : h('input', { id: 'or-name', placeholder: 'contoso', autocomplete: 'off', dataset: { flag: 'name' } });
  const partnerList = h('datalist', { id: p + 'domains-list' }, hs.partners.map(([v, l]) => h('option', { value: v }, l)));
  const domains = h('input', { id: p + 'domains', list: partnerList.id, autocomplete: 'off', placeholder: 'the partner tenant\u2019s ID',
    value: edit ? (o.DomainNames || []).join(', ') : '', dataset: { flag: 'domain-names' } });
  const enabled = h('input', { id: p + 'enabled', type: 'checkbox', checked: edit ? o.Enabled : true, dataset: { flag: 'enabled' } });
  const moveEnabled = h('input', { id: p + 'move-enabled', type: 'checkbox', checked: edit ? o.MailboxMoveEnabled : true, dataset: { flag: 'mailbox-move-enabled' } });
  const capBoxes = caps.map(([c, id]) => h('input', { id: p + id.slice(3), type: 'checkbox', value: c, checked: edit && (o.MailboxMoveCapability || []).includes(c) }));
  const others = edit ? (o.MailboxMoveCapability || []).filter((c) => !caps.some(([k]) => k === c)) : [];
  const appList = h('datalist', { id: p + 'app-list' }, hs.appIds.map(([v, l]) => h('option', { value: v }, l)));
  const app = h('input', { id: p + 'app', list: appList.id, autocomplete: 'off', placeholder: 'AppId of the target\u2019s migration app (RemoteOutbound)',
    value: edit ? o.OAuthApplicationId || '' : '', dataset: { flag: 'oauth-app-id' } });
  const current = edit ? o.MailboxMovePublishedScopes || [] : [];
  const chosen = new Set(current.map((s) => s.toLowerCase()));
  const scopeBoxes = hs.groups.map((g) => h('input', {
    type: 'checkbox', id: p + 'scope-' + g.Id, value: g.Name, checked: chosen.has((g.Name || '').toLowerCase()),
    dataset: { alias: g.Alias || '', address: g.PrimarySmtpAddress || '' },
  }));
  // Scopes no longer among the groups (deleted, renamed) stay as they are.
  const stale = current.filter((s) => !hs.groups.some((g) => (g.Name || '').toLowerCase() === s.toLowerCase()));
  const scopes = h('div', { class: 'checks', id: p + 'scopes' },
    scopeBoxes.length ? scopeBoxes.map((b, i) => h('label', { class: 'check', for: b.id }, b, hs.groups[i].DisplayName || hs.groups[i].Name,
      hs.groups[i].PrimarySmtpAddress ? h('span', { class: 'muted' }, ' ', hs.groups[i].PrimarySmtpAddress) : null))
      : h('span', { class: 'muted' }, 'No mail-enabled security group in this tenant (Groups page). Only the source side publishes scopes.'));
  const freeBusy = h('input', { id: p + 'freebusy', type: 'checkbox', checked: edit ? o.FreeBusyAccessEnabled : false, dataset: { flag: 'free-busy-access-enabled' } });
  const btn = h('button', { id: edit ? 'orgrel-save' : 'orgrel-create', class: 'primary', type: 'submit' }, edit ? 'Save' : 'Create relationship');
  const check = (input, text) => [h('span'), h('label', { class: 'check', for: input.id }, input, text)];
  const form = h('form', {
    class: 'grid card', id: edit ? 'orgrel-edit-form' : 'orgrel-form',
    onsubmit: async (e) => {
      e.preventDefault();
      const body = {
        DomainNames: domains.value.split(/[\s,]+/).filter((d) => d !== ''),
        Enabled: enabled.checked, MailboxMoveEnabled: moveEnabled.checked,
        MailboxMoveCapability: others.concat(capBoxes.filter((b) => b.checked).map((b) => b.value)),
        OAuthApplicationId: app.value.trim(),
        MailboxMovePublishedScopes: scopeBoxes.filter((b) => b.checked).map((b) => b.value).concat(stale),
        FreeBusyAccessEnabled: freeBusy.checked,
      };
      if (!edit) body.Name = name.value.trim();
      await busy(btn, () => submit(body, form));
    },
  }, edit ? null : field('Name', name),
  field('Partner tenant (DomainNames)', domains), partnerList,
  h('span'), h('p', { class: 'hint' }, 'On the source side: the target tenant\u2019s ID (in the Issuer of the app you consented to). On the target side: the source tenant\u2019s ID or initial domain. Comma-separated for several.'),
  check(enabled, 'Enabled'), check(moveEnabled, 'Mailbox moves enabled (MailboxMoveEnabled)'),
  h('span', { class: 'label' }, 'MailboxMoveCapability'),
  h('div', { class: 'checks', id: p + 'caps' }, capBoxes.map((b, i) => h('label', { class: 'check', for: b.id }, b, caps[i][2])),
    others.length ? h('span', { class: 'muted' }, 'Also: ', others.join(', ')) : null),
  field('OAuth application ID (OAuthApplicationId)', app), appList,
  h('span', { class: 'label' }, 'Published scopes'), scopes,
  check(freeBusy, 'Share free/busy times during the migration (FreeBusyAccessEnabled)'),
  h('div', { class: 'actions' }, btn));
  return form;
}

// orgRelsView lists organization relationships and creates new ones.
export async function orgRelsView(main, ctx) {
  const os = await api('GET', base(ctx) + '/orgrels');
  if (!ctx.live()) return;
  const hs = await hints(ctx);
  if (!ctx.live()) return;
  const notice = h('div', { id: 'orgrel-notice' });
  const list = h('div');
  const draw = (rows) => replace(list, table([
    { title: 'Name', get: (o) => h('a', { href: route('t', ctx.tenant, 'orgrels', o.Name) }, o.Name) },
    { title: 'DomainNames', get: (o) => (o.DomainNames || []).map((d) => h('div', null, h('code', null, d))) },
    { title: 'Enabled', get: (o) => String(o.Enabled) },
    { title: 'MailboxMoveEnabled', get: (o) => String(o.MailboxMoveEnabled) },
    { title: 'MailboxMoveCapability', get: (o) => tags(o.MailboxMoveCapability) },
    { title: 'OAuthApplicationId', get: (o) => (o.OAuthApplicationId ? h('code', null, o.OAuthApplicationId) : '') },
    { title: 'MailboxMovePublishedScopes', get: (o) => tags(o.MailboxMovePublishedScopes) },
  ], rows, { id: 'orgrels', row: (o) => ({ dataset: { name: o.Name } }), empty: 'No organization relationships: create one below.' }));
  draw(os);
  // After a creation the form starts afresh (its defaults, not a reset's).
  const formBox = h('div');
  const newForm = () => replace(formBox, orgRelForm(ctx, null, hs, async (body, f) => {
    try {
      const o = await api('POST', base(ctx) + '/orgrels', body);
      replace(notice, h('div', { class: 'notice', id: 'orgrel-created', dataset: { name: o.Name } }, 'Organization relationship ', h('strong', null, o.Name), ' created.'));
      newForm();
      draw(await api('GET', base(ctx) + '/orgrels'));
    } catch (err) { replace(notice, errorBox(err, f)); }
  }));
  newForm();
  replace(main, h('h1', null, 'Organization relationships'), notice, list, h('h2', { class: 'spaced' }, 'New organization relationship'), formBox);
}

// orgRelPage shows one relationship, edits it (PATCH) and deletes it.
export async function orgRelPage(main, ctx, name) {
  let o = await api('GET', base(ctx) + '/orgrels/' + seg(name));
  if (!ctx.live()) return;
  const hs = await hints(ctx);
  if (!ctx.live()) return;
  const notice = h('div', { id: 'orgrel-notice' });
  const box = h('div', { class: 'card' });
  const draw = () => replace(box, props([
    ['Identity', o.Identity], ['DomainNames', (o.DomainNames || []).map((d) => h('code', null, d))], ['Enabled', String(o.Enabled)],
    ['MailboxMoveEnabled', String(o.MailboxMoveEnabled)], ['MailboxMoveCapability', o.MailboxMoveCapability || []],
    ['OAuthApplicationId', o.OAuthApplicationId ? h('code', null, o.OAuthApplicationId) : ''],
    ['MailboxMovePublishedScopes', o.MailboxMovePublishedScopes || []], ['FreeBusyAccessEnabled', String(o.FreeBusyAccessEnabled)],
    ['WhenCreated', fmtTime(o.WhenCreated)], ['WhenChanged', fmtTime(o.WhenChanged)],
  ], 'orgrel-props'));
  draw();
  const form = orgRelForm(ctx, o, hs, async (body, f) => {
    try {
      o = await api('PATCH', base(ctx) + '/orgrels/' + seg(o.Name), body);
      draw();
      replace(notice, h('div', { class: 'notice', id: 'orgrel-saved' }, 'Organization relationship ', o.Name, ' saved.'));
    } catch (err) { replace(notice, errorBox(err, f)); }
  });
  const del = h('button', {
    type: 'button', id: 'orgrel-delete', class: 'danger',
    onclick: async () => {
      const ok = await ask({ title: 'Delete organization relationship', danger: true, ok: 'Delete relationship',
        text: 'Delete organization relationship ' + o.Name + '? Mailbox moves with ' + (o.DomainNames || []).join(', ') + ' stop being authorized.' });
      if (!ok) return;
      await busy(del, async () => {
        try {
          await api('DELETE', base(ctx) + '/orgrels/' + seg(o.Name));
          location.hash = route('t', ctx.tenant, 'orgrels');
        } catch (err) { replace(notice, errorBox(err)); }
      });
    },
  }, 'Delete relationship');
  replace(main, h('h1', null, o.Name), notice, box, h('h2', { class: 'spaced' }, 'Edit'), form,
    h('h2', { class: 'spaced' }, 'Delete'), h('div', { class: 'card' }, h('div', { class: 'actions' }, del)));
}
