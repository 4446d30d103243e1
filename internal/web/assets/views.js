// Tenant views of the web admin: apps, consents, organization
// relationships and endpoints. Each view reads through the admin API only.
import { h, replace, route, table, props, errorBox, fmtTime, field, busy, badge } from './dom.js';
import { api, seg } from './api.js';

function base(ctx) {
  return 'tenants/' + seg(ctx.tenant);
}

const tags = (xs) => (xs || []).map((x) => h('span', { class: 'tag' }, x));

// appsView lists app registrations (with their Issuer) and builds consent
// URLs for a source tenant.
export async function appsView(main, ctx) {
  const apps = await api('GET', base(ctx) + '/apps');
  if (!ctx.live()) return;
  const out = h('div', { id: 'consent-url' });
  const app = h('select', { id: 'cu-app' }, apps.map((a) => h('option', { value: a.AppId }, a.DisplayName + ' (' + a.AppId + ')')));
  const server = h('input', { id: 'cu-server', placeholder: 'https://source.example', value: location.origin });
  const tenant = h('input', { id: 'cu-tenant', placeholder: 'contoso.tenantferry.test' });
  const btn = h('button', { type: 'submit' }, 'Get consent URL');
  const form = h('form', {
    class: 'grid',
    onsubmit: async (e) => {
      e.preventDefault();
      await busy(btn, async () => {
        try {
          const q = new URLSearchParams({ 'source-server': server.value.trim(), 'source-tenant': tenant.value.trim() });
          const r = await api('GET', base(ctx) + '/apps/' + seg(app.value) + '/consent-url?' + q.toString());
          replace(out, h('div', { class: 'notice' }, 'Send this URL to the source tenant\u2019s admin: ', h('br'),
            h('a', { href: r.ConsentUrl, rel: 'noreferrer', target: '_blank' }, r.ConsentUrl)));
        } catch (err) { replace(out, errorBox(err)); }
      });
    },
  }, field('App', app), field('Source server', server), field('Source tenant', tenant), h('div', { class: 'actions' }, btn));
  replace(main, h('h1', null, 'Apps'),
    table([
      { title: 'Name', get: (a) => a.DisplayName },
      { title: 'AppId', get: (a) => h('code', null, a.AppId) },
      { title: 'Permissions', get: (a) => tags(a.Permissions) },
      { title: 'Issuer', get: (a) => h('code', null, a.Issuer) },
      { title: 'Secrets', get: (a) => (a.Secrets || []).map((s) => h('div', null, h('code', null, s.Hint), ' expires ', fmtTime(s.Expires))) },
      { title: 'Created', get: (a) => fmtTime(a.WhenCreated) },
    ], apps, { id: 'apps', row: (a) => ({ dataset: { app: a.AppId } }), empty: 'No app registrations.' }),
    apps.length ? [h('h2', { class: 'spaced' }, 'Admin consent URL'), h('div', { class: 'card' }, form, out)] : null);
}

// consentsView lists the tenant's consents and revokes them.
export async function consentsView(main, ctx) {
  const notice = h('div');
  const list = h('div');
  const load = async () => {
    const cs = await api('GET', base(ctx) + '/consents');
    replace(list, table([
      { title: 'AppId', get: (c) => h('code', null, c.AppId) },
      { title: 'Issuer', get: (c) => h('code', null, c.Issuer) },
      { title: 'Permissions', get: (c) => tags(c.Permissions) },
      { title: 'Granted by', get: (c) => c.GrantedBy },
      { title: 'Granted', get: (c) => fmtTime(c.GrantedAt) },
      { title: '', get: (c) => h('button', {
        type: 'button', class: 'danger',
        onclick: async (e) => {
          if (!confirm('Revoke the consent of app ' + c.AppId + '?')) return;
          await busy(e.target, async () => {
            try { await api('DELETE', base(ctx) + '/consents/' + seg(c.AppId)); await load(); } catch (err) { replace(notice, errorBox(err)); }
          });
        },
      }, 'Revoke') },
    ], cs, { id: 'consents', row: (c) => ({ dataset: { app: c.AppId } }), empty: 'No consents: open an admin-consent URL to grant one.' }));
  };
  replace(main, h('h1', null, 'Consents'), notice, list);
  await load();
}

