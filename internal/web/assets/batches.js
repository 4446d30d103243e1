// Migration batches: list, create from a CSV, commands, the live batch page
// (polls the users every second) and the per-user report.
import { h, replace, route, table, props, errorBox, fmtTime, fmtBytes, field, busy, badge } from './dom.js';
import { api, seg } from './api.js';

// PollInterval is how often the batch page refreshes, in milliseconds.
const PollInterval = 1000;

function batchPath(ctx, name) {
  return 'tenants/' + seg(ctx.tenant) + '/batches' + (name === undefined ? '' : '/' + seg(name));
}

// actions renders the batch commands; done(result|error) reports back.
function actions(ctx, b, done) {
  const approve = h('input', { type: 'checkbox', class: 'approve', id: 'approve-' + b.Name });
  const run = (action, confirmText) => async (e) => {
    if (confirmText && !confirm(confirmText)) return;
    await busy(e.target, async () => {
      try {
        const body = action === 'complete' ? { ApproveSkippedItems: approve.checked } : undefined;
        done(await api('POST', batchPath(ctx, b.Name) + '/' + action, body), null, action);
      } catch (err) { done(null, err, action); }
    });
  };
  const btn = (action, title, cls, confirmText) => h('button', { type: 'button', class: cls, dataset: { action }, onclick: run(action, confirmText) }, title);
  return h('div', { class: 'actions batch-actions' },
    btn('start', 'Start'), btn('stop', 'Stop'), btn('sync-now', 'Sync now'),
    btn('complete', 'Complete', 'primary'),
    h('label', { class: 'check', for: approve.id }, approve, 'approve skipped items'),
    btn('remove', 'Remove', 'danger', 'Remove batch ' + b.Name + '? Its history and reports stay queryable.'));
}

// batchesView lists the tenant's batches and creates new ones.
export async function batchesView(main, ctx) {
  const notice = h('div', { id: 'batch-notice' });
  const list = h('div');
  const load = async () => {
    const bs = await api('GET', batchPath(ctx));
    if (!ctx.live()) return;
    replace(list, table([
      { title: 'Name', get: (b) => h('a', { href: route('t', ctx.tenant, 'batches', b.Name) }, b.Name) },
      { title: 'Status', get: (b) => badge(b.Status) },
      { title: 'Endpoint', get: (b) => b.Endpoint },
      { title: 'Target delivery domain', get: (b) => b.TargetDeliveryDomain },
      { title: 'Total', cls: 'num', get: (b) => String(b.TotalCount) },
      { title: 'Synced', cls: 'num', get: (b) => String(b.SyncedCount) },
      { title: 'Finalized', cls: 'num', get: (b) => String(b.FinalizedCount) },
      { title: 'Failed', cls: 'num', get: (b) => String(b.FailedCount) },
      { title: 'Created', get: (b) => fmtTime(b.CreationDateTime) },
      { title: '', get: (b) => actions(ctx, b, (r, err, action) => {
        replace(notice, err ? errorBox(err) : h('div', { class: 'notice' }, 'Batch ', b.Name, ': ', action, ' accepted; status ', r.Status, '.'));
        load().catch((e) => replace(notice, errorBox(e)));
      }) },
    ], bs, { id: 'batches', row: (b) => ({ dataset: { batch: b.Name, status: b.Status } }), empty: 'No migration batches.' }));
  };
  replace(main, h('h1', null, 'Migration batches'), notice, list, h('h2', { class: 'spaced' }, 'New batch'), await createForm(ctx, notice));
  await load();
}

