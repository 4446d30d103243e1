// tenantferry web admin: sign-in, layout, hash router, tenants and the
// tenant overview. The other views live in recipients.js, prepare.js,
// apps.js, endpoints.js, orgrels.js and batches.js.
//
// Routes (location.hash, segments URI-encoded):
//   #/tenants                          tenants (operator)
//   #/t/TENANT                         overview and accepted domains
//   #/t/TENANT/mailboxes[/ID]          mailboxes (and one mailbox)
//   #/t/TENANT/mailusers[/ID]          mail users
//   #/t/TENANT/groups[/ID]             groups
//   #/t/TENANT/apps | consents
//   #/t/TENANT/orgrels[/NAME] | endpoints[/NAME]
//   #/t/TENANT/batches[/BATCH[/users/ADDRESS]]
//   #/t/TENANT/prepare                 prepare mail users (recipients.js, prepare.js)
//   #/t/TENANT/tokens                  admin tokens
//   #/tokens                           operator tokens (optokens.js)
import { h, replace, route, table, props, errorBox, fmtTime, field, busy } from './dom.js';
import { api, seg, token, setToken } from './api.js';
import { recipientList, recipientDetail } from './recipients.js';
import { prepareView } from './prepare.js';
import { appsView, consentsView } from './apps.js';
import { endpointsView, endpointPage } from './endpoints.js';
import { orgRelsView, orgRelPage } from './orgrels.js';
import { batchesView, batchPage, userReport } from './batches.js';
import { tokensView } from './tokens.js';
import { operatorTokensView } from './optokens.js';

const root = document.getElementById('app');
let whoami = null;
let generation = 0;

const sections = [
  ['', 'Overview'], ['mailboxes', 'Mailboxes'], ['mailusers', 'Mail users'], ['groups', 'Groups'],
  ['apps', 'Apps'], ['consents', 'Consents'], ['orgrels', 'Organization relationships'],
  ['endpoints', 'Endpoints'], ['prepare', 'Prepare mail users'], ['batches', 'Migration batches'], ['tokens', 'Tokens'],
];

// parts returns the decoded segments of the hash route.
function parts() {
  return location.hash.replace(/^#\/?/, '').split('/').filter((s) => s !== '').map((s) => {
    try { return decodeURIComponent(s); } catch (_) { return s; }
  });
}

function signOut() {
  setToken('');
  whoami = null;
  location.hash = '';
  render();
}

function signIn(err) {
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', placeholder: 'operator or tenant admin token' });
  const btn = h('button', { id: 'signin', class: 'primary', type: 'submit' }, 'Sign in');
  const msg = h('div', null, err ? errorBox(err) : null);
  const form = h('form', {
    id: 'signin-form',
    onsubmit: async (e) => {
      e.preventDefault();
      const tok = input.value.trim();
      await busy(btn, async () => {
        try {
          whoami = await api('GET', 'whoami', undefined, tok);
          setToken(tok);
          render();
        } catch (e2) {
          replace(msg, errorBox(e2));
        }
      });
    },
  }, msg, h('label', { for: 'token' }, 'Admin token'), input,
  h('p', { class: 'hint' }, 'The operator token (DATA/operator.token) or a tenant admin token. It is kept in this tab only and sent as a Bearer token to the admin API.'),
  h('div', { class: 'actions' }, btn));
  replace(root, h('header', { class: 'top' }, h('span', { class: 'brand' }, 'tenantferry'), h('span', { class: 'muted' }, 'web admin')),
    h('main', { class: 'view' }, h('div', { class: 'card signin' }, h('h1', null, 'Sign in'), form)));
  input.focus();
}

function header() {
  const who = whoami.Operator ? 'Operator' : 'Tenant admin · ' + ((whoami.Tenant && whoami.Tenant.Name) || '');
  return h('header', { class: 'top' },
    h('a', { class: 'brand', href: '#/' }, 'tenantferry'),
    h('span', { class: 'muted', id: 'whoami' }, who),
    h('span', { class: 'spacer' }),
    h('button', { id: 'signout', type: 'button', onclick: signOut }, 'Sign out'));
}

function tabs(tenant, active) {
  return h('nav', { class: 'tabs', id: 'tabs' }, sections.map(([s, title]) => h('a', {
    href: s ? route('t', tenant, s) : route('t', tenant), class: s === active ? 'active' : null, dataset: { section: s || 'overview' },
  }, title)));
}