// orgRelsView lists organization relationships.
export async function orgRelsView(main, ctx) {
  const os = await api('GET', base(ctx) + '/orgrels');
  if (!ctx.live()) return;
  replace(main, h('h1', null, 'Organization relationships'), table([
    { title: 'Name', get: (o) => o.Name },
    { title: 'DomainNames', get: (o) => (o.DomainNames || []).map((d) => h('div', null, h('code', null, d))) },
    { title: 'Enabled', get: (o) => String(o.Enabled) },
    { title: 'MailboxMoveEnabled', get: (o) => String(o.MailboxMoveEnabled) },
    { title: 'MailboxMoveCapability', get: (o) => tags(o.MailboxMoveCapability) },
    { title: 'OAuthApplicationId', get: (o) => (o.OAuthApplicationId ? h('code', null, o.OAuthApplicationId) : '') },
    { title: 'MailboxMovePublishedScopes', get: (o) => tags(o.MailboxMovePublishedScopes) },
  ], os, { id: 'orgrels', row: (o) => ({ dataset: { name: o.Name } }), empty: 'No organization relationships.' }));
}

// checksTable renders an endpoint test: one line per check.
export function checksTable(r) {
  return h('div', { class: 'card endpoint-test' },
    h('p', null, 'Result: ', badge(r.Result), ' ', r.Message || ''),
    table([
      { title: 'Name', get: (c) => c.Name },
      { title: 'Result', get: (c) => badge(c.Result) },
      { title: 'Code', get: (c) => (c.Code ? h('code', null, c.Code) : '') },
      { title: 'Message', get: (c) => c.Message },
    ], r.Checks || [], { id: 'checks', row: (c) => ({ dataset: { check: c.Name, result: c.Result } }) }));
}

// endpointsView lists migration endpoints and tests them
// (Test-MigrationServerAvailability).
export async function endpointsView(main, ctx) {
  const es = await api('GET', base(ctx) + '/endpoints');
  if (!ctx.live()) return;
  const out = h('div', { id: 'endpoint-test' });
  const mailbox = h('input', { id: 'test-mailbox', placeholder: 'user01@fabrikam.example (optional)', autocomplete: 'off' });
  const test = (e) => async (ev) => busy(ev.target, async () => {
    replace(out, h('p', { class: 'muted' }, 'Testing ', e.Name, '\u2026'));
    try {
      const body = mailbox.value.trim() ? { TestMailbox: mailbox.value.trim() } : {};
      replace(out, h('h2', null, 'Test of ', e.Name), checksTable(await api('POST', base(ctx) + '/endpoints/' + seg(e.Name) + '/test', body)));
    } catch (err) { replace(out, errorBox(err)); }
  });
  replace(main, h('h1', null, 'Migration endpoints'),
    h('div', { class: 'toolbar' }, h('div', null, h('label', { for: 'test-mailbox' }, 'Test mailbox'), h('br'), mailbox)),
    table([
      { title: 'Name', get: (e) => e.Name },
      { title: 'Type', get: (e) => e.EndpointType },
      { title: 'RemoteServer', get: (e) => h('code', null, e.RemoteServer) },
      { title: 'RemoteTenant', get: (e) => e.RemoteTenant },
      { title: 'ApplicationId', get: (e) => h('code', null, e.ApplicationId) },
      { title: 'Max migrations', cls: 'num', get: (e) => String(e.MaxConcurrentMigrations) },
      { title: 'Max incremental', cls: 'num', get: (e) => String(e.MaxConcurrentIncrementalSyncs) },
      { title: '', get: (e) => h('button', { type: 'button', class: 'test', onclick: test(e) }, 'Test') },
    ], es, { id: 'endpoints', row: (e) => ({ dataset: { name: e.Name } }), empty: 'No migration endpoints.' }),
    out);
}
