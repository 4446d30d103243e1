// Migration endpoints of the web admin (docs/architecture.md §1 steps 3
// and 9): list, create (ExchangeRemoteMove or IMAP), a page per endpoint to
// edit it (Set-MigrationEndpoint), rotate its secret, test it
// (Test-MigrationServerAvailability, one line per check) and delete it.
// Every change goes through the admin API; the server validates.
import { h, replace, route, table, props, errorBox, fmtTime, fmtBytes, field, busy, badge, ask } from './dom.js';
import { api, seg } from './api.js';

function base(ctx) {
  return 'tenants/' + seg(ctx.tenant) + '/endpoints';
}

// num reads a number input: '' is 0 (the server's default or "keep").
const num = (input) => (input.value.trim() === '' ? 0 : Number(input.value));

// checksTable renders an endpoint test: the overall Result, then one line
// per check.
export function checksTable(r) {
  return h('div', { class: 'card endpoint-test', dataset: { result: r.Result } },
    h('p', null, 'Result: ', h('span', { id: 'endpoint-test-result' }, badge(r.Result)), ' ', r.Message || ''),
    table([
      { title: 'Name', get: (c) => c.Name },
      { title: 'Result', get: (c) => badge(c.Result) },
      { title: 'Code', get: (c) => (c.Code ? h('code', null, c.Code) : '') },
      { title: 'Message', get: (c) => c.Message },
    ], r.Checks || [], { id: 'checks', row: (c) => ({ dataset: { check: c.Name, result: c.Result } }) }));
}

// tester returns the test mailbox input and a function running the test
// of endpoint name into out.
function tester(ctx, out) {
  const mailbox = h('input', { id: 'test-mailbox', placeholder: 'user01@fabrikam.example (optional)', autocomplete: 'off', dataset: { flag: 'test-mailbox' } });
  const run = (name) => async (ev) => busy(ev.currentTarget, async () => {
    replace(out, h('p', { class: 'muted' }, 'Testing ', name, '\u2026'));
    try {
      const body = mailbox.value.trim() ? { TestMailbox: mailbox.value.trim() } : {};
      replace(out, h('h2', null, 'Test of ', name), checksTable(await api('POST', base(ctx) + '/' + seg(name) + '/test', body)));
    } catch (err) { replace(out, errorBox(err)); }
  });
  return { mailbox, run };
}

// pair is a form row (label and input) shown for one endpoint type only
// (kind: native or imap).
function pair(label, input, kind) {
  const l = h('label', { for: input.id, dataset: { kind } }, label);
  input.dataset.kind = kind;
  return [l, input];
}

// showKind shows the rows of form for endpoint type typ.
function showKind(form, typ) {
  const kind = typ === 'IMAP' ? 'imap' : 'native';
  for (const el of form.querySelectorAll('[data-kind]')) el.hidden = el.dataset.kind !== kind;
}

// endpointsView lists migration endpoints, tests them and creates new ones.
export async function endpointsView(main, ctx) {
  const es = await api('GET', base(ctx));
  if (!ctx.live()) return;
  let apps = [];
  try { apps = await api('GET', 'tenants/' + seg(ctx.tenant) + '/apps'); } catch (_) { /* the form works without suggestions */ }
  if (!ctx.live()) return;
  const notice = h('div', { id: 'endpoint-notice' });
  const out = h('div', { id: 'endpoint-test' });
  const list = h('div');
  const t = tester(ctx, out);
  const draw = (rows) => replace(list, table([
    { title: 'Name', get: (e) => h('a', { href: route('t', ctx.tenant, 'endpoints', e.Name) }, e.Name) },
    { title: 'Type', get: (e) => e.EndpointType },
    { title: 'RemoteServer', get: (e) => h('code', null, e.RemoteServer) },
    { title: 'RemoteTenant', get: (e) => e.RemoteTenant || '' },
    { title: 'ApplicationId', get: (e) => (e.ApplicationId ? h('code', null, e.ApplicationId) : '') },
    { title: 'Max migrations', cls: 'num', get: (e) => String(e.MaxConcurrentMigrations) },
    { title: 'Max incremental', cls: 'num', get: (e) => String(e.MaxConcurrentIncrementalSyncs) },
    { title: 'Bandwidth', cls: 'num', get: (e) => (e.MaxBytesPerSecond ? fmtBytes(e.MaxBytesPerSecond) + '/s' : 'no cap') },
    { title: '', cls: 'row-actions', get: (e) => h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'test', dataset: { action: 'test' }, onclick: t.run(e.Name) }, 'Test'),
      h('a', { href: route('t', ctx.tenant, 'endpoints', e.Name), class: 'button', dataset: { action: 'open' } }, 'Edit')) },
  ], rows, { id: 'endpoints', row: (e) => ({ dataset: { name: e.Name, type: e.EndpointType } }), empty: 'No migration endpoints: create one below.' }));
  draw(es);
  const form = createForm(ctx, apps, notice, async (e) => {
    replace(notice, h('div', { class: 'notice', id: 'endpoint-created', dataset: { name: e.Name } }, 'Migration endpoint ', h('strong', null, e.Name),
      ' created. Test it below (with a mailbox once the organization relationships exist), or open it to change it.'));
    draw(await api('GET', base(ctx)));
  });
  replace(main, h('h1', null, 'Migration endpoints'), notice,
    h('div', { class: 'toolbar' }, h('div', null, h('label', { for: 'test-mailbox' }, 'Test mailbox'), h('br'), t.mailbox)),
    list, out, h('h2', { class: 'spaced' }, 'New migration endpoint'), form);
}

