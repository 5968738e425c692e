import { api, can, query } from '../api.js';
import { badge, field, h, replace, table, when } from '../dom.js';
import { loadInto, notify, openDialog, pageHeader, problemView, run } from '../ui.js';

// Jobs (schedules with their next runs, run now), webhook triggers (the generated signing
// secret shown once), and executions with their progress and errors, refreshed every few seconds.

const REFRESH_MS = 5000;
/** @param {string} status */
const executionTone = (status) =>
  status === 'succeeded'
    ? 'ok'
    : status === 'failed' || status === 'timed_out'
      ? 'bad'
      : status === 'cancelled'
        ? 'warn'
        : 'busy';

/** @param {HTMLElement} container */
export function renderJobs(container) {
  const jobs = h('div');
  const triggers = h('div');
  const executions = h('div');
  const reloadJobs = () => loadInto(jobs, () => jobsView(reloadJobs, reloadExecutions));
  const reloadTriggers = () => loadInto(triggers, () => triggersView(reloadTriggers));
  const reloadExecutions = () => (can('executions:read') ? loadInto(executions, executionsView) : Promise.resolve());
  replace(
    container,
    pageHeader(
      'Jobs',
      can('jobs:write')
        ? h('button', { type: 'button', class: 'primary', onclick: () => void openJobEditor(reloadJobs) }, 'New job')
        : null,
    ),
    h('section', { 'aria-labelledby': 'jobs-title' }, h('h2', { id: 'jobs-title' }, 'Schedules'), jobs),
    can('webhook-triggers:read')
      ? h(
          'section',
          { 'aria-labelledby': 'triggers-title' },
          h('h2', { id: 'triggers-title' }, 'Webhook triggers'),
          can('webhook-triggers:write')
            ? h(
                'button',
                { type: 'button', onclick: () => void openTriggerEditor(reloadTriggers) },
                'New webhook trigger',
              )
            : null,
          triggers,
        )
      : null,
    can('executions:read')
      ? h(
          'section',
          { 'aria-labelledby': 'executions-title' },
          h('h2', { id: 'executions-title' }, 'Executions'),
          executions,
        )
      : null,
  );
  void reloadJobs();
  if (can('webhook-triggers:read')) void reloadTriggers();
  void reloadExecutions();
  const timer = setInterval(() => void refreshExecutionsQuietly(executions), REFRESH_MS);
  return () => clearInterval(timer);
}

/** Refreshes the executions without the busy state (the list stays readable while it updates). @param {HTMLElement} container */
async function refreshExecutionsQuietly(container) {
  if (!can('executions:read') || !container.isConnected) return;
  try {
    replace(container, await executionsView());
  } catch {
    // the next refresh tries again; the list keeps its last content
  }
}

/** @param {() => void} reload @param {() => void} reloadExecutions */
async function jobsView(reload, reloadExecutions) {
  const page = await api('GET', `/api/v1/jobs${query({ limit: 200, sort: 'name' })}`);
  return table(
    `Jobs (${page.items.length})`,
    ['Name', 'Connector', 'Schedule', 'Next runs', 'Status', 'Actions'],
    page.items.map((/** @type {any} */ job) => {
      const output = h('div', { class: 'row-output' });
      return h(
        'tr',
        { 'data-id': job.id },
        h('th', { scope: 'row' }, job.name, h('br'), h('small', { class: 'muted' }, `${job.action} · ${job.id}`)),
        h('td', null, job.connectorId),
        h('td', null, job.schedule ? h('code', null, job.schedule) : 'on demand', ` (${job.timezone})`),
        h(
          'td',
          null,
          (job.nextRuns ?? []).map((/** @type {string} */ at) => h('div', null, when(at))),
        ),
        h('td', null, job.enabled ? badge('enabled', 'ok') : badge('disabled', 'warn')),
        h(
          'td',
          null,
          h(
            'div',
            { class: 'actions' },
            can('jobs:run')
              ? h(
                  'button',
                  {
                    type: 'button',
                    onclick: (/** @type {Event} */ e) =>
                      void run(/** @type {HTMLButtonElement} */ (e.currentTarget), output, async () => {
                        const execution = await api('POST', `/api/v1/jobs/${encodeURIComponent(job.id)}/run`);
                        notify(`Execution ${execution.id} ${execution.status}`);
                        reloadExecutions();
                      }),
                  },
                  'Run now',
                )
              : null,
            can('jobs:write')
              ? h(
                  'button',
                  {
                    type: 'button',
                    onclick: (/** @type {Event} */ e) =>
                      void run(/** @type {HTMLButtonElement} */ (e.currentTarget), output, async () => {
                        await api(
                          'PATCH',
                          `/api/v1/jobs/${encodeURIComponent(job.id)}`,
                          { enabled: !job.enabled },
                          { 'if-match': `"${job.version}"` },
                        );
                        reload();
                      }),
                  },
                  job.enabled ? 'Disable' : 'Enable',
                )
              : null,
          ),
          output,
        ),
      );
    }),
  );
}

