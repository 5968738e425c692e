import { api, can, query } from '../api.js';
import { badge, field, h, json, replace, table, when } from '../dom.js';
import { loadInto, notify, openDialog, pageHeader, problemView, run } from '../ui.js';

// Routing rules: the list, and an editor for the condition and transformations (JSON in the rule
// language of docs/routing.md) that checks the JSON as you type, validates with the router's own
// compiler on the server (the dry-run compiles the rule exactly as saving does), and runs the
// dry-run on the last events with its matched samples before and after the transformations.

/** @param {HTMLElement} container */
export function renderRules(container) {
  const list = h('div');
  const reload = () => loadInto(list, () => listView(reload));
  replace(
    container,
    pageHeader(
      'Routing rules',
      can('routing-rules:write')
        ? h(
            'button',
            { type: 'button', class: 'primary', onclick: () => void openRuleEditor(null, reload) },
            'New rule',
          )
        : null,
    ),
    list,
  );
  void reload();
}

/** @param {() => void} reload */
async function listView(reload) {
  const page = await api('GET', `/api/v1/routing-rules${query({ limit: 200 })}`);
  return table(
    `Rules in priority order (${page.items.length})`,
    ['Priority', 'Name', 'Status', 'Condition', 'Destinations', 'Updated', 'Actions'],
    page.items.map((/** @type {any} */ rule) =>
      h(
        'tr',
        { 'data-id': rule.id },
        h('td', null, String(rule.priority)),
        h('th', { scope: 'row' }, rule.name, h('br'), h('small', { class: 'muted' }, rule.id)),
        h('td', null, rule.enabled ? badge('enabled', 'ok') : badge('disabled', 'warn')),
        h('td', null, h('code', { class: 'clip' }, rule.condition ? JSON.stringify(rule.condition) : 'every event')),
        h('td', null, rule.destinationIds.join(', ')),
        h('td', null, when(rule.updatedAt)),
        h(
          'td',
          null,
          h(
            'button',
            { type: 'button', onclick: () => void openRuleEditor(rule, reload) },
            can('routing-rules:write') ? 'Edit' : 'Dry-run',
          ),
        ),
      ),
    ),
  );
}

/** @typedef {{ pointer: string, detail: string }} Problem */

/**
 * Checks the condition and transformations as they are typed: JSON syntax at once, in the page;
 * then, after a pause in typing, the router's compiler on the server (the endpoint Validate uses),
 * each problem shown next to its field with its pointer. One request at a time: text typed while
 * one is out is checked when it returns, and an answer about text that has changed since is dropped.
 * @param {{ condition: HTMLTextAreaElement, transformations: HTMLTextAreaElement, conditionStatus: HTMLElement, transformationsStatus: HTMLElement }} parts
 * @param {(body: { condition: unknown, transformations: unknown }) => Promise<{ valid: boolean, errors: Problem[] }>} validate
 */