// oauthInputs are an IMAP endpoint's OAuth2 sign-in inputs (ids PREFIX-oauth-*),
// set from cur (an EndpointOAuth) when editing.
function oauthInputs(prefix, cur) {
  const c = cur || {};
  const keep = cur ? [['', 'keep']] : [];
  const sel = (id, flag, opts) => h('select', { id: prefix + '-oauth-' + id, dataset: { flag } },
    keep.concat(opts).map(([val, label]) => h('option', { value: val }, label)));
  return {
    url: h('input', { id: prefix + '-oauth-url', value: c.TokenURL || '', placeholder: 'https://oauth2.googleapis.com/token (optional)', autocomplete: 'off', dataset: { flag: 'oauth-token-url' } }),
    scope: h('input', { id: prefix + '-oauth-scope', value: c.Scope || '', placeholder: 'https://mail.google.com/ (space-separated)', autocomplete: 'off', dataset: { flag: 'oauth-scope' } }),
    grant: sel('grant', 'oauth-grant', [['refresh_token', 'refresh_token (a RefreshToken column per user)'], ['client_credentials', 'client_credentials (a service account)']]),
    mech: sel('mechanism', 'oauth-mechanism', [['XOAUTH2', 'XOAUTH2'], ['OAUTHBEARER', 'OAUTHBEARER']]),
  };
}

