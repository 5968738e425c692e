import { api, can, query } from '../api.js';
import { badge, field, h, replace, table, when } from '../dom.js';
import { loadInto, notify, openDialog, pageHeader, problemView, run } from '../ui.js';

// Routes: which routing rules, in order, apply to the events of one source (a connector, or the
// ingest API), and what a delivery failure of those events does (docs/routing.md, Routes).
// Names of rules and connectors are shown where the role may read them; ids otherwise.

const ON_FAILURE = {
  'dead-letter': 'Dead-letter the event',
  continue: 'Skip it (counted)',
  stop: 'Stop the destination at it',
};

/** @param {HTMLElement} container */
export function renderRoutes(container) {
  const list = h('div');
  const reload = () => loadInto(list, () => listView(reload));
  replace(
    container,
    pageHeader(
      'Routes',
      can('routes:write')
        ? h(
            'button',
            { type: 'button', class: 'primary', onclick: () => void openRouteEditor(null, reload) },
            'New route',
          )
        : null,
    ),
    list,
  );
  void reload();
}

/** The rules and connectors the role may read, by id (empty maps otherwise). */
async function names() {
  const [rules, connectors] = await Promise.all([
    can('routing-rules:read') ? api('GET', `/api/v1/routing-rules${query({ limit: 200 })}`) : { items: [] },
    can('connectors:read') ? api('GET', `/api/v1/connectors${query({ limit: 200, sort: 'name' })}`) : { items: [] },
  ]);
  return {
    rules: /** @type {any[]} */ (rules.items),
    ruleNames: new Map(rules.items.map((/** @type {any} */ rule) => [rule.id, rule.name])),
    connectors: /** @type {any[]} */ (connectors.items),
    connectorNames: new Map(connectors.items.map((/** @type {any} */ connector) => [connector.id, connector.name])),
  };
}

/** @param {() => void} reload */
async function listView(reload) {
  const [page, known] = await Promise.all([api('GET', `/api/v1/routes${query({ limit: 200 })}`), names()]);
  return table(
    `Routes (${page.items.length})`,
    ['Name', 'Source', 'Rules in order', 'Status', 'On failure', 'Updated', 'Actions'],
    page.items.map((/** @type {any} */ route) => {
      const output = h('div', { class: 'row-output' });
      return h(
        'tr',
        { 'data-id': route.id },
        h('th', { scope: 'row' }, route.name, h('br'), h('small', { class: 'muted' }, route.id)),
        h(
          'td',
          null,
          route.connectorId ? (known.connectorNames.get(route.connectorId) ?? route.connectorId) : 'ingest API',
        ),
        h(
          'td',
          null,
          h(
            'ol',
            { class: 'compact' },
            route.ruleIds.map((/** @type {string} */ id) => h('li', null, known.ruleNames.get(id) ?? id)),
          ),
        ),
        h('td', null, route.enabled ? badge('enabled', 'ok') : badge('disabled', 'warn')),
        h('td', null, route.errorHandling.onFailure),
        h('td', null, when(route.updatedAt)),
        h(
          'td',
          null,
          can('routes:write')
            ? [
                h('button', { type: 'button', onclick: () => void openRouteEditor(route, reload) }, 'Edit'),
                ' ',
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'danger',
                    onclick: (/** @type {Event} */ e) => {
                      if (!confirm(`Delete the route ${route.name}?`)) return;
                      void run(/** @type {HTMLButtonElement} */ (e.currentTarget), output, async () => {
                        await api('DELETE', `/api/v1/routes/${encodeURIComponent(route.id)}`, undefined, {
                          'if-match': `"${route.version}"`,
                        });
                        notify(`Route ${route.name} deleted`);
                        reload();
                      });
                    },
                  },
                  'Delete',
                ),
              ]
            : null,
          output,
        ),
      );
    }),
  );
}

/** @param {any | null} existing @param {() => void} reload */
async function openRouteEditor(existing, reload) {
  const body = h('div', null, h('p', null, 'Loading…'));
  const dialog = openDialog(existing ? `Route ${existing.name}` : 'New route', body);
  try {
    replace(body, routeForm(existing, await names(), dialog, reload));
  } catch (error) {
    replace(body, problemView(error));
  }
}

/**
 * @param {any | null} existing
 * @param {Awaited<ReturnType<typeof names>>} known
 * @param {HTMLDialogElement} dialog
 * @param {() => void} reload
 */