async function executionsView() {
  const page = await api('GET', `/api/v1/executions${query({ limit: 50 })}`);
  return table(
    'Latest executions (newest first)',
    ['Execution', 'Job', 'Status', 'Triggered by', 'Started', 'Ended', 'Counts and progress', 'Actions'],
    page.items.map((/** @type {any} */ execution) =>
      h(
        'tr',
        { 'data-id': execution.id },
        h('th', { scope: 'row' }, execution.id),
        h('td', null, execution.jobId),
        h(
          'td',
          null,
          badge(execution.status, executionTone(execution.status)),
          execution.attempt > 1 ? ` attempt ${execution.attempt}` : '',
        ),
        h('td', null, execution.triggeredBy),
        h('td', null, when(execution.startedAt)),
        h('td', null, when(execution.endedAt)),
        h(
          'td',
          null,
          h('code', { class: 'clip' }, JSON.stringify({ ...execution.counts, ...(execution.progress ?? {}) })),
          execution.error ? h('p', { class: 'error-text' }, execution.error) : null,
        ),
        h(
          'td',
          null,
          can('executions:cancel') && (execution.status === 'queued' || execution.status === 'running')
            ? h(
                'button',
                {
                  type: 'button',
                  onclick: (/** @type {Event} */ e) =>
                    void run(/** @type {HTMLButtonElement} */ (e.currentTarget), null, async () => {
                      await api('POST', `/api/v1/executions/${encodeURIComponent(execution.id)}/cancel`);
                      notify(`Execution ${execution.id} cancelled`);
                    }),
                },
                'Cancel',
              )
            : null,
        ),
      ),
    ),
  );
}

/** @param {() => void} reload */
async function triggersView(reload) {
  const page = await api('GET', `/api/v1/webhook-triggers${query({ limit: 200 })}`);
  return table(
    `Webhook triggers (${page.items.length})`,
    ['Path', 'Job', 'Secret', 'Status', 'Actions'],
    page.items.map((/** @type {any} */ trigger) =>
      h(
        'tr',
        { 'data-id': trigger.id },
        h('th', { scope: 'row' }, h('code', null, `POST /hooks/${trigger.path}`)),
        h('td', null, trigger.jobId),
        h('td', null, trigger.secretSet ? badge('set', 'ok') : badge('not set')),
        h('td', null, trigger.enabled ? badge('enabled', 'ok') : badge('disabled', 'warn')),
        h(
          'td',
          null,
          can('webhook-triggers:write')
            ? h(
                'button',
                {
                  type: 'button',
                  class: 'danger',
                  onclick: (/** @type {Event} */ e) => {
                    if (!confirm(`Delete the trigger ${trigger.path}?`)) return;
                    void run(/** @type {HTMLButtonElement} */ (e.currentTarget), null, async () => {
                      await api('DELETE', `/api/v1/webhook-triggers/${encodeURIComponent(trigger.id)}`);
                      reload();
                    });
                  },
                },
                'Delete',
              )
            : null,
        ),
      ),
    ),
  );
}