// createForm is the New-MigrationEndpoint form; created(endpoint) follows
// a success.
function createForm(ctx, apps, notice, created) {
  const typ = h('select', { id: 'ep-type', dataset: { flag: 'type' } },
    h('option', { value: '' }, 'Exchange Remote Move (a tenantferry source server)'), h('option', { value: 'IMAP' }, 'IMAP (any IMAP server)'));
  const name = h('input', { id: 'ep-name', placeholder: 'contoso-ep', autocomplete: 'off', dataset: { flag: 'name' } });
  const server = h('input', { id: 'ep-server', placeholder: 'https://mail.contoso.example', autocomplete: 'off', dataset: { flag: 'remote-server' } });
  const tenant = h('input', { id: 'ep-tenant', placeholder: 'contoso.tenantferry.test', autocomplete: 'off', dataset: { flag: 'remote-tenant' } });
  const appList = h('datalist', { id: 'ep-app-list' }, apps.map((a) => h('option', { value: a.AppId }, a.DisplayName)));
  // With one app (the usual case), it is the endpoint's.
  const app = h('input', { id: 'ep-app', list: appList.id, placeholder: 'AppId of the migration app (Apps page)', autocomplete: 'off',
    value: apps.length === 1 ? apps[0].AppId : '', dataset: { flag: 'app-id' } });
  const secret = h('input', { id: 'ep-secret', type: 'password', autocomplete: 'new-password', placeholder: 'the app\u2019s client secret', dataset: { flag: 'secret secret-file' } });
  const security = h('select', { id: 'ep-security', dataset: { flag: 'security' } },
    h('option', { value: '' }, 'The URL\u2019s default'), h('option', { value: 'Ssl' }, 'Ssl (implicit TLS)'),
    h('option', { value: 'Tls' }, 'Tls (STARTTLS required)'), h('option', { value: 'None' }, 'None (plain text)'));
  const caldav = h('input', { id: 'ep-caldav', placeholder: 'https://dav.legacy.example/ (optional)', autocomplete: 'off', dataset: { flag: 'caldav-url' } });
  const carddav = h('input', { id: 'ep-carddav', placeholder: 'https://dav.legacy.example/ (optional)', autocomplete: 'off', dataset: { flag: 'carddav-url' } });
  const maxMig = h('input', { id: 'ep-max-mig', type: 'number', min: '1', max: '1000', placeholder: '100', dataset: { flag: 'max-concurrent-migrations' } });
  const maxInc = h('input', { id: 'ep-max-inc', type: 'number', min: '1', max: '1000', placeholder: '20', dataset: { flag: 'max-concurrent-incremental-syncs' } });
  const bps = h('input', { id: 'ep-max-bps', type: 'number', min: '0', placeholder: '0 (no cap)', dataset: { flag: 'max-bytes-per-second' } });
  const o = oauthInputs('ep', null);
  const btn = h('button', { id: 'ep-create', class: 'primary', type: 'submit' }, 'Create endpoint');
  const form = h('form', {
    class: 'grid card', id: 'endpoint-form', novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      await busy(btn, async () => {
        const imap = typ.value === 'IMAP';
        const body = {
          Name: name.value.trim(), Type: typ.value, RemoteServer: server.value.trim(),
          MaxConcurrentMigrations: num(maxMig), MaxConcurrentIncrementalSyncs: num(maxInc), MaxBytesPerSecond: num(bps),
        };
        Object.assign(body, { ApplicationId: app.value.trim(), Secret: secret.value });
        if (imap) {
          Object.assign(body, { Security: security.value, CalDAVURL: caldav.value.trim(), CardDAVURL: carddav.value.trim(),
            OAuthTokenURL: o.url.value.trim(), OAuthScope: o.scope.value.trim(), OAuthGrant: o.grant.value, OAuthMechanism: o.mech.value });
        } else body.RemoteTenant = tenant.value.trim();
        try {
          const ep = await api('POST', base(ctx), body);
          form.reset();
          showKind(form, typ.value);
          app.value = apps.length === 1 ? apps[0].AppId : '';
          await created(ep);
        } catch (err) { replace(notice, errorBox(err, form)); }
      });
    },
  }, field('Type', typ), field('Name', name), field('Remote server', server),
  pair('Remote tenant', tenant, 'native'), field('Application (client) ID', app), field('Client secret', secret),
  pair('Security', security, 'imap'), pair('CalDAV URL', caldav, 'imap'), pair('CardDAV URL', carddav, 'imap'),
  pair('OAuth token URL', o.url, 'imap'), pair('OAuth scope', o.scope, 'imap'), pair('OAuth grant', o.grant, 'imap'), pair('OAuth mechanism', o.mech, 'imap'),
  h('span', { dataset: { kind: 'imap' } }), h('p', { class: 'hint', dataset: { kind: 'imap' } }, 'The users\u2019 IMAP logins come with the batch CSV. ',
    'With an OAuth token URL they sign in with OAuth2 tokens instead of passwords: the application ID and client secret above are then the OAuth client\u2019s.'),
  field('Max concurrent migrations', maxMig), field('Max concurrent incremental syncs', maxInc),
  field('Bandwidth cap (bytes/s)', bps), appList,
  h('div', { class: 'actions' }, btn));
  typ.addEventListener('change', () => {
    showKind(form, typ.value);
    server.placeholder = typ.value === 'IMAP' ? 'imaps://imap.legacy.example:993' : 'https://mail.contoso.example';
  });
  showKind(form, typ.value);
  return form;
}