function routeForm(existing, known, dialog, reload) {
  const name = /** @type {HTMLInputElement} */ (
    h('input', { name: 'name', required: true, value: existing?.name ?? '' })
  );
  const id = /** @type {HTMLInputElement} */ (h('input', { name: 'id', autocomplete: 'off' }));
  const source = /** @type {HTMLSelectElement} */ (
    h(
      'select',
      { name: 'connectorId' },
      h('option', { value: '' }, 'The ingest API (POST /v1/metrics)'),
      known.connectors.map((connector) =>
        h('option', { value: connector.id }, `${connector.name} (${connector.type})`),
      ),
      // A connector the role may not read still shows as the route's source.
      existing?.connectorId && !known.connectorNames.has(existing.connectorId)
        ? h('option', { value: existing.connectorId }, existing.connectorId)
        : null,
    )
  );
  source.value = existing?.connectorId ?? '';
  const enabled = /** @type {HTMLInputElement} */ (
    h('input', { name: 'enabled', type: 'checkbox', checked: existing?.enabled ?? true })
  );
  const onFailure = /** @type {HTMLSelectElement} */ (
    h(
      'select',
      { name: 'onFailure' },
      Object.entries(ON_FAILURE).map(([value, text]) => h('option', { value }, `${text} (${value})`)),
    )
  );
  onFailure.value = existing?.errorHandling?.onFailure ?? 'dead-letter';

  // The rules, the route's own first in its order, then the others in priority order; a rule
  // the role may not read keeps its place, shown by id.
  const chosen = /** @type {string[]} */ (existing?.ruleIds ?? []);
  const entries = [
    ...chosen.map((ruleId) => ({ id: ruleId, name: known.ruleNames.get(ruleId) ?? ruleId })),
    ...known.rules.filter((rule) => !chosen.includes(rule.id)).map((rule) => ({ id: rule.id, name: rule.name })),
  ].map((rule) => ({
    ...rule,
    box: /** @type {HTMLInputElement} */ (
      h('input', { type: 'checkbox', value: rule.id, checked: chosen.includes(rule.id) })
    ),
  }));
  const ruleList = h('ol', { class: 'ordered' });
  const drawRules = () =>
    replace(
      ruleList,
      entries.map((entry, index) =>
        h(
          'li',
          { 'data-rule': entry.id },
          h('label', null, entry.box, ' ', entry.name),
          h(
            'button',
            {
              type: 'button',
              class: 'ghost',
              'aria-label': `Move ${entry.name} up`,
              disabled: index === 0,
              onclick: () => move(index, -1),
            },
            '↑',
          ),
          h(
            'button',
            {
              type: 'button',
              class: 'ghost',
              'aria-label': `Move ${entry.name} down`,
              disabled: index === entries.length - 1,
              onclick: () => move(index, 1),
            },
            '↓',
          ),
        ),
      ),
    );
  /** @param {number} index @param {number} by */
  const move = (index, by) => {
    const [entry] = entries.splice(index, 1);
    if (!entry) return;
    entries.splice(index + by, 0, entry);
    drawRules();
    // Keep the keyboard on the rule that moved.
    /** @type {HTMLElement | null} */ (
      ruleList.querySelector(`li[data-rule="${CSS.escape(entry.id)}"] button:not([disabled])`)
    )?.focus();
  };
  drawRules();

  const output = h('div', { 'aria-live': 'polite' });
  const save = h('button', { type: 'submit', class: 'primary' }, existing ? 'Save' : 'Create');
  const form = h(
    'form',
    { class: 'editor' },
    field('Name', name),
    existing ? null : field('Id (optional)', id),
    field('Source', source),
    h(
      'fieldset',
      null,
      h('legend', null, 'Rules, in the order they apply'),
      entries.length ? ruleList : h('p', null, 'No routing rule to choose: create one first.'),
    ),
    h('div', { class: 'checks' }, field('Enabled', enabled)),
    field('When delivery fails', onFailure),
    output,
    h(
      'div',
      { class: 'actions' },
      save,
      h('button', { type: 'button', onclick: () => dialog.close() }, existing ? 'Close' : 'Cancel'),
    ),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run(/** @type {HTMLButtonElement} */ (save), output, async () => {
      const route = {
        name: name.value.trim(),
        connectorId: source.value || null,
        ruleIds: entries.filter((entry) => entry.box.checked).map((entry) => entry.id),
        enabled: enabled.checked,
        errorHandling: { onFailure: onFailure.value },
      };
      if (existing) {
        await api('PATCH', `/api/v1/routes/${encodeURIComponent(existing.id)}`, route, {
          'if-match': `"${existing.version}"`,
        });
      } else {
        await api('POST', '/api/v1/routes', { ...(id.value.trim() ? { id: id.value.trim() } : {}), ...route });
      }
      notify(`Route ${route.name} saved`);
      dialog.close();
      reload();
    });
  });
  return form;
}
