// Migration batches: list, create with the wizard (wizard.js), commands (only those the
// batch's or user's state allows, the cutover confirmed by typing the
// batch's name), the live batch page (polls every second until the batch is
// Completed or Removed; throughput and ETA) and the per-user report.
import { h, replace, route, table, props, errorBox, fmtTime, fmtBytes, busy, badge } from './dom.js';
import { api, seg } from './api.js';
import { batchWizard } from './wizard.js';
import {
  allowedBatchActions, allowedUserActions, actionTitle, confirmBatch, runUserAction, downloadReport, finalStatus, rate, eta, fmtDuration,
} from './batchactions.js';

// PollInterval is how often the batch page refreshes, in milliseconds.
const PollInterval = 1000;

function batchPath(ctx, name) {
  return 'tenants/' + seg(ctx.tenant) + '/batches' + (name === undefined ? '' : '/' + seg(name));
}

// actions renders the commands batch b allows in its Status (none on a
// Removed batch); done(result|error, action) reports back. Complete asks
// for the batch's name to be typed, Remove for a confirmation.
function actions(ctx, b, done, extra) {
  const run = (action) => async (e) => {
    const btn = e.currentTarget;
    const body = await confirmBatch(b, action);
    if (!body) return;
    await busy(btn, async () => {
      try {
        done(await api('POST', batchPath(ctx, b.Name) + '/' + action, Object.keys(body).length ? body : undefined), null, action);
      } catch (err) { done(null, err, action); }
    });
  };
  const cls = { complete: 'primary', remove: 'danger' };
  return h('div', { class: 'actions batch-actions', dataset: { status: b.Status } },
    allowedBatchActions(b.Status).map((action) => h('button', { type: 'button', class: cls[action], dataset: { action }, onclick: run(action) }, actionTitle(action))),
    extra || null);
}

// menu is a compact per-row menu: a summary that opens the row's buttons
// (open tells whether it starts open; toggled(open) follows it).
function menu(title, buttons, open, toggled) {
  if (buttons.length === 0) return h('span', { class: 'muted' }, '\u2014');
  const d = h('details', { class: 'menu' }, h('summary', null, title), h('div', { class: 'actions' }, buttons));
  d.open = !!open;
  d.addEventListener('toggle', () => toggled && toggled(d.open));
  return d;
}

// batchesView lists the tenant's batches and creates new ones. An unknown
// tenant (or any failure to list) is one error, without the form.
export async function batchesView(main, ctx) {
  const notice = h('div', { id: 'batch-notice' });
  const list = h('div');
  const draw = (bs) => {
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
      { title: '', cls: 'row-actions', get: (b) => (allowedBatchActions(b.Status).length === 0 ? h('span', { class: 'muted' }, '\u2014')
        : menu('Actions', [actions(ctx, b, (r, err, action) => {
          replace(notice, err ? errorBox(err) : h('div', { class: 'notice' }, 'Batch ', b.Name, ': ', action, ' accepted; status ', r.Status, '.'));
          load().catch((e) => replace(notice, errorBox(e)));
        })])) },
    ], bs, { id: 'batches', row: (b) => ({ dataset: { batch: b.Name, status: b.Status } }), empty: 'No migration batches.' }));
  };
  const load = async () => {
    const bs = await api('GET', batchPath(ctx));
    if (ctx.live()) draw(bs);
  };
  // The list first: when it fails (an unknown tenant), the page shows that
  // one error and no form.
  draw(await api('GET', batchPath(ctx)));
  if (!ctx.live()) return;
  const form = await batchWizard(ctx, notice);
  if (!ctx.live()) return;
  replace(main, h('h1', null, 'Migration batches'), notice, list, h('h2', { class: 'spaced' }, 'New migration batch'), form);
}

function progress(u) {
  const pct = Math.max(0, Math.min(100, Number(u.PercentComplete) || 0));
  const cls = u.Status === 'Failed' ? 'progress failed' : (pct >= 100 || /^(Synced|Completed)/.test(u.Status) ? 'progress done' : 'progress');
  return h('div', { class: cls }, h('progress', { max: '100', value: String(pct) }, pct + '%'), h('span', { class: 'pct' }, pct + '%'));
}

