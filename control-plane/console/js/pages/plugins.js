import { api, apiResponse, can, query } from '../api.js';
import { badge, field, h, replace, table, when } from '../dom.js';
import { schemaForm } from '../schema-form.js';
import { loadInto, notify, openDialog, pageHeader, problemView, run } from '../ui.js';

// Connectors and destinations: the list with status, create (from the type's template, or from
// one of its ready-made examples) and edit with a form generated from the type's JSON Schema,
// the step-by-step connection test, enable/disable, delete, and for connectors "run now".

/** @param {'connector' | 'destination'} kind */
const collection = (kind) => `/api/v1/${kind}s`;

/** @param {HTMLElement} container @param {'connector' | 'destination'} kind */
export function renderPlugins(container, kind) {
  const title = kind === 'connector' ? 'Connectors' : 'Destinations';
  const list = h('div');
  const reload = () => loadInto(list, () => listView(kind, reload));
  const createButton = can(`${kind}s:write`)
    ? h(
        'button',
        { type: 'button', class: 'primary', onclick: () => void openEditor(kind, null, reload) },
        `New ${kind}`,
      )
    : null;
  replace(container, pageHeader(title, createButton), list);
  void reload();
}

/** @param {'connector' | 'destination'} kind @param {() => void} reload */
async function listView(kind, reload) {
  const page = await api('GET', `${collection(kind)}${query({ limit: 200, sort: 'name' })}`);
  const jobs = kind === 'connector' && can('jobs:read') ? (await api('GET', '/api/v1/jobs?limit=200')).items : [];
  const rows = page.items.map((/** @type {any} */ item) => {
    const output = h('div', { class: 'row-output' });
    const actions = [];
    if (can(`${kind}s:test`))
      actions.push(
        h(
          'button',
          {
            type: 'button',
            onclick: (/** @type {Event} */ e) =>
              void testConnection(kind, item, /** @type {HTMLButtonElement} */ (e.currentTarget), output),
          },
          'Test connection',
        ),
      );
    const connectorJobs = jobs.filter((/** @type {any} */ job) => job.connectorId === item.id);
    if (kind === 'connector' && can('jobs:run') && connectorJobs.length)
      actions.push(
        h(
          'button',
          {
            type: 'button',
            onclick: (/** @type {Event} */ e) =>
              void run(/** @type {HTMLButtonElement} */ (e.currentTarget), output, async () => {
                const execution = await api('POST', `/api/v1/jobs/${encodeURIComponent(connectorJobs[0].id)}/run`);
                replace(
                  output,
                  h(
                    'p',
                    null,
                    `Started execution ${execution.id} of job “${connectorJobs[0].name}” (${execution.status}). Follow it under `,
                    h('a', { href: '#/jobs' }, 'Jobs'),
                    '.',
                  ),
                );
              }),
          },
          'Run now',
        ),
      );
    if (can(`${kind}s:write`)) {
      actions.push(
        h('button', { type: 'button', onclick: () => void openEditor(kind, item, reload) }, 'Edit'),
        h(
          'button',
          {
            type: 'button',
            onclick: (/** @type {Event} */ e) =>
              void run(/** @type {HTMLButtonElement} */ (e.currentTarget), output, async () => {
                await api(
                  'PATCH',
                  `${collection(kind)}/${encodeURIComponent(item.id)}`,
                  { enabled: !item.enabled },
                  { 'if-match': `"${item.version}"` },
                );
                notify(`${item.name} ${item.enabled ? 'disabled' : 'enabled'}`);
                reload();
              }),
          },
          item.enabled ? 'Disable' : 'Enable',
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'danger',
            onclick: (/** @type {Event} */ e) => {
              if (!confirm(`Delete ${kind} “${item.name}”?`)) return;
              void run(/** @type {HTMLButtonElement} */ (e.currentTarget), output, async () => {
                await api('DELETE', `${collection(kind)}/${encodeURIComponent(item.id)}`);
                notify(`${item.name} deleted`);
                reload();
              });
            },
          },
          'Delete',
        ),
      );
    }
    return h(
      'tr',
      { 'data-id': item.id },
      h('th', { scope: 'row' }, item.name, h('br'), h('small', { class: 'muted' }, item.id)),
      h('td', null, item.type),
      h('td', null, item.enabled ? badge('enabled', 'ok') : badge('disabled', 'warn')),
      h('td', null, item.credentialsSet ? badge('set', 'ok') : badge('not set')),
      h('td', null, when(item.updatedAt)),
      h('td', null, h('div', { class: 'actions' }, actions), output),
    );
  });
  return table(
    `${kind === 'connector' ? 'Connectors' : 'Destinations'} (${page.items.length})`,
    ['Name', 'Type', 'Status', 'Credentials', 'Updated', 'Actions'],
    rows,
  );
}

