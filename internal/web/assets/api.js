// Client of the JSON admin API (/api/v1/...). The web admin holds no rule
// of its own: every read and change goes through these calls, with the
// admin token the user signed in with.

const KEY = 'tenantferry.adminToken';

// token returns the signed-in admin token ('' when signed out).
export function token() {
  return sessionStorage.getItem(KEY) || '';
}

// setToken stores the token for this tab only ('' signs out).
export function setToken(t) {
  if (t) sessionStorage.setItem(KEY, t);
  else sessionStorage.removeItem(KEY);
}

// A sign-in link (/ui/#token=TOKEN, printed by `demo`) stores the token for
// this tab, then takes it out of the address bar and the history.
if (location.hash.startsWith('#token=')) {
  setToken(decodeURIComponent(location.hash.slice('#token='.length)));
  history.replaceState(null, '', location.pathname + location.search + '#/');
}

// APIError is a coded error reply of the API: an RFC 9457 problem
// (application/problem+json) whose detail is the message, with the
// extension members Code, Hint and Object.
export class APIError extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.Message)) || 'HTTP ' + status);
    this.status = status;
    this.code = (body && body.Code) || 'HTTP' + status;
    this.hint = (body && body.Hint) || '';
    this.object = (body && body.Object) || '';
  }
}

// seg URI-encodes path segments and joins them.
export function seg(...parts) {
  return parts.map((p) => encodeURIComponent(p)).join('/');
}

// api calls the admin API: method, path below /api/v1 (already encoded with
// seg), an optional JSON body, and an optional token (default: signed-in).
export async function api(method, path, body, tok) {
  const headers = { Accept: 'application/json' };
  const t = tok === undefined ? token() : tok;
  if (t) headers.Authorization = 'Bearer ' + t;
  const init = { method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch('/api/v1/' + path, init);
  } catch (e) {
    throw new APIError(0, { Code: 'ServerUnreachable', detail: 'the server did not answer (' + e.message + ')', Hint: 'check that tenantferry serve is running' });
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (_) {
    if (!res.ok) throw new APIError(res.status, { Code: 'HTTP' + res.status, detail: text.slice(0, 300) });
    throw new APIError(res.status, { Code: 'InvalidReply', detail: 'the server sent a reply that is not JSON' });
  }
  if (!res.ok) throw new APIError(res.status, data);
  // Lists come a page at a time (docs/api.md, Lists): fetch the rest.
  const next = method === 'GET' && Array.isArray(data) ? res.headers.get('X-Next-Cursor') : null;
  if (next) return data.concat(await api(method, withCursor(path, next), body, tok));
  return data;
}

// withCursor returns a list path asking for the page at cursor, in the
// largest pages the server gives.
function withCursor(path, cursor) {
  const [p, q] = path.split('?');
  const params = new URLSearchParams(q || '');
  params.set('limit', '1000');
  params.set('cursor', cursor);
  return p + '?' + params.toString();
}

// apiPage reads one page of a list (path may carry limit, search and
// cursor): {items, next}, next the cursor of the following page ('' after
// the last), for the lists the admin pages through ("Load more").
export async function apiPage(path) {
  const headers = { Accept: 'application/json' };
  if (token()) headers.Authorization = 'Bearer ' + token();
  let res;
  try {
    res = await fetch('/api/v1/' + path, { method: 'GET', headers, cache: 'no-store', credentials: 'omit', redirect: 'error' });
  } catch (e) {
    throw new APIError(0, { Code: 'ServerUnreachable', detail: 'the server did not answer (' + e.message + ')', Hint: 'check that tenantferry serve is running' });
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) {
    throw new APIError(res.status, { Code: res.ok ? 'InvalidReply' : 'HTTP' + res.status, detail: res.ok ? 'the server sent a reply that is not JSON' : text.slice(0, 300) });
  }
  if (!res.ok) throw new APIError(res.status, data);
  return { items: data || [], next: res.headers.get('X-Next-Cursor') || '' };
}