/** @param {() => void} reload */
async function openJobEditor(reload) {
  const body = h('div', null, h('p', null, 'Loading…'));
  const dialog = openDialog('New job', body);
  try {
    const connectors = (await api('GET', '/api/v1/connectors?limit=200&sort=name')).items;
    const name = h('input', { name: 'name', required: true });
    const connector = h(
      'select',
      { name: 'connectorId', required: true },
      connectors.map((/** @type {any} */ c) => h('option', { value: c.id }, `${c.name} (${c.type})`)),
    );
    const action = h(
      'select',
      { name: 'action' },
      h('option', { value: 'sync' }, 'sync'),
      h('option', { value: 'full-resync' }, 'full-resync'),
    );
    const schedule = h('input', { name: 'schedule', placeholder: '*/15 * * * *' });
    const timezone = h('input', { name: 'timezone', value: 'UTC' });
    const output = h('div', { 'aria-live': 'assertive' });
    const save = h('button', { type: 'submit', class: 'primary' }, 'Create');
    const form = h(
      'form',
      { class: 'editor' },
      field('Name', name),
      field('Connector', connector),
      field('Action', action),
      field('Schedule (cron, 5 or 6 fields)', schedule, 'Empty: only on demand or by a webhook trigger.'),
      field('Time zone (IANA)', timezone),
      output,
      h('div', { class: 'actions' }, save, h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel')),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void run(/** @type {HTMLButtonElement} */ (save), output, async () => {
        const cron = /** @type {HTMLInputElement} */ (schedule).value.trim();
        await api('POST', '/api/v1/jobs', {
          name: /** @type {HTMLInputElement} */ (name).value.trim(),
          connectorId: /** @type {HTMLSelectElement} */ (connector).value,
          action: /** @type {HTMLSelectElement} */ (action).value,
          schedule: cron || null,
          timezone: /** @type {HTMLInputElement} */ (timezone).value.trim() || 'UTC',
        });
        dialog.close();
        reload();
      });
    });
    replace(body, connectors.length ? form : h('p', null, 'Create a connector first.'));
  } catch (error) {
    replace(body, problemView(error));
  }
}

/** @param {() => void} reload */
async function openTriggerEditor(reload) {
  const body = h('div', null, h('p', null, 'Loading…'));
  const dialog = openDialog('New webhook trigger', body);
  try {
    const jobs = (await api('GET', '/api/v1/jobs?limit=200&sort=name')).items;
    const job = h(
      'select',
      { name: 'jobId' },
      jobs.map((/** @type {any} */ j) => h('option', { value: j.id }, j.name)),
    );
    const path = h('input', { name: 'path', required: true, placeholder: 'hubspot/contacts-changed' });
    const output = h('div', { 'aria-live': 'assertive' });
    const save = h('button', { type: 'submit', class: 'primary' }, 'Create');
    const form = h(
      'form',
      { class: 'editor' },
      field('Job', job),
      field('Path', path, 'Segments of letters, digits, “_” and “-”, separated by “/”.'),
      output,
      h('div', { class: 'actions' }, save),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void run(/** @type {HTMLButtonElement} */ (save), output, async () => {
        const created = await api('POST', '/api/v1/webhook-triggers', {
          jobId: /** @type {HTMLSelectElement} */ (job).value,
          path: /** @type {HTMLInputElement} */ (path).value.trim(),
        });
        // The generated secret is in this answer only: show it once, then never again.
        replace(
          body,
          h(
            'div',
            { class: 'alert ok', role: 'status' },
            h('p', null, `Trigger created: POST /hooks/${created.path}`),
            h('p', null, 'Signing secret (shown only now; store it):'),
            h('code', { class: 'secret' }, created.generatedSecret ?? ''),
          ),
          h('button', { type: 'button', onclick: () => dialog.close() }, 'Done'),
        );
        reload();
      });
    });
    replace(body, jobs.length ? form : h('p', null, 'Create a job first.'));
  } catch (error) {
    replace(body, problemView(error));
  }
}