// createForm builds the batch create form (the fields of `batch create`).
async function createForm(ctx, notice) {
  let endpoints = [];
  let tenant = null;
  try {
    [endpoints, tenant] = await Promise.all([api('GET', 'tenants/' + seg(ctx.tenant) + '/endpoints'), api('GET', 'tenants/' + seg(ctx.tenant))]);
  } catch (err) {
    replace(notice, errorBox(err));
  }
  const name = h('input', { id: 'batch-name', placeholder: 'wave1', autocomplete: 'off' });
  const ep = h('select', { id: 'batch-endpoint' }, endpoints.map((e) => h('option', { value: e.Name }, e.Name + ' (' + e.RemoteTenant + ')')));
  const csv = h('input', { id: 'batch-csv', type: 'file', accept: '.csv,text/csv' });
  const tdd = h('input', { id: 'batch-tdd', placeholder: tenant ? tenant.InitialDomain : 'fabrikam.tenantferry.test', autocomplete: 'off' });
  const autoStart = h('input', { id: 'batch-autostart', type: 'checkbox', checked: true });
  const autoComplete = h('input', { id: 'batch-autocomplete', type: 'checkbox' });
  const btn = h('button', { id: 'batch-create', class: 'primary', type: 'submit' }, 'Create batch');
  return h('form', {
    class: 'grid card', id: 'batch-form',
    onsubmit: async (e) => {
      e.preventDefault();
      await busy(btn, async () => {
        try {
          const file = csv.files && csv.files[0];
          const text = file ? await file.text() : '';
          const b = await api('POST', batchPath(ctx), {
            Name: name.value.trim(), Endpoint: ep.value, Csv: text, TargetDeliveryDomain: tdd.value.trim(),
            AutoStart: autoStart.checked, AutoComplete: autoComplete.checked,
          });
          location.hash = route('t', ctx.tenant, 'batches', b.Name);
        } catch (err) { replace(notice, errorBox(err)); }
      });
    },
  }, field('Name', name), field('Endpoint', ep),
  field('CSV file (EmailAddress column)', csv), field('Target delivery domain', tdd),
  h('span'), h('label', { class: 'check', for: autoStart.id }, autoStart, 'Start automatically (auto-start)'),
  h('span'), h('label', { class: 'check', for: autoComplete.id }, autoComplete, 'Complete automatically (auto-complete)'),
  h('div', { class: 'actions' }, btn));
}

function progress(u) {
  const pct = Math.max(0, Math.min(100, Number(u.PercentComplete) || 0));
  const cls = u.Status === 'Failed' ? 'progress failed' : (pct >= 100 || /^(Synced|Completed)/.test(u.Status) ? 'progress done' : 'progress');
  return h('div', { class: cls }, h('progress', { max: '100', value: String(pct) }, pct + '%'), h('span', { class: 'pct' }, pct + '%'));
}

// usersTable renders the users of a batch with their progress.
function usersTable(ctx, batch, us) {
  return table([
    { title: 'EmailAddress', get: (u) => h('a', { href: route('t', ctx.tenant, 'batches', batch, 'users', u.EmailAddress) }, u.EmailAddress) },
    { title: 'Status', cls: 'status', get: (u) => badge(u.Status) },
    { title: 'StatusDetail', cls: 'detail', get: (u) => u.StatusDetail || '' },
    { title: 'Progress', get: progress },
    { title: 'Items', cls: 'num items', get: (u) => u.ItemsSynced + ' / ' + u.ItemsTotal + (u.ItemsSkipped ? ' (' + u.ItemsSkipped + ' skipped)' : '') },
    { title: 'Transferred', cls: 'num', get: (u) => fmtBytes(u.BytesTransferred) + ' / ' + fmtBytes(u.BytesTotal) },
    { title: 'Consistency', get: (u) => badge(u.DataConsistencyScore) },
    { title: 'Error', cls: 'err', get: (u) => (u.Error ? h('code', { title: u.Error.Message }, u.Error.Code) : '') },
  ], us, {
    id: 'batch-users',
    row: (u) => ({ dataset: { user: u.EmailAddress, status: u.Status, percent: String(u.PercentComplete) } }),
    empty: 'No users in this batch.',
  });
}

function summary(b) {
  const stat = (k, v) => h('div', { class: 'stat' }, h('div', { class: 'v' }, String(v)), h('div', { class: 'k' }, k));
  return h('div', { class: 'summary', id: 'batch-summary' },
    h('div', { class: 'stat' }, h('div', { class: 'v', id: 'batch-status' }, badge(b.Status)), h('div', { class: 'k' }, 'Status')),
    stat('Total', b.TotalCount), stat('Active', b.ActiveCount), stat('Synced', b.SyncedCount),
    stat('Finalized', b.FinalizedCount), stat('Failed', b.FailedCount), stat('Stopped', b.StoppedCount));
}

