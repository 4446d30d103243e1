// Which commands a batch and its users allow in their state, the confirmed
// commands (a typed confirmation for the cutover), and the CSV report.
//
// The rules mirror internal/migration (StartBatch, StopBatch, ..., StopUser,
// ResyncUser): a button the server would refuse with a conflict is not shown.
// The server stays the judge: a refusal is still shown as its coded error.
import { h, ask, fmtBytes } from './dom.js';
import { api, seg } from './api.js';

// batchActions are the commands each batch Status allows. A Removed batch
// allows none (its report stays downloadable).
const batchActions = {
  Created: ['start', 'remove'],
  Stopped: ['start', 'remove'],
  Syncing: ['stop', 'sync-now', 'complete'],
  Synced: ['stop', 'sync-now', 'complete', 'remove'],
  SyncedWithErrors: ['start', 'stop', 'sync-now', 'complete', 'remove'],
  Failed: ['start', 'stop', 'remove'],
  Completing: [],
  Completed: ['remove'],
  CompletedWithErrors: ['start', 'remove'],
  Removed: [],
};

// allowedBatchActions returns the commands a batch in status allows.
export function allowedBatchActions(status) {
  return batchActions[status] || ['start', 'stop', 'sync-now', 'complete', 'remove'];
}

// finalStatus is true for a batch that no longer changes by itself: its
// page stops refreshing.
export function finalStatus(status) {
  return status === 'Removed' || status === 'Completed';
}

// batchStarted is true when per-user start, complete and resync are allowed.
function batchStarted(status) {
  return !['Created', 'Stopped', 'Removed'].includes(status);
}

// allowedUserActions returns the migrationuser commands a user u of a
// batch in batchStatus allows.
export function allowedUserActions(u, batchStatus) {
  if (batchStatus === 'Removed') return [];
  const s = u.Status;
  const started = batchStarted(batchStatus);
  const out = [];
  const is = (...states) => states.includes(s);
  if (is('Queued', 'Validating', 'Syncing', 'IncrementalSyncing', 'Synced', 'Failed')) out.push('stop');
  if (started && is('Queued', 'Failed', 'Stopped', 'Synced')) out.push('start');
  if (started && is('Queued', 'Validating', 'Syncing', 'IncrementalSyncing', 'Synced')) out.push('complete');
  const needsApproval = u.ItemsSkipped > 0 || (u.Error && u.Error.Code === 'SkippedItemsNeedApproval');
  if (needsApproval && !is('Completing', 'Completed', 'CompletedWithWarnings')) out.push('approve-skipped-items');
  if (started && is('Queued', 'Failed', 'Stopped', 'Synced')) out.push('resync');
  if (is('Queued', 'Synced', 'Failed', 'Stopped', 'Completed', 'CompletedWithWarnings')) out.push('remove');
  return out;
}

const titles = {
  start: 'Start', stop: 'Stop', 'sync-now': 'Sync now', complete: 'Complete', remove: 'Remove',
  'approve-skipped-items': 'Approve skipped items', resync: 'Resync',
};

// actionTitle is the button title of a command.
export function actionTitle(action) {
  return titles[action] || action;
}

// confirmBatch asks before the batch commands that need it and returns
// the request body to send, or null when the admin cancelled. Complete
// (the irreversible cutover) needs the batch's name typed; Remove a
// confirmation.
export async function confirmBatch(b, action) {
  if (action === 'complete') {
    const approve = h('input', { type: 'checkbox', class: 'approve', id: 'confirm-approve', checked: !!b.ApproveSkippedItems });
    const ok = await ask({
      title: 'Complete batch ' + b.Name,
      text: 'Completing cuts the users over to this tenant: their source mailboxes become mail users. This cannot be undone.',
      ok: 'Complete batch', typed: b.Name,
      extra: h('p', null, h('label', { class: 'check', for: approve.id }, approve, 'approve skipped items')),
    });
    return ok ? { ApproveSkippedItems: approve.checked } : null;
  }
  if (action === 'remove') {
    const ok = await ask({ title: 'Remove batch ' + b.Name, text: 'Remove batch ' + b.Name + '? Its history and reports stay queryable.', ok: 'Remove batch', danger: true });
    return ok ? {} : null;
  }
  return {};
}