/** @param {'connector' | 'destination'} kind @param {any} item @param {HTMLButtonElement} button @param {HTMLElement} output */
async function testConnection(kind, item, button, output) {
  await run(button, output, async () => {
    const result = await api('POST', `${collection(kind)}/${encodeURIComponent(item.id)}/test`);
    replace(output, connectionTestView(result));
  });
}

/** @param {{ ok: boolean, steps: { name: string, status: string, detail: string, durationMs: number }[] }} result */
export function connectionTestView(result) {
  return h(
    'div',
    { class: 'connection-test' },
    h('p', null, 'Connection test: ', result.ok ? badge('passed', 'ok') : badge('failed', 'bad')),
    h(
      'ol',
      { class: 'steps' },
      result.steps.map((step) =>
        h(
          'li',
          { 'data-step': step.name },
          h('strong', null, step.name),
          ' ',
          badge(step.status, step.status === 'ok' ? 'ok' : step.status === 'failed' ? 'bad' : 'neutral'),
          ' ',
          step.detail,
          h('small', { class: 'muted' }, ` (${step.durationMs} ms)`),
        ),
      ),
    ),
  );
}

/**
 * The create/edit dialog. A new object starts from a template (or one of its examples); an
 * existing one keeps its type.
 * @param {'connector' | 'destination'} kind @param {any | null} existing @param {() => void} reload
 */
async function openEditor(kind, existing, reload) {
  const body = h('div', null, h('p', null, 'Loading templates…'));
  const dialog = openDialog(existing ? `Edit ${existing.name}` : `New ${kind}`, body);
  try {
    const templates = existing
      ? [await api('GET', `/api/v1/templates/${kind}/${encodeURIComponent(existing.type)}`)]
      : (await api('GET', `/api/v1/templates${query({ kind })}`)).items;
    const typeSelect = h(
      'select',
      { name: 'type', disabled: Boolean(existing) },
      templates.map((/** @type {any} */ template) => h('option', { value: template.type }, template.type)),
    );
    const formArea = h('div');
    const showForm = () => {
      const template = templates.find(
        (/** @type {any} */ t) => t.type === /** @type {HTMLSelectElement} */ (typeSelect).value,
      );
      replace(formArea, editorForm(kind, template, existing, dialog, reload));
    };
    typeSelect.addEventListener('change', showForm);
    replace(body, field('Type', typeSelect), formArea);
    showForm();
  } catch (error) {
    replace(body, problemView(error));
  }
}

