import { api, can, query } from '../api.js';
import { badge, field, h, json, replace, table, when } from '../dom.js';
import { loadInto, openDialog, pageHeader, problemView, run } from '../ui.js';

// Dead letters: the summary per stage, destination and error class; the list with filters;
// inspect one (headers and body, credential-like fields masked by the API); replay or resolve a
// selection (by ids, or everything the filter matches); and the replays with their progress.

/** @typedef {{ stage: string, destinationId: string, errorClass: string, status: string }} Filter */

/** @param {HTMLElement} container */
export function renderDeadLetters(container) {
  /** @type {Filter} */
  const filter = { stage: '', destinationId: '', errorClass: '', status: 'open' };
  const summary = h('div');
  const list = h('div');
  const replays = h('div');
  const output = h('div', { 'aria-live': 'polite' });
  const reload = () => {
    void loadInto(summary, () => summaryView(filter, applyFilter));
    void loadInto(list, () => listView(filter, output, reload));
    if (can('replays:read')) void loadInto(replays, replaysView);
  };
  /** @param {Partial<Filter>} change */
  const applyFilter = (change) => {
    Object.assign(filter, change);
    for (const [name, value] of Object.entries(filter)) {
      const control = /** @type {HTMLInputElement | null} */ (form.elements.namedItem(name));
      if (control) control.value = value;
    }
    reload();
  };

  const stage = h(
    'select',
    { name: 'stage' },
    ['', 'router', 'transformer', 'unknown'].map((value) => h('option', { value }, value || 'any')),
  );
  const destination = h('input', { name: 'destinationId', autocomplete: 'off' });
  const errorClass = h('input', { name: 'errorClass', autocomplete: 'off' });
  const status = h(
    'select',
    { name: 'status' },
    ['open', 'resolved', 'all'].map((value) => h('option', { value }, value)),
  );
  const form = /** @type {HTMLFormElement} */ (
    h(
      'form',
      { class: 'filters', 'aria-label': 'Filter dead letters' },
      field('Stage', stage),
      field('Destination id', destination),
      field('Error class', errorClass),
      field('Status', status),
      h('button', { type: 'submit' }, 'Apply filters'),
    )
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    applyFilter({
      stage: /** @type {HTMLSelectElement} */ (stage).value,
      destinationId: /** @type {HTMLInputElement} */ (destination).value.trim(),
      errorClass: /** @type {HTMLInputElement} */ (errorClass).value.trim(),
      status: /** @type {HTMLSelectElement} */ (status).value,
    });
  });

  replace(
    container,
    pageHeader('Dead letters'),
    h('section', { 'aria-labelledby': 'dl-summary' }, h('h2', { id: 'dl-summary' }, 'Summary'), summary),
    h('section', { 'aria-labelledby': 'dl-list' }, h('h2', { id: 'dl-list' }, 'Dead letters'), form, output, list),
    can('replays:read')
      ? h('section', { 'aria-labelledby': 'dl-replays' }, h('h2', { id: 'dl-replays' }, 'Replays'), replays)
      : null,
  );
  reload();
  // A replay resolves its dead letters as it publishes them, after its answer: the summary and
  // the replays' progress follow by themselves (the list keeps the reader's selection).
  const timer = setInterval(() => {
    void quietly(summary, () => summaryView(filter, applyFilter));
    if (can('replays:read')) void quietly(replays, replaysView);
  }, REFRESH_MS);
  return () => clearInterval(timer);
}

const REFRESH_MS = 5000;

/** Replaces a section's content when the load succeeds; keeps the last content otherwise. @param {HTMLElement} container @param {() => Promise<Node | Node[]>} load */
async function quietly(container, load) {
  try {
    const content = await load();
    if (container.isConnected) replace(container, content);
  } catch {
    // the next refresh tries again
  }
}

/** @param {Filter} filter */
const filterQuery = (filter) => ({
  stage: filter.stage,
  destinationId: filter.destinationId,
  errorClass: filter.errorClass,
  status: filter.status,
});

/** @param {Filter} filter @param {(change: Partial<Filter>) => void} applyFilter */
async function summaryView(filter, applyFilter) {
  const result = await api('GET', `/api/v1/dead-letters/summary${query({ status: filter.status })}`);
  return [
    h(
      'p',
      null,
      h('strong', { 'data-total': String(result.total) }, String(result.total)),
      ` dead letters (${filter.status}).`,
    ),
    table(
      'Per stage, destination and error class',
      ['Stage', 'Destination', 'Error class', 'Count', 'Oldest', 'Newest', ''],
      result.groups.map((/** @type {any} */ group) =>
        h(
          'tr',
          null,
          h('td', null, group.stage),
          h('td', null, group.destinationId ?? '—'),
          h('td', null, group.errorClass),
          h('td', null, String(group.count)),
          h('td', null, when(group.oldestAt)),
          h('td', null, when(group.newestAt)),
          h(
            'td',
            null,
            h(
              'button',
              {
                type: 'button',
                onclick: () =>
                  applyFilter({
                    stage: group.stage,
                    destinationId: group.destinationId ?? '',
                    errorClass: group.errorClass,
                  }),
              },
              'Show these',
            ),
          ),
        ),
      ),
    ),
  ];
}

