// The operator's tokens (#/tokens, operator only): the Tokens page of
// tokens.js over /api/v1/admin-tokens. Listed with name, short id,
// creation and expiry (never the token), issued with a name and an expiry
// (shown once, with a copy button), revoked after a confirmation; the
// server refuses to revoke the last one (LastOperatorToken), shown as a
// coded error.
import { h } from './dom.js';
import { tokenPage } from './tokens.js';

// operatorTokensView lists, issues and revokes the operator's tokens.
export async function operatorTokensView(main, ctx) {
  await tokenPage(main, ctx, { path: 'admin-tokens', title: 'Operator tokens', owner: 'the operator', dflt: 'operator' });
  const h1 = main.querySelector('h1');
  if (h1) h1.after(h('p', { class: 'muted' }, 'Operator tokens act on every tenant. The last one cannot be revoked: issue another first.'));
}