// endpointPage shows one endpoint: its settings, the edit form, the secret
// rotation, the test and the delete button.
export async function endpointPage(main, ctx, name) {
  let e = await api('GET', base(ctx) + '/' + seg(name));
  if (!ctx.live()) return;
  const notice = h('div', { id: 'endpoint-notice' });
  const propsBox = h('div', { class: 'card' });
  const drawProps = () => replace(propsBox, props([
    ['Identity', e.Identity], ['EndpointType', e.EndpointType], ['RemoteServer', h('code', null, e.RemoteServer)],
    ['RemoteTenant', e.RemoteTenant], ['ApplicationId', e.ApplicationId ? h('code', null, e.ApplicationId) : ''],
    ['MaxConcurrentMigrations', String(e.MaxConcurrentMigrations)], ['MaxConcurrentIncrementalSyncs', String(e.MaxConcurrentIncrementalSyncs)],
    ['MaxBytesPerSecond', e.MaxBytesPerSecond ? String(e.MaxBytesPerSecond) + ' (' + fmtBytes(e.MaxBytesPerSecond) + '/s)' : '0 (no cap)'],
    e.EndpointType === 'IMAP' ? ['Security', e.Security || 'the URL\u2019s default'] : null,
    e.EndpointType === 'IMAP' ? ['CalDAVURL', e.CalDAVURL || ''] : null,
    e.EndpointType === 'IMAP' ? ['CardDAVURL', e.CardDAVURL || ''] : null,
    e.OAuth ? ['OAuth', e.OAuth.TokenURL + ' (' + (e.OAuth.Grant || 'refresh_token') + ', ' + (e.OAuth.Mechanism || 'XOAUTH2') + ')'] : null,
    ['WhenCreated', fmtTime(e.WhenCreated)],
  ].filter((p) => p), 'endpoint-props'));
  drawProps();
  const saved = (verb) => async (next) => {
    e = next;
    drawProps();
    replace(notice, h('div', { class: 'notice', id: 'endpoint-saved', dataset: { verb } }, verb === 'rotate'
      ? ['The client secret of ', e.Name, ' was replaced.'] : ['Endpoint ', e.Name, ' saved.']));
  };
  const out = h('div', { id: 'endpoint-test' });
  const t = tester(ctx, out);
  const testBtn = h('button', { type: 'button', id: 'endpoint-test-run', class: 'test', onclick: t.run(e.Name) }, 'Test');
  const delBtn = h('button', {
    type: 'button', id: 'endpoint-delete', class: 'danger',
    onclick: async () => {
      const ok = await ask({ title: 'Delete migration endpoint', danger: true, ok: 'Delete endpoint',
        text: 'Delete migration endpoint ' + e.Name + '? Batches can no longer use it; its stored secret is discarded.' });
      if (!ok) return;
      await busy(delBtn, async () => {
        try {
          await api('DELETE', base(ctx) + '/' + seg(e.Name));
          location.hash = route('t', ctx.tenant, 'endpoints');
        } catch (err) { replace(notice, errorBox(err)); }
      });
    },
  }, 'Delete endpoint');
  replace(main, h('h1', null, e.Name), notice, propsBox,
    h('h2', { class: 'spaced' }, 'Test'), h('div', { class: 'card' },
      h('div', { class: 'toolbar' }, h('div', null, h('label', { for: 'test-mailbox' }, 'Test mailbox (a target address, optional)'), h('br'), t.mailbox), testBtn), out),
    h('h2', { class: 'spaced' }, 'Edit'), editForm(ctx, () => e, notice, saved('edit')),
    h('h2', { class: 'spaced' }, 'Rotate secret'), rotateForm(ctx, () => e, notice, saved('rotate')),
    h('h2', { class: 'spaced' }, 'Delete'), h('div', { class: 'card' }, h('p', { class: 'muted' }, 'Deleting the endpoint does not touch the app, the consents or the moves already completed.'),
      h('div', { class: 'actions' }, delBtn)));
}

