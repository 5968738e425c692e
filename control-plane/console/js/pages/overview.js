import { api, can } from '../api.js';
import { formatNumber, lineChart } from '../charts.js';
import { badge, h, replace, table } from '../dom.js';
import { pageHeader, problemView } from '../ui.js';

// The pipeline as a flow (sources → ingest → raw → transformer → events → router → each
// destination) with each stage's health, its rates per second on the stage and on the edge it
// feeds, what it did in the last hour, the transformer's and each destination's consumer lag and
// the dead letters waiting; then charts of the last hour's throughput and lag. From
// GET /api/v1/health, /api/v1/metrics/history (the services' own /metrics, read by the control
// plane) and /api/v1/dead-letters/summary, refreshed every few seconds.

const REFRESH_MS = 5000;
const WINDOW_MINUTES = 60;

/** @param {string} status */
const tone = (status) => (status === 'ok' ? 'ok' : status === 'failing' ? 'bad' : 'warn');

/** @param {string} title @param {string} status @param {Array<Node | string | null>} lines */
const stage = (title, status, lines) =>
  h('li', { class: `stage ${tone(status)}` }, h('h3', null, title), badge(status, tone(status)), lines);

/**
 * A figure with a data attribute naming it, so it can be found (and tested) by what it means.
 * @param {string} kind @param {string} key @param {string} text
 */
const figure = (kind, key, text) => h('span', { class: 'figure', [`data-${kind}`]: key }, text);

/** A rate per second, or a dash when the service was not read. @param {number | undefined} value */
const rate = (value) => (value === undefined ? '—' : `${formatNumber(value)}/s`);