/** @param {Filter} filter @param {HTMLElement} output @param {() => void} reload */
async function listView(filter, output, reload) {
  const page = await api('GET', `/api/v1/dead-letters${query({ ...filterQuery(filter), limit: 100 })}`);
  /** @type {Map<string, HTMLInputElement>} */
  const boxes = new Map();
  const selected = () => [...boxes].filter(([, box]) => box.checked).map(([id]) => id);
  const selection = () => {
    const ids = selected();
    if (ids.length) return { ids };
    const chosen = Object.fromEntries(Object.entries(filterQuery(filter)).filter(([, value]) => value !== ''));
    return { filter: chosen };
  };
  const describe = () => (selected().length ? `${selected().length} selected` : 'every dead letter the filter matches');

  const actions = [];
  if (can('dead-letters:replay'))
    actions.push(
      h(
        'button',
        {
          type: 'button',
          class: 'primary',
          onclick: (/** @type {Event} */ e) => {
            if (!confirm(`Replay ${describe()}?`)) return;
            void run(/** @type {HTMLButtonElement} */ (e.currentTarget), output, async () => {
              const replay = await api('POST', '/api/v1/dead-letters/replay', selection());
              replace(
                output,
                h(
                  'div',
                  { class: 'alert ok', role: 'status' },
                  `Replay ${replay.id} started for ${replay.progress.total} dead letter${replay.progress.total === 1 ? '' : 's'}; its progress is under Replays.`,
                ),
              );
              reload();
            });
          },
        },
        'Replay',
      ),
    );
  if (can('dead-letters:resolve'))
    actions.push(
      h(
        'button',
        {
          type: 'button',
          onclick: (/** @type {Event} */ e) => {
            if (!confirm(`Mark ${describe()} resolved?`)) return;
            void run(/** @type {HTMLButtonElement} */ (e.currentTarget), output, async () => {
              const result = await api('POST', '/api/v1/dead-letters/resolve', selection());
              replace(output, h('div', { class: 'alert ok', role: 'status' }, `${result.resolved} resolved.`));
              reload();
            });
          },
        },
        'Resolve',
      ),
    );

  const rows = page.items.map((/** @type {any} */ letter) => {
    const box = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', 'aria-label': `Select ${letter.id}` }));
    boxes.set(letter.id, box);
    return h(
      'tr',
      { 'data-id': letter.id },
      actions.length ? h('td', null, box) : null,
      h(
        'th',
        { scope: 'row' },
        h('button', { type: 'button', class: 'link', onclick: () => void inspect(letter.id) }, letter.id),
      ),
      h('td', null, letter.stage),
      h('td', null, letter.destinationId ?? '—'),
      h('td', null, letter.errorClass),
      h('td', null, h('span', { class: 'clip' }, letter.errorMessage)),
      h('td', null, String(letter.attempts)),
      h('td', null, when(letter.writtenAt)),
      h('td', null, letter.status === 'open' ? badge('open', 'warn') : badge(letter.resolution ?? 'resolved', 'ok')),
    );
  });
  return [
    actions.length
      ? h(
          'div',
          { class: 'actions' },
          h(
            'span',
            { class: 'muted' },
            'Acts on the selected rows, or on everything the filter matches when none is selected:',
          ),
          actions,
        )
      : null,
    table(
      `Newest first (${page.items.length}${page.nextCursor ? '+' : ''})`,
      [
        ...(actions.length ? ['Select'] : []),
        'Id',
        'Stage',
        'Destination',
        'Error class',
        'Message',
        'Attempts',
        'Written',
        'Status',
      ],
      rows,
    ),
  ];
}

/** @param {string} id */
async function inspect(id) {
  const body = h('div', null, h('p', null, 'Loading…'));
  openDialog(`Dead letter ${id}`, body);
  try {
    const letter = await api('GET', `/api/v1/dead-letters/${encodeURIComponent(id)}`);
    replace(
      body,
      h(
        'dl',
        { class: 'facts' },
        [
          ['Stage', letter.stage],
          ['Destination', letter.destinationId ?? '—'],
          ['Error', `${letter.errorClass}: ${letter.errorMessage}`],
          ['Attempts', String(letter.attempts)],
          ['First failed', when(letter.firstFailedAt)],
          [
            'Original',
            `${letter.original.topic ?? '?'} [${letter.original.partition ?? '?'}] @ ${letter.original.offset ?? '?'}`,
          ],
          ['Event id', letter.eventId ?? '—'],
          ['Status', letter.status + (letter.resolvedBy ? ` by ${letter.resolvedBy} ${when(letter.resolvedAt)}` : '')],
        ].map(([term, value]) => [h('dt', null, term), h('dd', null, value)]),
      ),
      h('h3', null, `Body (${letter.body.encoding}, ${letter.body.sizeBytes} bytes)`),
      letter.body.value !== undefined ? json(letter.body.value) : h('pre', { class: 'json' }, letter.body.base64 ?? ''),
      h('h3', null, 'Headers'),
      json(letter.headers),
    );
  } catch (error) {
    replace(body, problemView(error));
  }
}

async function replaysView() {
  const page = await api('GET', '/api/v1/replays?limit=20');
  return table(
    'Latest replays',
    ['Replay', 'Status', 'Requested by', 'Progress', 'Started', 'Ended'],
    page.items.map((/** @type {any} */ replay) =>
      h(
        'tr',
        { 'data-id': replay.id },
        h('th', { scope: 'row' }, replay.id),
        h(
          'td',
          null,
          badge(replay.status, replay.status === 'succeeded' ? 'ok' : replay.status === 'failed' ? 'bad' : 'busy'),
          replay.error ? h('p', { class: 'error-text' }, replay.error) : null,
        ),
        h('td', null, replay.requestedBy),
        h(
          'td',
          null,
          `${replay.progress.published}/${replay.progress.total} sent, ${replay.progress.delivered} delivered, ${replay.progress.deadLettered} failed again, ${replay.progress.filtered} filtered, ${replay.progress.skipped} skipped, ${replay.progress.awaitingReports} awaiting`,
        ),
        h('td', null, when(replay.createdAt)),
        h('td', null, when(replay.endedAt)),
      ),
    ),
  );
}
