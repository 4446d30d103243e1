// Admin tokens of a tenant (#/t/TENANT/tokens): listed with their name,
// short id, creation and expiry (never the token: the server keeps only
// its hash), issued with a name and an expiry (the token is shown once,
// with a copy button) and revoked after a confirmation.
import { h, replace, table, errorBox, fmtTime, field, busy, ask } from './dom.js';
import { api, seg } from './api.js';

// Expiries offered when issuing (Go durations; '' never expires).
const expiries = [['24h', '1 day'], ['168h', '7 days'], ['720h', '30 days'], ['2160h', '90 days'], ['8760h', '1 year'], ['', 'Never']];

// tokensView lists, issues and revokes ctx.tenant's admin tokens.
export async function tokensView(main, ctx) {
  await tokenPage(main, ctx, { path: 'tenants/' + seg(ctx.tenant) + '/admin-tokens', title: 'Admin tokens', owner: ctx.tenant, dflt: 'admin' });
}

// tokenPage is the Tokens page of o.path (an admin-tokens collection of
// the API): o.title heads it, o.owner names whose tokens they are in the
// once-shown notice, o.dflt is the server's default token name. The
// operator's page (optokens.js) uses it too.
export async function tokenPage(main, ctx, o) {
  const path = o.path;
  const notice = h('div', { id: 'token-notice' });
  const list = h('div');
  const load = async () => {
    const ts = await api('GET', path);
    if (!ctx.live()) return;
    replace(list, table([
      { title: 'Name', get: (t) => [t.Name, t.Current ? h('span', { class: 'tag' }, 'this session') : null] },
      { title: 'Id', cls: 'tid', get: (t) => h('code', { title: t.Id }, t.Id.slice(0, 8)) },
      { title: 'Created', cls: 'created', get: (t) => fmtTime(t.WhenCreated) },
      { title: 'Expires', cls: 'expires', get: (t) => (t.ExpiresAt ? fmtTime(t.ExpiresAt) : h('span', { class: 'muted' }, 'never')) },
      { title: '', cls: 'row-actions', get: (t) => h('button', {
        type: 'button', class: 'danger', dataset: { action: 'revoke' },
        onclick: async (e) => {
          const btn = e.currentTarget;
          const ok = await ask({
            title: 'Revoke token ' + t.Name, ok: 'Revoke token', danger: true,
            text: 'Whoever holds token ' + t.Name + ' (' + t.Id.slice(0, 8) + ') loses access at once' + (t.Current ? ', including this session' : '') + '. This cannot be undone.',
          });
          if (!ok) return;
          await busy(btn, async () => {
            try {
              await api('DELETE', path + '/' + seg(t.Id));
              replace(notice, h('div', { class: 'notice', id: 'token-revoked' }, 'Token ', t.Name, ' revoked.'));
              await load();
            } catch (err) { replace(notice, errorBox(err)); }
          });
        },
      }, 'Revoke') },
    ], ts, { id: 'tokens', row: (t) => ({ dataset: { token: t.Id, name: t.Name } }), empty: 'No admin tokens.' }));
  };
  const name = h('input', { id: 'token-name', placeholder: 'ci', autocomplete: 'off', dataset: { flag: 'name' } });
  const exp = h('select', { id: 'token-expires', dataset: { flag: 'expires' } },
    expiries.map(([v, title]) => h('option', { value: v, selected: v === '720h' }, title)));
  const btn = h('button', { id: 'token-issue', class: 'primary', type: 'submit' }, 'Issue token');
  const form = h('form', {
    class: 'grid card', id: 'token-form',
    onsubmit: async (e) => {
      e.preventDefault();
      await busy(btn, async () => {
        try {
          const r = await api('POST', path, { Name: name.value.trim(), Expires: exp.value });
          const secret = h('span', { class: 'secret' }, r.AdminToken);
          const copy = h('button', {
            type: 'button', id: 'token-copy',
            onclick: async () => {
              try { await navigator.clipboard.writeText(r.AdminToken); copy.textContent = 'Copied'; } catch (_) { copy.textContent = 'Select and copy the token'; }
            },
          }, 'Copy');
          replace(notice, h('div', { class: 'notice', id: 'token-created' },
            h('p', null, 'Token ', h('strong', null, name.value.trim() || o.dflt), ' for ', o.owner,
              r.AdminTokenExpiresAt ? ', expires ' + fmtTime(r.AdminTokenExpiresAt) : ', never expires',
              '. It is shown once: copy it now.'),
            h('div', { class: 'secret-box' }, secret, copy)));
          name.value = '';
          await load();
        } catch (err) { replace(notice, errorBox(err, form)); }
      });
    },
  }, field('Name', name), field('Expires', exp), h('div', { class: 'actions' }, btn));
  replace(main, h('h1', null, o.title), notice, list, h('h2', { class: 'spaced' }, 'Issue a token'), form);
  await load();
}