/** @param {HTMLElement} container */
export function renderOverview(container) {
  const flow = h('div', { 'aria-live': 'off' }, h('p', null, 'Loading…'));
  const updated = h('p', { class: 'muted' });
  replace(container, pageHeader('Overview'), updated, flow);
  let stopped = false;

  const refresh = async () => {
    try {
      const [health, history, summary] = await Promise.all([
        api('GET', '/api/v1/health'),
        api('GET', `/api/v1/metrics/history?minutes=${WINDOW_MINUTES}`),
        can('dead-letters:read') ? api('GET', '/api/v1/dead-letters/summary') : Promise.resolve(null),
      ]);
      if (stopped) return;
      // A chart's table the reader opened stays open across refreshes.
      const open = new Set(
        [...flow.querySelectorAll('details[open][data-chart]')].map((d) => d.getAttribute('data-chart')),
      );
      replace(flow, draw(health, history, summary));
      for (const details of flow.querySelectorAll('details[data-chart]'))
        if (open.has(details.getAttribute('data-chart'))) details.setAttribute('open', '');
      replace(
        updated,
        `Updated ${new Date().toLocaleTimeString()} · refreshes every ${REFRESH_MS / 1000} s · the services' metrics are read every ${history.intervalSeconds} s`,
      );
    } catch (error) {
      if (!stopped) replace(flow, problemView(error));
    }
  };
  void refresh();
  const timer = setInterval(() => void refresh(), REFRESH_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

/** @param {any} health @param {any} history @param {any} summary */
function draw(health, history, summary) {
  const checks = health.checks ?? {};
  /** @type {Map<string, number>} open dead letters per destination id, or per stage ('stage:<name>') */
  const waiting = new Map();
  for (const group of summary?.groups ?? []) {
    const key = group.stage === 'router' ? (group.destinationId ?? '') : `stage:${group.stage}`;
    waiting.set(key, (waiting.get(key) ?? 0) + group.count);
  }
  const statusOf = (/** @type {string} */ name) => checks[name]?.status ?? 'unknown';
  const detailOf = (/** @type {string} */ name) =>
    checks[name]?.error ? h('p', { class: 'error-text' }, checks[name].error) : null;

  /** @type {any[]} */
  const points = history.points ?? [];
  const last = points.at(-1);
  const totals = history.totals;
  /** @type {Map<string, any>} the latest rates of each destination */
  const destinationRates = new Map((last?.destinations ?? []).map((/** @type {any} */ d) => [d.destinationId, d]));
  const destinationTotals = new Map(totals.destinations.map((/** @type {any} */ d) => [d.destinationId, d]));
  /** @type {Map<string, string>} */
  const names = new Map();

  // Groups of deleted destinations (no name) are counted, not drawn: the flow shows what runs.
  const current = (health.consumerLag ?? []).filter((/** @type {any} */ lag) => lag.destinationName !== undefined);
  const leftovers = (health.consumerLag ?? []).length - current.length;
  const destinations = current.map((/** @type {any} */ lag) => {
    names.set(lag.destinationId, lag.destinationName);
    const rates = destinationRates.get(lag.destinationId);
    const done = destinationTotals.get(lag.destinationId);
    return h(
      'li',
      { class: `stage destination ${lag.enabled === false ? 'warn' : lag.lag > 0 ? 'busy' : 'ok'}` },
      h('h3', null, lag.destinationName),
      lag.enabled === false ? badge('disabled', 'warn') : badge('enabled', 'ok'),
      h(
        'p',
        { class: 'edge' },
        '→ ',
        figure('rate', `delivered:${lag.destinationId}`, rate(rates?.delivered)),
        ' delivered',
      ),
      h('p', null, figure('lag', lag.destinationId, String(lag.lag)), ' events waiting (lag)'),
      h(
        'p',
        { class: 'muted' },
        'last hour: ',
        figure('total', `delivered:${lag.destinationId}`, String(done?.delivered ?? 0)),
        ' delivered, ',
        figure('total', `failed:${lag.destinationId}`, String(done?.failed ?? 0)),
        ' failed attempts, ',
        figure('total', `dead-lettered:${lag.destinationId}`, String(done?.deadLettered ?? 0)),
        ' dead-lettered',
      ),
      summary
        ? h(
            'p',
            null,
            figure('dead-letters', lag.destinationId, String(waiting.get(lag.destinationId) ?? 0)),
            ' dead letters open',
          )
        : null,
    );
  });

  const times = points.map((point) => point.at);
  const throughput = lineChart({
    id: 'chart-throughput',
    title: 'Throughput, last hour',
    unit: 'events/s',
    windowMinutes: WINDOW_MINUTES,
    times,
    series: [
      { name: 'accepted by ingest', values: points.map((point) => point.ingest?.accepted ?? null) },
      { name: 'normalized', values: points.map((point) => point.transformer?.normalized ?? null) },
      { name: 'delivered', values: points.map((point) => point.router?.delivered ?? null) },
      {
        name: 'dead-lettered',
        values: points.map((point) =>
          point.transformer && point.router ? point.transformer.deadLettered + point.router.deadLettered : null,
        ),
      },
    ],
  });
  const lagged = [
    ...new Set(points.flatMap((point) => point.destinations.map((/** @type {any} */ d) => d.destinationId))),
  ]
    .filter((id) => names.has(id))
    .slice(0, 6);
  const lag = lineChart({
    id: 'chart-lag',
    title: 'Consumer lag, last hour',
    unit: 'events',
    windowMinutes: WINDOW_MINUTES,
    times,
    series: lagged.map((id) => ({
      name: names.get(id) ?? id,
      values: points.map((point) => {
        if (!point.router) return null;
        return point.destinations.find((/** @type {any} */ d) => d.destinationId === id)?.lag ?? 0;
      }),
    })),
  });

  return [
    h(
      'section',
      { 'aria-labelledby': 'flow-title' },
      h('h2', { id: 'flow-title' }, 'Pipeline ', badge(health.status, health.status === 'ok' ? 'ok' : 'warn')),
      h(
        'ol',
        { class: 'flow' },
        stage('Ingest', statusOf('ingest'), [
          h('p', null, 'metrics API and connector syncs'),
          h(
            'p',
            { class: 'edge' },
            '→ ',
            figure('rate', 'ingest:accepted', rate(last?.ingest?.accepted)),
            ' accepted into the raw topic',
          ),
          h('p', null, figure('rate', 'ingest:failed', rate(last?.ingest?.failed)), ' requests refused'),
          h(
            'p',
            { class: 'muted' },
            'last hour: ',
            figure('total', 'ingest:accepted', String(totals.ingest.accepted)),
            ' accepted, ',
            figure('total', 'ingest:failed', String(totals.ingest.failed)),
            ' refused',
          ),
          detailOf('ingest'),
        ]),
        stage('Raw topic → transformer', statusOf('transformer'), [
          h(
            'p',
            null,
            figure('transformer-lag', '', String(health.transformerLag?.lag ?? '—')),
            ' records waiting to be normalized',
          ),
          h(
            'p',
            { class: 'edge' },
            '→ ',
            figure('rate', 'transformer:normalized', rate(last?.transformer?.normalized)),
            ' normalized into the events topic',
          ),
          h(
            'p',
            null,
            figure('rate', 'transformer:dead-lettered', rate(last?.transformer?.deadLettered)),
            ' dead-lettered',
          ),
          h(
            'p',
            { class: 'muted' },
            'last hour: ',
            figure('total', 'transformer:normalized', String(totals.transformer.normalized)),
            ' normalized, ',
            figure('total', 'transformer:dead-lettered', String(totals.transformer.deadLettered)),
            ' dead-lettered',
          ),
          summary
            ? h(
                'p',
                null,
                figure('dead-letters', 'stage:transformer', String(waiting.get('stage:transformer') ?? 0)),
                ' dead letters open',
              )
            : null,
          detailOf('transformer'),
        ]),
        stage('Events topic → router', statusOf('router'), [
          h('p', null, 'one consumer group per destination'),
          h(
            'p',
            { class: 'edge' },
            '→ ',
            figure('rate', 'router:delivered', rate(last?.router?.delivered)),
            ' delivered',
          ),
          h(
            'p',
            null,
            figure('rate', 'router:failed', rate(last?.router?.failed)),
            ' failed attempts, ',
            figure('rate', 'router:dead-lettered', rate(last?.router?.deadLettered)),
            ' dead-lettered',
          ),
          h(
            'p',
            { class: 'muted' },
            'last hour: ',
            figure('total', 'router:delivered', String(totals.router.delivered)),
            ' delivered',
          ),
          detailOf('router'),
        ]),
        h(
          'li',
          { class: 'stage-group' },
          h('h3', null, 'Destinations'),
          h('ul', { class: 'destinations' }, destinations.length ? destinations : h('li', null, 'No destination yet.')),
          leftovers ? h('p', { class: 'muted' }, `${leftovers} consumer groups of deleted destinations`) : null,
        ),
      ),
    ),
    h(
      'section',
      { 'aria-labelledby': 'charts-title', class: 'charts' },
      h('h2', { id: 'charts-title' }, 'Last hour'),
      throughput,
      lag,
    ),
    table(
      'Dependencies of the control plane',
      ['Dependency', 'Status', 'Detail'],
      Object.entries(checks).map(([name, check]) =>
        h(
          'tr',
          null,
          h('th', { scope: 'row' }, name),
          h('td', null, badge(check.status, tone(check.status))),
          h('td', null, check.error ?? ''),
        ),
      ),
    ),
  ];
}