// confirmUser asks before the per-user commands that need it (remove and
// complete) and returns the request body, or null when cancelled.
export async function confirmUser(u, action) {
  if (action === 'complete') {
    const ok = await ask({
      title: 'Complete ' + u.EmailAddress,
      text: 'Completing cuts ' + u.EmailAddress + ' over to this tenant now; the rest of the batch stays. This cannot be undone.',
      ok: 'Complete user', typed: u.EmailAddress,
    });
    return ok ? {} : null;
  }
  if (action === 'remove') {
    const ok = await ask({ title: 'Remove ' + u.EmailAddress, text: 'Take ' + u.EmailAddress + ' out of the batch? Staged content of an unfinished move is deleted; its history stays.', ok: 'Remove user', danger: true });
    return ok ? {} : null;
  }
  return {};
}

// runUserAction runs a confirmed per-user command; it resolves to the
// user's view, or null when the admin cancelled.
export async function runUserAction(tenant, u, action) {
  const body = await confirmUser(u, action);
  if (!body) return null;
  return api('POST', 'tenants/' + seg(tenant) + '/migration-users/' + seg(u.EmailAddress, action), Object.keys(body).length ? body : undefined);
}

// csvCell renders a report value as the CLI's CSV does (internal/cli
// format): null empty, objects {k=v; ...}, arrays {a, b}.
function csvCell(v) {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return '{' + v.map(csvCell).join(', ') + '}';
  if (typeof v === 'object') return '{' + Object.keys(v).map((k) => k + '=' + csvCell(v[k])).join('; ') + '}';
  return String(v);
}

// csvQuote quotes a field as Go's encoding/csv does.
function csvQuote(s) {
  if (s === '' || !(/[",\r\n]/.test(s) || s[0] === ' ' || s[0] === '\t' || s === '\\.')) return s;
  return '"' + s.replace(/"/g, '""') + '"';
}

// reportCSV builds the CSV of `batch report --format csv` from the JSON
// report: one row per user, the statistics in the report's order, then
// SkippedItemCount, SkippedItemList and LastLogLine.
export function reportCSV(reports) {
  const rows = reports.map((r) => {
    const skipped = r.SkippedItems || [];
    const log = r.Report || [];
    const row = {};
    for (const k of Object.keys(r)) if (k !== 'SkippedItems' && k !== 'Report') row[k] = r[k];
    row.SkippedItemCount = String(skipped.length);
    row.SkippedItemList = skipped.map((s) => csvCell(s.Folder) + '/' + csvCell(s.Subject) + ' (' + csvCell(s.Size) + ' bytes, ' + csvCell(s.Reason) + ')').join('; ');
    const last = log[log.length - 1];
    row.LastLogLine = last ? csvCell(last.Level) + ': ' + csvCell(last.Message) : '';
    return row;
  });
  const cols = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  const line = (cells) => cells.map(csvQuote).join(',') + '\n';
  return line(cols) + rows.map((r) => line(cols.map((c) => csvCell(r[c])))).join('');
}

// downloadReport fetches a batch's report and saves it as NAME-report.csv.
export async function downloadReport(tenant, name) {
  const reports = await api('GET', 'tenants/' + seg(tenant) + '/batches/' + seg(name) + '/report');
  const blob = new Blob([reportCSV(reports || [])], { type: 'text/csv' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.setAttribute('href', url);
  a.setAttribute('download', name + '-report.csv');
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// rate formats a throughput in bytes per second.
export function rate(bps) {
  return fmtBytes(bps) + '/s';
}

// fmtDuration formats seconds as "1h 02m", "3m 04s" or "12s".
export function fmtDuration(sec) {
  sec = Math.max(0, Math.round(sec));
  const hh = Math.floor(sec / 3600);
  const mm = Math.floor((sec % 3600) / 60);
  const ss = sec % 60;
  const two = (n) => String(n).padStart(2, '0');
  if (hh > 0) return hh + 'h ' + two(mm) + 'm';
  if (mm > 0) return mm + 'm ' + two(ss) + 's';
  return ss + 's';
}

// eta is the remaining time of a batch's users: the bytes left over the
// current aggregate rate (the users' current rates added up; the batch's
// average while none reports one); null when it cannot be told.
export function eta(b, users) {
  let total = 0;
  let done = 0;
  let current = 0;
  for (const u of users) {
    total += Number(u.BytesTotal) || 0;
    done += Number(u.BytesTransferred) || 0;
    if (/Syncing|Validating/.test(u.Status)) current += Number(u.CurrentBytesPerSecond) || 0;
  }
  const r = current > 0 ? current : Number(b.BytesPerSecond) || 0;
  if (r <= 0 || total <= done) return null;
  return (total - done) / r;
}