function liveValidation(parts, validate) {
  const { condition, transformations, conditionStatus, transformationsStatus } = parts;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let inFlight = false;
  let askAgain = false;
  const snapshot = () => `${condition.value}\u0000${transformations.value}`;

  /**
   * @param {HTMLTextAreaElement} area @param {HTMLElement} status @param {string} summary @param {Problem[]} problems
   * @param {boolean} [invalid]
   */
  const show = (area, status, summary, problems, invalid = problems.length > 0) => {
    if (invalid) area.setAttribute('aria-invalid', 'true');
    else area.removeAttribute('aria-invalid');
    replace(
      status,
      summary,
      problems.length
        ? h(
            'ul',
            { class: 'problems' },
            problems.map((problem) => h('li', null, h('code', null, problem.pointer), ' ', problem.detail)),
          )
        : null,
    );
  };

  /** The two fields parsed, or undefined after showing which is not JSON. */
  const parseLocally = () => {
    /** @param {HTMLTextAreaElement} area @param {HTMLElement} status @param {unknown} empty */
    const parse = (area, status, empty) => {
      const text = area.value.trim();
      if (text === '') return { ok: true, value: empty };
      try {
        return { ok: true, value: JSON.parse(text) };
      } catch (error) {
        show(area, status, `Not valid JSON: ${error instanceof Error ? error.message : String(error)}`, [], true);
        return { ok: false, value: undefined };
      }
    };
    const parsedCondition = parse(condition, conditionStatus, null);
    const parsedTransformations = parse(transformations, transformationsStatus, []);
    if (!parsedCondition.ok || !parsedTransformations.ok) return undefined;
    return { condition: parsedCondition.value, transformations: parsedTransformations.value };
  };

  /** @param {Problem[]} problems */
  const showVerdict = (problems) => {
    const ofTransformations = problems.filter((problem) => problem.pointer.startsWith('/transformations'));
    const ofCondition = problems.filter((problem) => !ofTransformations.includes(problem));
    const accepted = 'The router’s compiler accepts it.';
    show(
      condition,
      conditionStatus,
      ofCondition.length
        ? 'The router’s compiler refuses it:'
        : condition.value.trim()
          ? accepted
          : 'Empty: matches every event.',
      ofCondition,
    );
    show(
      transformations,
      transformationsStatus,
      ofTransformations.length ? 'The router’s compiler refuses them:' : accepted,
      ofTransformations,
    );
  };

  const ask = async () => {
    if (inFlight) {
      askAgain = true;
      return;
    }
    const body = parseLocally();
    if (!body) return;
    const asked = snapshot();
    inFlight = true;
    try {
      const verdict = await validate(body);
      if (asked === snapshot()) showVerdict(verdict.errors);
    } catch (error) {
      if (asked === snapshot())
        replace(
          conditionStatus,
          `Could not check with the server: ${error instanceof Error ? error.message : String(error)}`,
        );
    } finally {
      inFlight = false;
      if (askAgain) {
        askAgain = false;
        if (asked !== snapshot()) void ask();
      }
    }
  };

  const typed = () => {
    clearTimeout(timer);
    if (!parseLocally()) return;
    for (const status of [conditionStatus, transformationsStatus])
      if (!status.textContent?.startsWith('Checking')) replace(status, 'Checking…');
    timer = setTimeout(() => void ask(), CHECK_AFTER_MS);
  };
  condition.addEventListener('input', typed);
  transformations.addEventListener('input', typed);
  if (parseLocally()) {
    show(condition, conditionStatus, condition.value.trim() ? 'Valid JSON.' : 'Empty: matches every event.', []);
    show(transformations, transformationsStatus, 'Valid JSON.', []);
  }
  // A check still waiting for its pause is dropped when the editor closes.
  return { showVerdict, stop: () => clearTimeout(timer) };
}

// A pause in typing this long asks the server: short enough to feel immediate, long enough
// that a word typed is one request, not one per key.
const CHECK_AFTER_MS = 400;

/** @param {any | null} existing @param {() => void} reload */
async function openRuleEditor(existing, reload) {
  const body = h('div', null, h('p', null, 'Loading…'));
  const dialog = openDialog(existing ? `Rule ${existing.name}` : 'New rule', body);
  try {
    // Without destinations:read the rule keeps the destinations it names, shown by id.
    const destinations = can('destinations:read')
      ? (await api('GET', '/api/v1/destinations?limit=200&sort=name')).items
      : (existing?.destinationIds ?? []).map((/** @type {string} */ id) => ({ id, name: id, type: null }));
    replace(body, ruleForm(existing, destinations, dialog, reload));
  } catch (error) {
    replace(body, problemView(error));
  }
}