// batchPage shows one batch live: summary, commands and per-user progress,
// refreshed every second while the page is open.
export async function batchPage(main, ctx, name) {
  const b = await api('GET', batchPath(ctx, name));
  if (!ctx.live()) return;
  const notice = h('div', { id: 'batch-notice' });
  const head = h('div', null, summary(b));
  const users = h('div');
  const pollErr = h('div');
  const stamp = h('span', { class: 'live', id: 'batch-updated' }, 'live');
  const info = props([['Endpoint', b.Endpoint], ['TargetDeliveryDomain', b.TargetDeliveryDomain], ['AutoStart', String(b.AutoStart)],
    ['AutoComplete', String(b.AutoComplete)], ['IncrementalSyncInterval', b.IncrementalSyncInterval], ['Created', fmtTime(b.CreationDateTime)]], 'batch-props');
  replace(main, h('h1', null, 'Batch ', b.Name, ' ', stamp), notice, head,
    actions(ctx, b, (r, err, action) => {
      replace(notice, err ? errorBox(err) : h('div', { class: 'notice' }, 'Batch ', r.Name, ': ', action, ' accepted.'));
      if (!err && action === 'remove') location.hash = route('t', ctx.tenant, 'batches');
    }),
    h('h2', { class: 'spaced' }, 'Users'), pollErr, users, h('h3', null, 'Settings'), h('div', { class: 'card' }, info));
  // Refresh on a timer that re-arms after each answer, so requests never pile
  // up; it stops when the user leaves the page.
  const tick = async () => {
    if (!ctx.live()) return;
    try {
      const [nb, us] = await Promise.all([api('GET', batchPath(ctx, name)), api('GET', batchPath(ctx, name) + '/users')]);
      if (!ctx.live()) return;
      replace(head, summary(nb));
      replace(users, usersTable(ctx, name, us));
      replace(pollErr);
      stamp.textContent = 'live \u00b7 updated ' + new Date().toLocaleTimeString();
    } catch (err) {
      if (ctx.live()) replace(pollErr, errorBox(err));
    }
    if (ctx.live()) setTimeout(tick, PollInterval);
  };
  await tick();
}

// userReport shows one user's statistics, skipped items and report log.
export async function userReport(main, ctx, batch, addr) {
  const rs = await api('GET', batchPath(ctx, batch) + '/report?user=' + encodeURIComponent(addr));
  if (!ctx.live()) return;
  const r = Array.isArray(rs) ? rs[0] : rs;
  if (!r) throw Object.assign(new Error('no report for ' + addr), { code: 'NoReport' });
  const stats = props([
    ['Status', badge(r.Status)], ['StatusDetail', r.StatusDetail], ['PercentComplete', r.PercentComplete + '%'],
    ['Items', r.ItemsSynced + ' / ' + r.ItemsTotal + ' (' + r.ItemsSkipped + ' skipped)'],
    ['BytesTransferred', fmtBytes(r.BytesTransferred) + ' / ' + fmtBytes(r.BytesTotal)],
    ['DataConsistencyScore', badge(r.DataConsistencyScore)], ['SourceAddress', r.SourceAddress],
    ['ExchangeGuid', h('code', null, r.ExchangeGuid)], ['InitialSyncDuration', r.InitialSyncDuration],
    ['LastSuccessfulSyncTime', fmtTime(r.LastSuccessfulSyncTime)], ['LockWindow', r.LockWindow],
    ['Error', r.Error ? r.Error.Code + ': ' + r.Error.Message : ''],
  ], 'report-stats');
  replace(main, h('h1', null, addr), h('p', null, h('a', { href: route('t', ctx.tenant, 'batches', batch) }, '\u2190 batch ', batch)),
    h('div', { class: 'card' }, stats),
    h('h2', { class: 'spaced' }, 'Skipped items'),
    table([
      { title: 'Mailbox', get: (s) => s.Mailbox }, { title: 'Folder', get: (s) => s.Folder }, { title: 'Subject', get: (s) => s.Subject },
      { title: 'Date', get: (s) => fmtTime(s.Date) }, { title: 'Size', cls: 'num', get: (s) => fmtBytes(s.Size) }, { title: 'Reason', get: (s) => s.Reason },
    ], r.SkippedItems || [], { id: 'skipped', empty: 'No skipped items.' }),
    h('h2', { class: 'spaced' }, 'Report'),
    table([
      { title: 'Time', get: (l) => fmtTime(l.Time) }, { title: 'Level', get: (l) => l.Level }, { title: 'Message', get: (l) => l.Message },
    ], r.Report || [], { id: 'report-log', empty: 'The report is empty.' }));
}
