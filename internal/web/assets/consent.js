// The admin-consent page (GET /{tenant}/adminconsent): the source tenant's
// admin reviews what the app asks for and grants it through the admin API
// (POST /api/v1/tenants/{tenant}/consents) with their own token, or with
// the token this tab is signed in with. The server decides; this page only
// shows the request and the answer.
import { h, replace, route, errorBox, fmtTime, busy } from './dom.js';
import { api, seg, token } from './api.js';

const main = document.getElementById('consent');
const req = {
  tenant: main.dataset.tenant || '',
  appId: main.dataset.appId || '',
  issuer: main.dataset.issuer || '',
  permissions: (main.dataset.permissions || '').split(',').filter((p) => p !== ''),
};
const input = document.getElementById('c-token');
const signedIn = document.getElementById('c-signed-in');
const result = document.getElementById('c-result');
const accept = document.getElementById('c-accept');
const cancel = document.getElementById('c-cancel');
// home is the signed-in admin's tenant name, for the link to its consents.
let home = req.tenant;

// isTenant reports whether tenant view t is the tenant the URL names (by
// name, ID or one of its domains).
function isTenant(t, ref) {
  const r = ref.toLowerCase();
  return !!t && [t.Name, t.Id, t.InitialDomain].concat(t.Domains || []).some((x) => (x || '').toLowerCase() === r);
}

// With a signed-in token, say whose it is (and when it is another tenant's
// admin, that Accept will be refused); a pasted token takes precedence.
async function showSignedIn() {
  if (!token()) return;
  try {
    const w = await api('GET', 'whoami');
    if (!w.Operator && !isTenant(w.Tenant, req.tenant)) {
      replace(signedIn, 'You are signed in as the admin of ', (w.Tenant && w.Tenant.Name) || 'another tenant', ', not of ', req.tenant,
        ': paste the admin token of ', req.tenant, ' below, or sign in as its admin.');
      signedIn.dataset.match = 'no';
    } else {
      const who = w.Operator ? 'the operator' : 'the admin of ' + w.Tenant.Name;
      replace(signedIn, 'You are signed in as ', who, '. Accept uses that token unless you paste another one below.');
      signedIn.dataset.match = 'yes';
      if (!w.Operator) home = w.Tenant.Name;
    }
    signedIn.hidden = false;
  } catch (_) { /* the stored token is stale: ask for one */ }
}

accept.addEventListener('click', () => busy(accept, async () => {
  const pasted = input.value.trim();
  const tok = pasted || token();
  if (!tok) {
    replace(result, errorBox({ code: 'AuthenticationRequired', message: 'no admin token was given', hint: 'paste the admin token of ' + req.tenant }));
    return;
  }
  const body = { AppId: req.appId, Issuer: req.issuer };
  if (req.permissions.length) body.Permissions = req.permissions;
  try {
    const c = await api('POST', 'tenants/' + seg(req.tenant) + '/consents', body, tok);
    replace(result, h('div', { class: 'success', id: 'c-granted', role: 'status' },
      h('strong', null, 'Consent granted.'), ' ', req.tenant, ' trusts app ', h('code', null, c.AppId), ' from issuer ', h('code', null, c.Issuer),
      ' with ', (c.Permissions || []).join(', '), ' (granted by ', c.GrantedBy, ', ', fmtTime(c.GrantedAt), ').'),
    pasted ? null : h('p', null, h('a', { href: '/ui/' + route('t', home, 'consents'), id: 'c-consents-link' }, 'See the consents of ', req.tenant)));
    accept.hidden = true;
    cancel.hidden = true;
    document.getElementById('c-auth').hidden = true;
  } catch (err) {
    replace(result, errorBox(err));
  }
}));

cancel.addEventListener('click', () => {
  replace(result, h('div', { class: 'notice', id: 'c-cancelled' }, 'No consent was granted. You can close this page.'));
  accept.hidden = true;
  cancel.hidden = true;
});

showSignedIn();