// render draws the view of the current route.
export async function render() {
  const my = ++generation;
  if (!token()) return signIn();
  if (!whoami) {
    try {
      whoami = await api('GET', 'whoami');
    } catch (e) {
      if (e.status === 401) setToken('');
      return signIn(e);
    }
    if (my !== generation) return;
  }
  const p = parts();
  if (p[0] !== 't' || !p[1]) {
    if (!whoami.Operator) {
      location.replace(route('t', whoami.Tenant.Name));
      return;
    }
  }
  const main = h('main', { class: 'view', id: 'view' });
  const live = () => my === generation && document.body.contains(main);
  const ctx = { main, live, rerender: render };
  let nav = null;
  let crumbs = null;
  let view;
  if (p[0] === 't' && p[1]) {
    const [, tenant, section = '', id, sub, addr] = p;
    ctx.tenant = tenant;
    nav = tabs(tenant, section);
    crumbs = h('div', { class: 'crumbs' }, whoami.Operator ? [h('a', { href: route('tenants') }, 'Tenants'), ' / '] : null,
      h('a', { href: route('t', tenant) }, tenant), section ? [' / ', h('a', { href: route('t', tenant, section) }, sectionTitle(section))] : null,
      id ? [' / ', id] : null, addr ? [' / ', addr] : null);
    view = pickView(section, id, sub, addr);
  } else {
    view = p[0] === 'tokens' ? operatorTokensView : tenantsView;
    if (whoami.Operator) {
      nav = h('nav', { class: 'tabs', id: 'op-tabs' }, [['tenants', 'Tenants'], ['tokens', 'Operator tokens']].map(([s, title]) =>
        h('a', { href: route(s), class: (p[0] === 'tokens') === (s === 'tokens') ? 'active' : null, dataset: { section: s } }, title)));
    }
  }
  replace(root, header(), nav, crumbs, main);
  try {
    await view(main, ctx);
  } catch (e) {
    if (live()) main.prepend(errorBox(e));
  }
}

function sectionTitle(s) {
  const f = sections.find(([k]) => k === s);
  return f ? f[1] : s;
}

function pickView(section, id, sub, addr) {
  switch (section) {
    case '': return overviewView;
    case 'mailboxes': case 'mailusers': case 'groups':
      return id ? (m, c) => recipientDetail(m, c, section, id) : (m, c) => recipientList(m, c, section);
    case 'apps': return appsView;
    case 'consents': return consentsView;
    case 'orgrels': return id ? (m, c) => orgRelPage(m, c, id) : orgRelsView;
    case 'endpoints': return id ? (m, c) => endpointPage(m, c, id) : endpointsView;
    case 'prepare': return prepareView;
    case 'tokens': return tokensView;
    case 'batches':
      if (id && sub === 'users' && addr) return (m, c) => userReport(m, c, id, addr);
      return id ? (m, c) => batchPage(m, c, id) : batchesView;
    default:
      return async () => { throw Object.assign(new Error('no page ' + section), { code: 'NoSuchPage' }); };
  }
}

