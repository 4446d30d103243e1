// Apps and consents of the web admin (docs/architecture.md §1 steps 1 and
// 2): register a migration app, add a client secret (its text is shown
// once, with a Copy button), delete an app, build the admin-consent URL the
// source tenant's admin opens, and list or revoke this tenant's consents.
// Every change goes through the admin API; the server decides.
import { h, replace, table, errorBox, fmtTime, field, busy, ask } from './dom.js';
import { api, seg } from './api.js';

function base(ctx) {
  return 'tenants/' + seg(ctx.tenant);
}

const tags = (xs) => (xs || []).map((x) => h('span', { class: 'tag' }, x));

// Secret lifetimes offered when adding a client secret (Go durations, as
// the API takes them; the first is the server's default).
const lifetimes = [['', '180 days (default)'], ['2160h', '90 days'], ['8760h', '1 year'], ['17520h', '2 years']];

// copyText copies the text of el to the clipboard; where the clipboard is
// unavailable or refused, it selects the text for the admin to copy.
// status says which happened (data-copied="clipboard" or "selected").
export async function copyText(el, status) {
  const text = el.textContent;
  try {
    if (!navigator.clipboard || !window.isSecureContext) throw new Error('no clipboard');
    await navigator.clipboard.writeText(text);
    replace(status, 'Copied to the clipboard.');
    status.dataset.copied = 'clipboard';
  } catch (_) {
    const range = document.createRange();
    range.selectNodeContents(el);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    replace(status, 'The text is selected: press Ctrl+C (\u2318C on a Mac) to copy it.');
    status.dataset.copied = 'selected';
  }
}

// copyBox shows text (a secret or a URL) with a Copy button: the text is
// #ID, the button #ID-copy, the outcome #ID-status.
export function copyBox(id, text) {
  const code = h('code', { id, class: 'secret' }, text);
  const status = h('span', { class: 'muted copy-status', id: id + '-status', role: 'status' });
  const btn = h('button', { type: 'button', id: id + '-copy', onclick: () => copyText(code, status) }, 'Copy');
  return h('div', { class: 'copybox' }, code, h('div', { class: 'actions' }, btn, status));
}