// usersTable renders the users of a batch with their progress, rate and
// the commands each allows (a menu per row); ui holds the open menu across
// refreshes and onAction(user, action, result|null, error) reports back.
function usersTable(ctx, b, us, ui, onAction) {
  const userMenu = (u) => {
    const acts = allowedUserActions(u, b.Status);
    const buttons = acts.map((action) => h('button', {
      type: 'button', class: action === 'remove' ? 'danger' : null, dataset: { action },
      onclick: async (e) => {
        const btn = e.currentTarget;
        await busy(btn, async () => {
          try {
            const r = await runUserAction(ctx.tenant, u, action);
            if (r) onAction(u, action, r, null);
          } catch (err) { onAction(u, action, null, err); }
        });
      },
    }, actionTitle(action)));
    return menu('Actions', buttons, ui.open === u.EmailAddress, (open) => {
      if (open) ui.open = u.EmailAddress;
      else if (ui.open === u.EmailAddress) ui.open = null;
    });
  };
  return table([
    { title: 'EmailAddress', get: (u) => h('a', { href: route('t', ctx.tenant, 'batches', b.Name, 'users', u.EmailAddress) }, u.EmailAddress) },
    { title: 'Status', cls: 'status', get: (u) => badge(u.Status) },
    { title: 'StatusDetail', cls: 'detail', get: (u) => u.StatusDetail || '' },
    { title: 'Progress', get: progress },
    { title: 'Items', cls: 'num items', get: (u) => u.ItemsSynced + ' / ' + u.ItemsTotal + (u.ItemsSkipped ? ' (' + u.ItemsSkipped + ' skipped)' : '') },
    { title: 'Transferred', cls: 'num', get: (u) => fmtBytes(u.BytesTransferred) + ' / ' + fmtBytes(u.BytesTotal) },
    { title: 'Rate', cls: 'num rate', get: (u) => (/Syncing|Validating/.test(u.Status) ? rate(u.CurrentBytesPerSecond) : (u.AverageBytesPerSecond ? rate(u.AverageBytesPerSecond) + ' avg' : '')) },
    { title: 'Consistency', get: (u) => badge(u.DataConsistencyScore) },
    { title: 'Error', cls: 'err', get: (u) => (u.Error ? h('code', { title: u.Error.Message }, u.Error.Code) : '') },
    { title: '', cls: 'row-actions', get: userMenu },
  ], us, {
    id: 'batch-users',
    row: (u) => ({ dataset: { user: u.EmailAddress, status: u.Status, percent: String(u.PercentComplete) } }),
    empty: 'No users in this batch.',
  });
}

// summary shows a batch's counts, its throughput and, while it syncs, the
// estimated time left (eta: the bytes left over the current rate).
function summary(b, users) {
  const stat = (k, v, id) => h('div', { class: 'stat', id }, h('div', { class: 'v' }, String(v)), h('div', { class: 'k' }, k));
  const syncing = b.Status === 'Syncing' || users.some((u) => /Syncing|Validating/.test(u.Status));
  const left = syncing ? eta(b, users) : null;
  return h('div', { class: 'summary', id: 'batch-summary' },
    h('div', { class: 'stat' }, h('div', { class: 'v', id: 'batch-status' }, badge(b.Status)), h('div', { class: 'k' }, 'Status')),
    stat('Total', b.TotalCount), stat('Active', b.ActiveCount), stat('Synced', b.SyncedCount),
    stat('Finalized', b.FinalizedCount), stat('Failed', b.FailedCount), stat('Stopped', b.StoppedCount),
    stat('Items synced', b.ItemsSynced || 0, 'batch-items'), stat('Transferred', fmtBytes(b.BytesTransferred), 'batch-bytes'),
    h('div', { class: 'stat', id: 'batch-throughput' },
      h('div', { class: 'v' }, rate(b.BytesPerSecond)),
      h('div', { class: 'k' }, 'Throughput \u00b7 ', (Number(b.ItemsPerSecond) || 0).toFixed(1), ' items/s')),
    syncing ? stat('ETA', left === null ? 'estimating\u2026' : fmtDuration(left), 'batch-eta') : null);
}