// editForm changes an endpoint (PATCH, Set-MigrationEndpoint): only the
// fields that differ from cur() are sent.
function editForm(ctx, cur, notice, done) {
  const e = cur();
  const imap = e.EndpointType === 'IMAP';
  const server = h('input', { id: 'ee-server', value: e.RemoteServer, autocomplete: 'off', dataset: { flag: 'remote-server' } });
  const tenant = h('input', { id: 'ee-tenant', value: e.RemoteTenant || '', autocomplete: 'off', dataset: { flag: 'remote-tenant' } });
  const app = h('input', { id: 'ee-app', value: e.ApplicationId || '', autocomplete: 'off', dataset: { flag: 'app-id' } });
  const security = h('select', { id: 'ee-security', dataset: { flag: 'security' } }, [['', 'The URL\u2019s default'], ['Ssl', 'Ssl'], ['Tls', 'Tls'], ['None', 'None']]
    .map(([v, l]) => h('option', { value: v, selected: (e.Security || '') === v }, l)));
  const caldav = h('input', { id: 'ee-caldav', value: e.CalDAVURL || '', autocomplete: 'off', dataset: { flag: 'caldav-url' } });
  const carddav = h('input', { id: 'ee-carddav', value: e.CardDAVURL || '', autocomplete: 'off', dataset: { flag: 'carddav-url' } });
  const maxMig = h('input', { id: 'ee-max-mig', type: 'number', value: String(e.MaxConcurrentMigrations), dataset: { flag: 'max-concurrent-migrations' } });
  const maxInc = h('input', { id: 'ee-max-inc', type: 'number', value: String(e.MaxConcurrentIncrementalSyncs), dataset: { flag: 'max-concurrent-incremental-syncs' } });
  const bps = h('input', { id: 'ee-max-bps', type: 'number', min: '0', value: String(e.MaxBytesPerSecond || 0), dataset: { flag: 'max-bytes-per-second' } });
  const o = oauthInputs('ee', e.OAuth || {});
  const btn = h('button', { id: 'endpoint-save', class: 'primary', type: 'submit' }, 'Save');
  const form = h('form', {
    class: 'grid card', id: 'endpoint-edit', novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      const c = cur();
      const body = {};
      // Empty strings and zero limits keep the stored values (the API's
      // rule): send what changed only.
      const str = (k, input, now, clear) => {
        const v = input.value.trim();
        if (v !== (now || '')) body[k] = v === '' ? clear : v;
      };
      str('RemoteServer', server, c.RemoteServer, '');
      str('ApplicationId', app, c.ApplicationId, '');
      if (!imap) {
        str('RemoteTenant', tenant, c.RemoteTenant, '');
      } else {
        const co = c.OAuth || {};
        str('Security', security, c.Security, 'Auto');
        str('CalDAVURL', caldav, c.CalDAVURL, 'none');
        str('CardDAVURL', carddav, c.CardDAVURL, 'none');
        str('OAuthTokenURL', o.url, co.TokenURL, 'none');
        str('OAuthScope', o.scope, co.Scope, '');
        if (o.grant.value && o.grant.value !== co.Grant) body.OAuthGrant = o.grant.value;
        if (o.mech.value && o.mech.value !== co.Mechanism) body.OAuthMechanism = o.mech.value;
      }
      if (num(maxMig) !== c.MaxConcurrentMigrations) body.MaxConcurrentMigrations = num(maxMig);
      if (num(maxInc) !== c.MaxConcurrentIncrementalSyncs) body.MaxConcurrentIncrementalSyncs = num(maxInc);
      if (num(bps) !== (c.MaxBytesPerSecond || 0)) body.MaxBytesPerSecond = num(bps);
      await busy(btn, async () => {
        try { await done(await api('PATCH', base(ctx) + '/' + seg(c.Name), body)); } catch (err) { replace(notice, errorBox(err, form)); }
      });
    },
  }, field('Remote server', server),
  imap ? [field('Security', security), field('CalDAV URL', caldav), field('CardDAV URL', carddav), field('Application (client) ID', app),
    field('OAuth token URL', o.url), field('OAuth scope', o.scope), field('OAuth grant', o.grant), field('OAuth mechanism', o.mech)]
    : [field('Remote tenant', tenant), field('Application (client) ID', app)],
  field('Max concurrent migrations', maxMig), field('Max concurrent incremental syncs', maxInc), field('Bandwidth cap (bytes/s)', bps),
  h('span'), h('p', { class: 'hint' }, 'Empty fields keep their values; emptying a CalDAV, CardDAV or OAuth token URL removes it. The client secret changes under Rotate secret.'),
  h('div', { class: 'actions' }, btn));
  return form;
}

// rotateForm replaces the endpoint's stored client secret (a PATCH with
// the Secret only), after a confirmation.
function rotateForm(ctx, cur, notice, done) {
  const secret = h('input', { id: 'ee-secret', type: 'password', autocomplete: 'new-password', placeholder: 'the new client secret', dataset: { flag: 'secret secret-file' } });
  const btn = h('button', { id: 'endpoint-rotate', class: 'primary', type: 'submit' }, 'Replace secret');
  const form = h('form', {
    class: 'grid card', id: 'endpoint-rotate-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      const c = cur();
      if (secret.value === '') {
        // An empty secret would keep the stored one: say so instead.
        replace(notice, errorBox({ code: 'MissingField', message: 'the new client secret is empty', hint: 'Fill in New client secret' }, form));
        return;
      }
      const ok = await ask({ title: 'Rotate the client secret', ok: 'Replace secret',
        text: 'The new secret replaces the one stored for ' + c.Name + '; the old one is discarded. Moves in progress use the new one from their next request.' });
      if (!ok) return;
      await busy(btn, async () => {
        try {
          const next = await api('PATCH', base(ctx) + '/' + seg(c.Name), { Secret: secret.value });
          secret.value = '';
          await done(next);
        } catch (err) { replace(notice, errorBox(err, form)); }
      });
    },
  }, h('span'), h('p', { class: 'hint' }, 'Add a new client secret to the app first (Apps page), then paste it here. It replaces the stored secret of this endpoint; the old secret can then be removed from the app.'),
  field('New client secret', secret), h('div', { class: 'actions' }, btn));
  return form;
}