// appsView registers migration apps, adds their client secrets (shown
// once), deletes them, and builds admin-consent URLs for a source tenant.
export async function appsView(main, ctx) {
  const notice = h('div', { id: 'apps-notice' });
  const once = h('div', { id: 'secret-box' });
  const list = h('div');
  let apps = await api('GET', base(ctx) + '/apps');
  if (!ctx.live()) return;
  const builder = consentBuilder(ctx);
  const load = async (select) => {
    apps = await api('GET', base(ctx) + '/apps');
    draw(select);
  };
  const addSecret = (a) => async (e) => {
    const btn = e.currentTarget;
    const life = h('select', { id: 'secret-expires' }, lifetimes.map(([v, t]) => h('option', { value: v }, t)));
    const ok = await ask({ title: 'Add a client secret', ok: 'Add secret',
      text: 'A new client secret for ' + a.DisplayName + '. Its text is shown once, right after it is created: copy it then.',
      extra: h('div', null, h('label', { for: life.id }, 'Expires after'), h('br'), life) });
    if (!ok) return;
    replace(once);
    await busy(btn, async () => {
      try {
        const body = life.value ? { Expires: life.value } : undefined;
        const sc = await api('POST', base(ctx) + '/apps/' + seg(a.AppId) + '/secrets', body);
        replace(once, h('div', { class: 'notice secret-once', id: 'secret-once', dataset: { app: sc.AppId, key: sc.KeyId } },
          h('strong', null, 'Client secret of ', a.DisplayName, ' (expires ', fmtTime(sc.Expires), ')'),
          h('p', { class: 'warn-text' }, 'Copy it now: it is not shown again. Only its first characters (', sc.Hint, '\u2026) are kept, to recognise it. Give it to the migration endpoint (Secret).'),
          copyBox('secret-text', sc.SecretText),
          h('div', { class: 'actions' }, h('button', { type: 'button', id: 'secret-dismiss', onclick: () => replace(once) }, 'I have copied it'))));
        replace(notice);
        await load(a.AppId);
      } catch (err) { replace(notice, errorBox(err)); }
    });
  };
  const del = (a) => async (e) => {
    const btn = e.currentTarget;
    const ok = await ask({ title: 'Delete app', danger: true, ok: 'Delete app',
      text: 'Delete app ' + a.DisplayName + ' (' + a.AppId + ') and its client secrets? Endpoints using it stop working, and the consents source tenants gave it no longer help.' });
    if (!ok) return;
    await busy(btn, async () => {
      try {
        await api('DELETE', base(ctx) + '/apps/' + seg(a.AppId));
        replace(notice, h('div', { class: 'notice', id: 'app-deleted' }, 'App ', a.DisplayName, ' deleted.'));
        if (once.firstChild && once.firstChild.dataset.app === a.AppId) replace(once);
        await load();
      } catch (err) { replace(notice, errorBox(err)); }
    });
  };
  const draw = (select) => {
    replace(list, table([
      { title: 'Name', get: (a) => a.DisplayName },
      { title: 'AppId', get: (a) => h('code', null, a.AppId) },
      { title: 'Permissions', get: (a) => tags(a.Permissions) },
      { title: 'Issuer', get: (a) => h('code', null, a.Issuer) },
      { title: 'Client secrets', get: (a) => ((a.Secrets || []).length ? a.Secrets.map((s) => h('div', null, h('code', null, s.Hint), ' expires ', fmtTime(s.Expires)))
        : h('span', { class: 'muted' }, 'none yet')) },
      { title: 'Created', get: (a) => fmtTime(a.WhenCreated) },
      { title: '', cls: 'row-actions', get: (a) => h('div', { class: 'actions' },
        h('button', { type: 'button', dataset: { action: 'add-secret' }, onclick: addSecret(a) }, 'Add client secret'),
        h('button', { type: 'button', class: 'danger', dataset: { action: 'delete' }, onclick: del(a) }, 'Delete')) },
    ], apps, { id: 'apps', row: (a) => ({ dataset: { app: a.AppId, name: a.DisplayName } }), empty: 'No app registrations: register the migration app below.' }));
    builder.setApps(apps, select);
  };
  const form = createForm(ctx, notice, async (a) => {
    replace(notice, h('div', { class: 'notice', id: 'app-created', dataset: { app: a.AppId } }, 'App ', h('strong', null, a.DisplayName),
      ' registered: AppId ', h('code', null, a.AppId), '. Next: add a client secret, then send the admin-consent URL below to the source tenant\u2019s admin.'));
    await load(a.AppId);
  });
  draw();
  replace(main, h('h1', null, 'Apps'),
    h('p', { class: 'muted' }, 'The migration app is the identity this tenant\u2019s migration endpoints use at the source server (step 1). The source tenant\u2019s admin consents to it (step 2).'),
    notice, once, list, h('h2', { class: 'spaced' }, 'New migration app'), form, builder.node);
}

// createForm is the "New migration app" form (app create); created(app) is
// called with the new app.
function createForm(ctx, notice, created) {
  const name = h('input', { id: 'app-name', placeholder: 'Mailbox migration', autocomplete: 'off', dataset: { flag: 'name' } });
  const perm = h('input', { id: 'app-permission', type: 'checkbox', checked: true, disabled: true, dataset: { flag: 'permission' } });
  const btn = h('button', { id: 'app-create', class: 'primary', type: 'submit' }, 'Register app');
  const form = h('form', {
    class: 'grid card', id: 'app-form',
    onsubmit: async (e) => {
      e.preventDefault();
      await busy(btn, async () => {
        try {
          const a = await api('POST', base(ctx) + '/apps', { Name: name.value.trim(), Permissions: ['Mailbox.Migration'] });
          name.value = '';
          await created(a);
        } catch (err) { replace(notice, errorBox(err, form)); }
      });
    },
  }, field('Display name', name),
  h('span', { class: 'label' }, 'Permission'), h('label', { class: 'check', for: perm.id }, perm, 'Mailbox.Migration (application)'),
  h('div', { class: 'actions' }, btn));
  return form;
}