// tenantsView lists tenants and creates new ones (operator).
async function tenantsView(main) {
  const list = h('div');
  const notice = h('div', { id: 'tenant-notice' });
  const name = h('input', { id: 'new-tenant-name', placeholder: 'contoso', required: true, autocomplete: 'off' });
  const btn = h('button', { id: 'create-tenant', class: 'primary', type: 'submit' }, 'Create tenant');
  const load = async () => {
    const ts = await api('GET', 'tenants');
    replace(list, table([
      { title: 'Name', get: (t) => h('a', { href: route('t', t.Name) }, t.Name) },
      { title: 'Initial domain', get: (t) => t.InitialDomain },
      { title: 'Accepted domains', get: (t) => (t.Domains || []).map((d) => h('span', { class: 'tag' }, d)) },
      { title: 'Id', get: (t) => h('code', null, t.Id) },
      { title: 'Created', get: (t) => fmtTime(t.WhenCreated) },
      { title: '', get: (t) => h('div', { class: 'actions' }, h('button', {
        type: 'button', class: 'danger',
        onclick: async (e) => {
          if (!confirm('Delete tenant ' + t.Name + ' and everything in it?')) return;
          await busy(e.target, async () => {
            try { await api('DELETE', 'tenants/' + seg(t.Id)); await load(); } catch (err) { replace(notice, errorBox(err)); }
          });
        },
      }, 'Delete')) },
    ], ts, { id: 'tenants', row: (t) => ({ dataset: { tenant: t.Name } }), empty: 'No tenants yet: create the first one above.' }));
  };
  const form = h('form', {
    class: 'inline', id: 'create-tenant-form',
    onsubmit: async (e) => {
      e.preventDefault();
      await busy(btn, async () => {
        try {
          const t = await api('POST', 'tenants', { Name: name.value.trim() });
          replace(notice, h('div', { class: 'notice', id: 'tenant-created' }, 'Tenant ', h('strong', null, t.Name), ' created (', t.InitialDomain,
            '). Its admin token is shown once: ', h('span', { class: 'secret' }, t.AdminToken)));
          name.value = '';
          await load();
        } catch (err) {
          replace(notice, errorBox(err));
        }
      });
    },
  }, h('div', null, h('label', { for: 'new-tenant-name' }, 'Name'), h('br'), name), btn);
  replace(main, h('h1', null, 'Tenants'), notice, form, list);
  await load();
}

// overviewView shows a tenant and manages its accepted domains.
async function overviewView(main, ctx) {
  const t = ctx.tenant;
  const info = await api('GET', 'tenants/' + seg(t));
  if (!ctx.live()) return;
  const notice = h('div');
  const domains = h('div');
  const load = async () => {
    const ds = await api('GET', 'tenants/' + seg(t) + '/domains');
    replace(domains, table([
      { title: 'Domain', get: (d) => d.DomainName },
      { title: 'Default', get: (d) => (d.Default ? 'yes' : '') },
      { title: 'Status', get: (d) => d.Status },
      // A pending domain routes nothing until its TXT record is published
      // and verified (tenantferry domain verify) or the operator approves it.
      { title: 'TXT record to publish', get: (d) => (d.Status === 'Pending' && d.VerificationRecord
        ? h('code', null, d.VerificationRecord.Name + ' TXT "' + d.VerificationRecord.Value + '"') : '') },
      { title: '', get: (d) => (d.Default ? '' : h('button', {
        type: 'button', class: 'danger',
        onclick: async (e) => busy(e.target, async () => {
          try { await api('DELETE', 'tenants/' + seg(t, 'domains', d.DomainName)); await load(); } catch (err) { replace(notice, errorBox(err)); }
        }),
      }, 'Remove')) },
    ], ds, { id: 'domains' }));
  };
  const dom = h('input', { id: 'new-domain', placeholder: 'contoso.example', autocomplete: 'off' });
  const add = h('button', { type: 'submit' }, 'Add domain');
  const form = h('form', {
    class: 'inline',
    onsubmit: async (e) => {
      e.preventDefault();
      await busy(add, async () => {
        try { await api('POST', 'tenants/' + seg(t) + '/domains', { DomainName: dom.value.trim() }); dom.value = ''; replace(notice); await load(); } catch (err) { replace(notice, errorBox(err)); }
      });
    },
  }, h('div', null, field('Accepted domain', dom)), add);
  const tokenBtn = whoami.Operator ? h('button', {
    type: 'button', id: 'issue-token',
    onclick: async (e) => busy(e.target, async () => {
      try {
        const r = await api('POST', 'tenants/' + seg(t) + '/admin-tokens');
        replace(notice, h('div', { class: 'notice' }, 'New admin token for ', r.Name, ', shown once: ', h('span', { class: 'secret' }, r.AdminToken)));
      } catch (err) { replace(notice, errorBox(err)); }
    }),
  }, 'Issue admin token') : null;
  replace(main, h('h1', null, info.Name), notice,
    h('div', { class: 'card' }, props([['Name', info.Name], ['Id', h('code', null, info.Id)], ['Initial domain', info.InitialDomain], ['Created', fmtTime(info.WhenCreated)]], 'tenant-props'),
      tokenBtn ? h('div', { class: 'actions' }, tokenBtn) : null),
    h('h2', null, 'Accepted domains'), form, domains);
  await load();
}

window.addEventListener('hashchange', () => render());
render();