// batchPage shows one batch live: summary, the commands its state allows,
// the report download and per-user progress and commands, refreshed every
// second while the page is open and the batch can still change.
export async function batchPage(main, ctx, name) {
  let b = await api('GET', batchPath(ctx, name));
  if (!ctx.live()) return;
  let users = [];
  const ui = { open: null };
  const notice = h('div', { id: 'batch-notice' });
  const head = h('div', null, summary(b, users));
  const bar = h('div');
  const usersBox = h('div');
  const pollErr = h('div');
  const stamp = h('span', { class: 'live', id: 'batch-updated' }, 'live');
  let polling = false;
  const info = props([['Endpoint', b.Endpoint], ['TargetDeliveryDomain', b.TargetDeliveryDomain], ['AutoStart', String(b.AutoStart)],
    ['AutoComplete', String(b.AutoComplete)], ['IncrementalSyncInterval', b.IncrementalSyncInterval], ['Created', fmtTime(b.CreationDateTime)]], 'batch-props');
  const report = h('button', {
    type: 'button', id: 'batch-report-csv',
    onclick: async (e) => busy(e.currentTarget, async () => {
      try { await downloadReport(ctx.tenant, name); } catch (err) { replace(notice, errorBox(err)); }
    }),
  }, 'Download report (CSV)');
  const drawBar = () => replace(bar, actions(ctx, b, (r, err, action) => {
    replace(notice, err ? errorBox(err) : h('div', { class: 'notice' }, 'Batch ', r.Name, ': ', action, ' accepted.'));
    if (!err && action === 'remove') { location.hash = route('t', ctx.tenant, 'batches'); return; }
    if (r) { b = r; drawBar(); }
    refresh();
  }, report));
  const draw = () => {
    replace(head, summary(b, users));
    replace(usersBox, usersTable(ctx, b, users, ui, (u, action, r, err) => {
      replace(notice, err ? errorBox(err) : h('div', { class: 'notice' }, u.EmailAddress, ': ', action, ' accepted; status ', r.Status, '.'));
      ui.open = null;
      refresh();
    }));
  };
  const fetchAll = async () => {
    const [nb, us] = await Promise.all([api('GET', batchPath(ctx, name)), api('GET', batchPath(ctx, name) + '/users')]);
    if (!ctx.live()) return;
    const changed = nb.Status !== b.Status;
    b = nb;
    users = us;
    if (changed) drawBar();
    draw();
    replace(pollErr);
  };
  // Refresh on a timer that re-arms after each answer, so requests never pile
  // up; it stops when the user leaves the page or the batch is Completed or
  // Removed (a command restarts it).
  const tick = async () => {
    if (!ctx.live()) { polling = false; return; }
    try {
      await fetchAll();
      stamp.textContent = 'live \u00b7 updated ' + new Date().toLocaleTimeString();
    } catch (err) {
      if (ctx.live()) replace(pollErr, errorBox(err));
    }
    if (ctx.live() && !finalStatus(b.Status)) {
      setTimeout(tick, PollInterval);
      return;
    }
    polling = false;
    if (ctx.live()) {
      stamp.className = 'live stopped';
      stamp.textContent = 'batch ' + b.Status + ' \u00b7 not refreshing';
    }
  };
  const refresh = () => {
    if (polling) return;
    polling = true;
    stamp.className = 'live';
    tick();
  };
  drawBar();
  replace(main, h('h1', null, 'Batch ', b.Name, ' ', stamp), notice, head, bar,
    h('h2', { class: 'spaced' }, 'Users'), pollErr, usersBox, h('h3', null, 'Settings'), h('div', { class: 'card' }, info));
  polling = true;
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
