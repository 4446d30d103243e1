// The "New migration batch" wizard (the EAC's flow): 1 name, endpoint and
// target delivery domain; 2 the users' CSV with a preview in which the
// server checks every row (POST .../batches/validate: the rules of batch
// create and of the move's start; nothing is written); 3 the schedule;
// 4 notification emails and limits; 5 review and Create, which stays
// disabled while any row fails. After creation it opens the batch's live
// page.
//
// Invariant: the wizard holds no rule of its own; every verdict is the
// server's, and Create sends the very body the preview checked.
import { h, replace, route, table, props, errorBox, field, busy, badge } from './dom.js';
import { api, seg } from './api.js';

const MiB = 1024 * 1024;

// rfc3339 turns a datetime-local value into an RFC 3339 time ('' stays '').
function rfc3339(v) {
  if (!v) return '';
  const d = new Date(v);
  return isNaN(d) ? v : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// count parses an optional count field: undefined when empty.
function count(input) {
  const v = input.value.trim();
  return v === '' ? undefined : Number(v);
}

function check(id, flag, checked) {
  return h('input', { id, type: 'checkbox', checked, dataset: { flag } });
}

// wizardInputs builds the wizard's inputs, each marked with the CLI flag
// it stands for (errors name the field: dom.js webText).
function wizardInputs(endpoints, domains) {
  // Step 1: the batch.
  const name = h('input', { id: 'batch-name', placeholder: 'wave1', autocomplete: 'off', dataset: { flag: 'name' } });
  const ep = h('select', { id: 'batch-endpoint', dataset: { flag: 'endpoint' } },
    endpoints.map((e) => h('option', { value: e.Name }, e.Name + ' (' + (e.RemoteTenant || e.Type || '') + ')')));
  const tdd = h('select', { id: 'batch-tdd', dataset: { flag: 'target-delivery-domain' } },
    domains.map((d) => h('option', { value: d.DomainName, disabled: d.Status === 'Pending' }, d.DomainName + (d.Status === 'Pending' ? ' (pending)' : ''))));
  // Step 2: the users.
  const file = h('input', { id: 'batch-csv', type: 'file', accept: '.csv,text/csv', dataset: { flag: 'csv' } });
  const text = h('textarea', { id: 'batch-csv-text', rows: '6', spellcheck: 'false', placeholder: 'EmailAddress\nuser01@fabrikam.example', dataset: { flag: 'csv' } });
  // Step 3: the schedule.
  const autoStart = check('batch-autostart', 'auto-start', true);
  const startAfter = h('input', { id: 'batch-start-after', type: 'datetime-local', dataset: { flag: 'start-after' } });
  const autoComplete = check('batch-autocomplete', 'auto-complete', false);
  const completeAfter = h('input', { id: 'batch-complete-after', type: 'datetime-local', dataset: { flag: 'complete-after' } });
  const interval = h('input', { id: 'batch-interval', placeholder: '24h', autocomplete: 'off', dataset: { flag: 'incremental-sync-interval' } });
  // Step 4: notifications and limits.
  const notify = h('input', { id: 'batch-notify', placeholder: 'it@fabrikam.example, ops@fabrikam.example', autocomplete: 'off', dataset: { flag: 'notification-emails' } });
  const reportIv = h('input', { id: 'batch-report-interval', placeholder: '0 (only when synced and completed)', autocomplete: 'off', dataset: { flag: 'report-interval' } });
  const large = h('input', { id: 'batch-large-limit', type: 'number', min: '-1', placeholder: 'unlimited', dataset: { flag: 'large-item-limit' } });
  const bad = h('input', { id: 'batch-bad-limit', type: 'number', min: '-1', placeholder: 'unlimited', dataset: { flag: 'bad-item-limit' } });
  const maxSize = h('input', { id: 'batch-max-size', type: 'number', min: '1', placeholder: '150', dataset: { flag: 'max-item-size' } });

  return { name, ep, tdd, file, text, autoStart, startAfter, autoComplete, completeAfter, interval, notify, reportIv, large, bad, maxSize };
}

// previewTable shows the server's verdict on each CSV row.
function previewTable(verdict) {
  const failing = verdict.Rows.filter((r) => r.Status !== 'OK').length;
  return [
    h('p', { id: 'batch-preview-summary', class: failing ? 'error-text' : 'muted', dataset: { valid: String(verdict.Valid) } },
      verdict.Rows.length + ' users; ', failing ? failing + ' with a problem: fix the CSV and validate again.' : 'every row is valid.'),
    table([
      { title: 'Line', cls: 'num', get: (r) => String(r.Line) },
      { title: 'EmailAddress', get: (r) => r.EmailAddress },
      { title: 'Result', cls: 'res', get: (r) => badge(r.Status === 'OK' ? 'Passed' : 'Failed') },
      { title: 'Problem', cls: 'detail', get: (r) => (r.Code ? [h('code', { class: 'code' }, r.Code), ' ', h('span', { class: 'msg' }, r.Message),
        r.Hint ? h('details', { class: 'fix' }, h('summary', null, 'How to fix'), h('span', { class: 'hint' }, r.Hint)) : null] : h('span', { class: 'muted' }, 'OK')) },
    ], verdict.Rows, { id: 'batch-preview-rows', row: (r) => ({ dataset: { line: String(r.Line), user: r.EmailAddress, status: r.Status, code: r.Code || '' } }) }),
  ];
}

// wizardPanes lays out the five steps' panes (f: wizardInputs; nav(i,
// extra) is step i's Back/Next bar).
function wizardPanes(f, preview, review, nav, validateBtn, create) {
  const { name, ep, tdd, file, text, autoStart, startAfter, autoComplete, completeAfter, interval, notify, reportIv, large, bad, maxSize } = f;
  return [
    h('div', { class: 'grid wizard-pane', id: 'wiz-step-1' }, field('Name', name), field('Migration endpoint', ep), field('Target delivery domain', tdd), h('span'), nav(0)),
    h('div', { class: 'wizard-pane', id: 'wiz-step-2' },
      h('div', { class: 'grid' }, field('CSV file', file), field('Or paste the CSV', text)),
      h('p', { class: 'hint' }, 'One user per line under an EmailAddress header: the target addresses (MailUsers stamped with mailuser prepare).'),
      preview, nav(1, validateBtn)),
    h('div', { class: 'grid wizard-pane', id: 'wiz-step-3' },
      h('span'), h('label', { class: 'check', for: autoStart.id }, autoStart, 'Start the batch automatically'),
      field('Start after', startAfter),
      h('span'), h('label', { class: 'check', for: autoComplete.id }, autoComplete, 'Complete the batch automatically'),
      field('Complete after', completeAfter), field('Incremental sync interval', interval), h('span'), nav(2)),
    h('div', { class: 'grid wizard-pane', id: 'wiz-step-4' },
      field('Notification emails', notify), field('Report interval', reportIv), field('Large item limit', large),
      field('Bad item limit', bad), field('Max item size (MiB)', maxSize), h('span'), nav(3)),
    h('div', { class: 'wizard-pane', id: 'wiz-step-5' }, review, nav(4, create))
  ];
}

// batchBody is the body of batch create (and of its check) from the
// wizard's inputs f and the CSV text.
function batchBody(f, csv) {
  const b = {
    Name: f.name.value.trim(), Endpoint: f.ep.value, Csv: csv, TargetDeliveryDomain: f.tdd.value,
    AutoStart: f.autoStart.checked, AutoComplete: f.autoComplete.checked,
    StartAfter: rfc3339(f.startAfter.value), CompleteAfter: rfc3339(f.completeAfter.value),
    IncrementalSyncInterval: f.interval.value.trim(), NotificationEmails: f.notify.value.trim(), ReportInterval: f.reportIv.value.trim(),
    LargeItemLimit: count(f.large), BadItemLimit: count(f.bad),
  };
  if (f.maxSize.value.trim() !== '') b.MaxItemSize = Math.round(Number(f.maxSize.value) * MiB);
  return b;
}

// reviewPairs lists the review step's settings of body b (users: the
// number of CSV rows the server checked).
function reviewPairs(f, b, users) {
  const when = (input) => (input.value ? new Date(input.value).toLocaleString() : '');
  const limit = (n) => (n === undefined ? 'unlimited' : String(n));
  return [
    ['Name', b.Name], ['Endpoint', b.Endpoint], ['TargetDeliveryDomain', b.TargetDeliveryDomain], ['Users', String(users)],
    ['AutoStart', String(b.AutoStart)], ['StartAfter', when(f.startAfter)],
    ['AutoComplete', String(b.AutoComplete)], ['CompleteAfter', when(f.completeAfter)],
    ['IncrementalSyncInterval', b.IncrementalSyncInterval || '24h (default)'], ['NotificationEmails', b.NotificationEmails],
    ['ReportInterval', b.ReportInterval], ['LargeItemLimit', limit(b.LargeItemLimit)], ['BadItemLimit', limit(b.BadItemLimit)],
    ['MaxItemSize', f.maxSize.value.trim() === '' ? '150 MiB (default)' : f.maxSize.value.trim() + ' MiB'],
  ];
}

// batchWizard builds the wizard for ctx's tenant; notice shows errors of
// the page.
export async function batchWizard(ctx, notice) {
  const t = 'tenants/' + seg(ctx.tenant);
  let endpoints = [];
  let domains = [];
  try {
    [endpoints, domains] = await Promise.all([api('GET', t + '/endpoints'), api('GET', t + '/domains')]);
  } catch (err) {
    replace(notice, errorBox(err));
  }
  const wnotice = h('div', { id: 'wizard-notice' });
  const f = wizardInputs(endpoints, domains);
  const { file, text } = f;
  const preview = h('div', { id: 'batch-preview' });

  let csv = '';
  let verdict = null; // the server's BatchValidation of body() as it was
  let checkedBody = '';
  const body = () => batchBody(f, csv);

  const steps = ['Batch', 'Users', 'Schedule', 'Notifications and limits', 'Review'];
  let wizard = null;
  const indicator = h('ol', { class: 'wizard-steps', id: 'wizard-steps' });
  const panes = [];
  const create = h('button', { id: 'batch-create', class: 'primary', type: 'button' }, 'Create');
  const review = h('div', { id: 'batch-review' });
  const rowsFailing = () => !verdict || !verdict.Valid;

  const show = (i) => {
    panes.forEach((p, k) => { p.hidden = k !== i; });
    replace(indicator, steps.map((s, k) => h('li', { class: k === i ? 'active' : (k < i ? 'done' : null), dataset: { step: String(k + 1) } }, s)));
    if (i === 4) drawReview();
    if (wizard) wizard.dataset.step = String(i + 1);
  };

  const drawPreview = () => replace(preview, verdict ? previewTable(verdict) : null);

  // validate asks the server about the batch and every row of the CSV.
  const validate = async () => {
    replace(wnotice);
    const b = body();
    verdict = null;
    drawPreview();
    try {
      verdict = await api('POST', t + '/batches/validate', b);
      checkedBody = JSON.stringify(b);
    } catch (err) {
      replace(wnotice, errorBox(err, wizard));
    }
    drawPreview();
    return verdict;
  };
  const readFile = async () => {
    const f = file.files && file.files[0];
    if (f) { csv = await f.text(); text.value = csv; }
  };

  const nav = (i, extra) => h('div', { class: 'actions' },
    i > 0 ? h('button', { type: 'button', id: 'wiz-back-' + (i + 1), onclick: () => show(i - 1) }, 'Back') : null,
    extra || null,
    i < 4 ? h('button', { type: 'button', class: 'primary', id: 'wiz-next-' + (i + 1), onclick: (e) => next(e.currentTarget, i) }, 'Next') : null);

  // next leaves step i: the batch's fields and the CSV are checked by the
  // server when leaving steps 1, 2 and 4.
  const next = async (btn, i) => busy(btn, async () => {
    if (i === 1) {
      csv = text.value;
      const v = await validate();
      if (!v || !v.Valid) return;
    } else if (i === 0 || i === 3) {
      if (i === 0) csv = text.value;
      if (csv.trim() !== '' || i === 3) {
        const v = await validate();
        if (!v) return;
      }
    }
    show(i + 1);
  });
  file.addEventListener('change', () => readFile().then(() => validate()).catch((err) => replace(wnotice, errorBox(err, wizard))));

  const validateBtn = h('button', { type: 'button', id: 'batch-validate', onclick: (e) => busy(e.currentTarget, async () => { csv = text.value; await validate(); }) }, 'Validate');
  panes.push(...wizardPanes(f, preview, review, nav, validateBtn, create));

  const drawReview = () => {
    const b = body();
    replace(review, props(reviewPairs(f, b, verdict ? verdict.Rows.length : 0), 'batch-review-props'), rowsFailing() ? h('p', { class: 'error-text', id: 'batch-review-blocked' }, 'Some users have a problem: go back to Users.') : null);
    create.disabled = rowsFailing() || JSON.stringify(b) !== checkedBody;
  };
  create.addEventListener('click', async () => {
    if (rowsFailing()) return;
    await busy(create, async () => {
      try {
        const b = await api('POST', t + '/batches', body());
        location.hash = route('t', ctx.tenant, 'batches', b.Name);
      } catch (err) { replace(wnotice, errorBox(err, wizard)); }
    });
    if (ctx.live()) drawReview();
  });

  wizard = h('div', { class: 'card wizard', id: 'batch-wizard', dataset: { step: '1' } }, indicator, wnotice, panes);
  show(0);
  return wizard;
}