/** @param {'connector' | 'destination'} kind @param {any} template @param {any | null} existing @param {HTMLDialogElement} dialog @param {() => void} reload */
function editorForm(kind, template, existing, dialog, reload) {
  const examples = existing || !can('templates:instantiate') ? [] : (template.examples ?? []);
  const exampleSelect = examples.length
    ? h(
        'select',
        { name: 'example' },
        h('option', { value: '' }, `(none: only the ${kind})`),
        examples.map((/** @type {any} */ example) => h('option', { value: example.id }, example.title ?? example.id)),
      )
    : null;
  const name = h('input', { name: 'name', required: true, value: existing?.name ?? '', autocomplete: 'off' });
  const id = existing ? null : h('input', { name: 'id', autocomplete: 'off', pattern: '[A-Za-z0-9_.\\-]{1,128}' });
  const secrets = kind === 'destination' ? (template.secrets ?? []) : [];
  /** @param {Record<string, unknown> | undefined} values */
  const settingsForm = (values) =>
    schemaForm(template.configSchema, {
      legend: 'Settings',
      name: 'config',
      values,
      secrets,
      secretsSet: existing?.credentialsSet,
    });
  let configForm = settingsForm(existing?.config ?? template.defaults);
  const configArea = h('div', null, configForm.element);
  // An example fills the settings it chooses; what the form then sends replaces the example's
  // fields, so the form must start from them rather than from the type's bare defaults.
  exampleSelect?.addEventListener('change', () => {
    const example = examples.find(
      (/** @type {any} */ e) => e.id === /** @type {HTMLSelectElement} */ (exampleSelect).value,
    );
    configForm = settingsForm({ ...template.defaults, ...(example?.config ?? {}) });
    replace(configArea, configForm.element);
  });
  const credentialsForm =
    kind === 'connector' && template.credentialsSchema
      ? schemaForm(template.credentialsSchema, {
          legend: 'Credentials (write-only)',
          name: 'credentials',
          secrets: Object.keys(template.credentialsSchema.properties ?? {}),
          secretsSet: existing?.credentialsSet,
        })
      : null;
  const output = h('div', { 'aria-live': 'assertive' });
  const save = h('button', { type: 'submit', class: 'primary' }, existing ? 'Save' : 'Create');
  const form = h(
    'form',
    { class: 'editor' },
    template.description ? h('p', { class: 'muted' }, template.description) : null,
    exampleSelect ? field('Start from an example (also creates its routing rule or job)', exampleSelect) : null,
    field('Name', name),
    id ? field('Id (optional)', id, 'Letters, digits, “_”, “.” and “-”; generated when empty.') : null,
    configArea,
    credentialsForm?.element,
    secrets.length
      ? h(
          'p',
          { class: 'muted' },
          `Secret fields (${secrets.join(', ')}) are write-only; giving one replaces all stored secrets.`,
        )
      : null,
    output,
    h('div', { class: 'actions' }, save, h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run(/** @type {HTMLButtonElement} */ (save), output, async () => {
      const config = configForm.read();
      const credentials = credentialsForm ? credentialsForm.read().secrets : config.secrets;
      const hasCredentials = Object.keys(credentials).length > 0;
      const nameValue = /** @type {HTMLInputElement} */ (name).value.trim();
      const idValue = id ? /** @type {HTMLInputElement} */ (id).value.trim() : '';
      const example = exampleSelect ? /** @type {HTMLSelectElement} */ (exampleSelect).value : '';
      if (existing) {
        await api(
          'PATCH',
          `${collection(kind)}/${encodeURIComponent(existing.id)}`,
          { name: nameValue, config: config.values, ...(hasCredentials ? { credentials } : {}) },
          { 'if-match': `"${existing.version}"` },
        );
        notify(`${nameValue} saved`);
      } else if (example) {
        const created = await api('POST', `/api/v1/templates/${encodeURIComponent(example)}/instantiate`, {
          name: nameValue,
          ...(idValue ? { id: idValue } : {}),
          config: config.values,
          ...(hasCredentials ? { credentials } : {}),
        });
        notify(
          `${nameValue} created with ${created.rule ? `rule ${created.rule.name}` : `job ${created.job?.name ?? ''}`}`,
        );
      } else {
        await apiResponse('POST', collection(kind), {
          name: nameValue,
          type: template.type,
          ...(idValue ? { id: idValue } : {}),
          config: config.values,
          ...(hasCredentials ? { credentials } : {}),
        });
        notify(`${nameValue} created`);
      }
      dialog.close();
      reload();
    });
  });
  return form;
}