// consentBuilder is the admin-consent URL builder: app, source server and
// source tenant give the URL the source tenant's admin opens. setApps(apps,
// select) refreshes the app choice (select: the AppId to preselect).
function consentBuilder(ctx) {
  const out = h('div', { id: 'consent-url' });
  const app = h('select', { id: 'cu-app', dataset: { flag: 'app' } });
  const server = h('input', { id: 'cu-server', placeholder: 'https://source.example', value: location.origin, autocomplete: 'off', dataset: { flag: 'source-server' } });
  const tenant = h('input', { id: 'cu-tenant', placeholder: 'contoso.tenantferry.test', autocomplete: 'off', dataset: { flag: 'source-tenant' } });
  const btn = h('button', { type: 'submit', id: 'cu-build', class: 'primary' }, 'Get consent URL');
  const form = h('form', {
    class: 'grid', id: 'cu-form',
    onsubmit: async (e) => {
      e.preventDefault();
      replace(out);
      await busy(btn, async () => {
        try {
          const q = new URLSearchParams({ 'source-server': server.value.trim(), 'source-tenant': tenant.value.trim() });
          const r = await api('GET', base(ctx) + '/apps/' + seg(app.value) + '/consent-url?' + q.toString());
          replace(out, h('div', { class: 'notice', id: 'consent-url-ready' },
            'Send this URL to the source tenant\u2019s admin. They open it signed in on the source server\u2019s web admin (or with their admin token), review the app and accept.',
            copyBox('consent-url-text', r.ConsentUrl),
            h('a', { href: r.ConsentUrl, rel: 'noreferrer', target: '_blank', id: 'consent-url-open' }, 'Open the consent page')));
        } catch (err) { replace(out, errorBox(err, form)); }
      });
    },
  }, field('App', app), field('Source server', server), field('Source tenant', tenant),
  h('span'), h('p', { class: 'hint' }, 'The source server\u2019s public URL and the source tenant\u2019s initial domain (or its ID).'),
  h('div', { class: 'actions' }, btn));
  const node = h('section', { id: 'consent-builder' }, h('h2', { class: 'spaced' }, 'Admin consent URL'), h('div', { class: 'card' }, form, out));
  const setApps = (apps, select) => {
    const keep = select || app.value;
    replace(app, apps.map((a) => h('option', { value: a.AppId, selected: a.AppId === keep }, a.DisplayName + ' (' + a.AppId + ')')));
    if (select && app.value !== select) replace(out);
    node.hidden = apps.length === 0;
  };
  return { node, setApps };
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
          const btn = e.currentTarget;
          if (!await ask({ title: 'Revoke consent', danger: true, ok: 'Revoke', text: 'Revoke the consent of app ' + c.AppId + '? Its moves out of this tenant stop.' })) return;
          await busy(btn, async () => {
            try { await api('DELETE', base(ctx) + '/consents/' + seg(c.AppId)); await load(); } catch (err) { replace(notice, errorBox(err)); }
          });
        },
      }, 'Revoke') },
    ], cs, { id: 'consents', row: (c) => ({ dataset: { app: c.AppId } }), empty: 'No consents: open an admin-consent URL to grant one.' }));
  };
  replace(main, h('h1', null, 'Consents'), notice, list, h('h2', { class: 'spaced' }, 'Review a consent request'), openForm());
  await load();
}

// openForm opens an admin-consent URL (sent by the target tenant's admin)
// in this tab, where this server's sign-in holds: the consent page then
// accepts with it. A URL of another server is refused (open it there).
function openForm() {
  const input = h('input', { id: 'consent-open-url', placeholder: location.origin + '/contoso.tenantferry.test/adminconsent?client_id=…', autocomplete: 'off' });
  const out = h('div');
  const btn = h('button', { type: 'submit', id: 'consent-open' }, 'Review');
  const form = h('form', {
    class: 'grid card', id: 'consent-open-form',
    onsubmit: (e) => {
      e.preventDefault();
      let u = null;
      try { u = new URL(input.value.trim()); } catch (_) { /* reported below */ }
      if (!u || !/^\/[^/]+\/adminconsent$/.test(u.pathname)) {
        replace(out, errorBox({ code: 'InvalidConsentUrl', message: 'this is not an admin-consent URL', hint: 'paste the whole URL the target tenant\u2019s admin sent (it ends in /adminconsent?client_id=\u2026)' }));
        return;
      }
      if (u.origin !== location.origin) {
        replace(out, errorBox({ code: 'OtherServer', message: 'the URL is for the server ' + u.origin + ', not this one', hint: 'open it there, signed in as that server\u2019s tenant admin' }));
        return;
      }
      location.assign(u.pathname + u.search);
    },
  }, field('Admin-consent URL', input), h('span'),
  h('p', { class: 'hint' }, 'Paste the URL the target tenant\u2019s admin sent you: the consent page opens in this tab, signed in as you.'),
  h('div', { class: 'actions' }, btn));
  return [out, form];
}