/** @param {any | null} existing @param {any[]} destinations @param {HTMLDialogElement} dialog @param {() => void} reload */
function ruleForm(existing, destinations, dialog, reload) {
  const writable = can('routing-rules:write');
  const name = h('input', { name: 'name', required: true, value: existing?.name ?? '', readonly: !writable });
  const priority = h('input', {
    name: 'priority',
    type: 'number',
    step: '1',
    value: existing?.priority ?? 100,
    readonly: !writable,
  });
  const enabled = h('input', {
    name: 'enabled',
    type: 'checkbox',
    checked: existing?.enabled ?? true,
    disabled: !writable,
  });
  const stopOnMatch = h('input', {
    name: 'stopOnMatch',
    type: 'checkbox',
    checked: existing?.stopOnMatch ?? false,
    disabled: !writable,
  });
  const chosen = new Set(existing?.destinationIds ?? []);
  const destinationBoxes = destinations.map((destination) => ({
    id: destination.id,
    box: h('input', {
      type: 'checkbox',
      name: 'destinationIds',
      value: destination.id,
      checked: chosen.has(destination.id),
      disabled: !writable,
    }),
    label: destination.type ? `${destination.name} (${destination.type})` : destination.id,
  }));
  const condition = /** @type {HTMLTextAreaElement} */ (
    h(
      'textarea',
      { name: 'condition', rows: 5, spellcheck: 'false', readonly: !writable },
      existing?.condition ? JSON.stringify(existing.condition, null, 2) : '',
    )
  );
  const transformations = /** @type {HTMLTextAreaElement} */ (
    h(
      'textarea',
      { name: 'transformations', rows: 4, spellcheck: 'false', readonly: !writable },
      JSON.stringify(existing?.transformations ?? [], null, 2),
    )
  );
  const conditionStatus = h('div', { class: 'field-status', id: 'rule-condition-status', 'aria-live': 'polite' });
  const transformationsStatus = h('div', {
    class: 'field-status',
    id: 'rule-transformations-status',
    'aria-live': 'polite',
  });
  condition.setAttribute('aria-describedby', 'rule-condition-status');
  transformations.setAttribute('aria-describedby', 'rule-transformations-status');
  /** @param {{ condition: unknown, transformations: unknown }} definition */
  const validateOnServer = (definition) => api('POST', '/api/v1/routing-rules/validate', definition);
  const live = liveValidation({ condition, transformations, conditionStatus, transformationsStatus }, validateOnServer);
  dialog.addEventListener('close', live.stop);
  const lastEvents = h('input', { name: 'lastEvents', type: 'number', min: 1, max: 100000, value: 1000 });
  const output = h('div', { 'aria-live': 'polite' });

  /** The rule as the form says, or an error naming the field that is not JSON. */
  const read = () => {
    const conditionText = condition.value.trim();
    let parsedCondition = null;
    let parsedTransformations = [];
    try {
      parsedCondition = conditionText ? JSON.parse(conditionText) : null;
    } catch {
      throw new Error('The condition is not valid JSON.');
    }
    try {
      parsedTransformations = JSON.parse(transformations.value.trim() || '[]');
    } catch {
      throw new Error('The transformations are not valid JSON.');
    }
    return {
      name: /** @type {HTMLInputElement} */ (name).value.trim(),
      priority: Number(/** @type {HTMLInputElement} */ (priority).value || 100),
      enabled: /** @type {HTMLInputElement} */ (enabled).checked,
      stopOnMatch: /** @type {HTMLInputElement} */ (stopOnMatch).checked,
      condition: parsedCondition,
      transformations: parsedTransformations,
      destinationIds: destinationBoxes
        .filter((entry) => /** @type {HTMLInputElement} */ (entry.box).checked)
        .map((entry) => entry.id),
    };
  };
  /** @param {number} events @param {number} samples */
  const dryRun = (events, samples) => {
    const rule = read();
    return api('POST', '/api/v1/routing-rules/dry-run', {
      rule: { condition: rule.condition, transformations: rule.transformations, destinationIds: rule.destinationIds },
      window: { lastEvents: events },
      sampleSize: samples,
    });
  };

  const validate = h('button', { type: 'button' }, 'Validate');
  validate.addEventListener(
    'click',
    () =>
      void run(/** @type {HTMLButtonElement} */ (validate), output, async () => {
        const rule = read();
        const verdict = await validateOnServer({ condition: rule.condition, transformations: rule.transformations });
        live.showVerdict(verdict.errors);
        replace(
          output,
          verdict.valid
            ? h('div', { class: 'alert ok', role: 'status' }, 'The router’s compiler accepts this rule.')
            : h(
                'div',
                { class: 'alert error', role: 'alert' },
                h('strong', null, 'The router’s compiler refuses this rule'),
                h(
                  'ul',
                  null,
                  verdict.errors.map((/** @type {any} */ problem) =>
                    h('li', null, h('code', null, problem.pointer), ' ', problem.detail),
                  ),
                ),
              ),
        );
      }),
  );
  const dryRunButton = h('button', { type: 'button' }, 'Dry-run');
  dryRunButton.addEventListener(
    'click',
    () =>
      void run(/** @type {HTMLButtonElement} */ (dryRunButton), output, async () => {
        const result = await dryRun(Number(/** @type {HTMLInputElement} */ (lastEvents).value || 1000), 3);
        replace(output, dryRunView(result));
      }),
  );
  const save = writable ? h('button', { type: 'submit', class: 'primary' }, existing ? 'Save' : 'Create') : null;
  const form = h(
    'form',
    { class: 'editor' },
    field('Name', name),
    field('Priority (lower first)', priority),
    h('div', { class: 'checks' }, field('Enabled', enabled), field('Stop at this rule when it matches', stopOnMatch)),
    h(
      'fieldset',
      null,
      h('legend', null, 'Destinations'),
      destinationBoxes.length
        ? destinationBoxes.map((entry) => h('label', { class: 'check' }, entry.box, ' ', entry.label))
        : h(
            'p',
            null,
            can('destinations:read')
              ? 'No destination yet: create one first.'
              : 'Your role does not allow reading destinations.',
          ),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'rule-condition' }, 'Condition (JSON; empty matches every event)'),
      Object.assign(condition, { id: 'rule-condition' }),
      conditionStatus,
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'rule-transformations' }, 'Transformations (JSON array)'),
      Object.assign(transformations, { id: 'rule-transformations' }),
      transformationsStatus,
    ),
    field('Dry-run on the last events', lastEvents),
    output,
    h(
      'div',
      { class: 'actions' },
      validate,
      dryRunButton,
      save,
      h('button', { type: 'button', onclick: () => dialog.close() }, 'Close'),
    ),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!save) return;
    void run(/** @type {HTMLButtonElement} */ (save), output, async () => {
      const rule = read();
      if (existing) {
        await api('PATCH', `/api/v1/routing-rules/${encodeURIComponent(existing.id)}`, rule, {
          'if-match': `"${existing.version}"`,
        });
      } else {
        await api('POST', '/api/v1/routing-rules', rule);
      }
      notify(`Rule ${rule.name} saved`);
      dialog.close();
      reload();
    });
  });
  return form;
}

/** @param {any} result */
function dryRunView(result) {
  return h(
    'div',
    { class: 'dry-run' },
    h(
      'p',
      null,
      `Scanned ${result.scanned} events: `,
      h('strong', { 'data-matched': String(result.matched) }, `${result.matched} matched`),
      `, ${result.notMatched} did not, ${result.failed} failed, ${result.undecodable} undecodable (${result.durationMs} ms).`,
    ),
    result.perDestination.length
      ? h(
          'p',
          null,
          result.perDestination
            .map((/** @type {any} */ entry) => `${entry.destinationId}: ${entry.matched}`)
            .join(' · '),
        )
      : null,
    result.samples.map((/** @type {any} */ sample) =>
      h(
        'details',
        null,
        h('summary', null, `Sample ${sample.eventId}`),
        h(
          'div',
          { class: 'two' },
          h('div', null, h('h4', null, 'Before'), json(sample.before)),
          h('div', null, h('h4', null, 'After'), json(sample.after)),
        ),
      ),
    ),
    result.failures.map((/** @type {any} */ failure) =>
      h('p', { class: 'error-text' }, `${failure.eventId}: ${failure.error}`),
    ),
  );
}
