import { api, can } from '../api.js';
import { badge, h, replace, table } from '../dom.js';
import { pageHeader, problemView } from '../ui.js';

// The pipeline as a flow (sources → ingest → raw → transformer → events → router → each
// destination) with each stage's health, the transformer's and each destination's consumer lag,
// and the dead letters waiting, from GET /api/v1/health and /api/v1/dead-letters/summary,
// refreshed every few seconds. The lag charts cover the time since the page was opened.

const REFRESH_MS = 5000;
const HISTORY = 120; // points per chart: ten minutes at one point per refresh

/** @type {Map<string, number[]>} lag history per destination id, kept across visits of the page */
const history = new Map();

/** @param {string} status */
const tone = (status) => (status === 'ok' ? 'ok' : status === 'failing' ? 'bad' : 'warn');

/** @param {number[]} values */
function sparkline(values) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 120 30');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('role', 'img');
  const max = Math.max(1, ...values);
  svg.setAttribute('aria-label', `lag over the last ${values.length} samples, highest ${max}`);
  const points = values.map((value, index) => `${(index / Math.max(1, HISTORY - 1)) * 120},${28 - (value / max) * 26}`);
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', points.join(' '));
  svg.append(line);
  return svg;
}

/** @param {string} title @param {string} status @param {Array<Node | string | null>} lines */
const stage = (title, status, lines) =>
  h('li', { class: `stage ${tone(status)}` }, h('h3', null, title), badge(status, tone(status)), lines);

/** @param {HTMLElement} container */
export function renderOverview(container) {
  const flow = h('div', { 'aria-live': 'off' }, h('p', null, 'Loading…'));
  const updated = h('p', { class: 'muted' });
  replace(container, pageHeader('Overview'), updated, flow);
  let stopped = false;

  const refresh = async () => {
    try {
      const [health, summary] = await Promise.all([
        api('GET', '/api/v1/health'),
        can('dead-letters:read') ? api('GET', '/api/v1/dead-letters/summary') : Promise.resolve(null),
      ]);
      if (stopped) return;
      replace(flow, draw(health, summary));
      replace(updated, `Updated ${new Date().toLocaleTimeString()} · refreshes every ${REFRESH_MS / 1000} s`);
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

/** @param {any} health @param {any} summary */
function draw(health, summary) {
  const checks = health.checks ?? {};
  /** @type {Map<string, number>} open dead letters per destination id ('' for the transformer) */
  const waiting = new Map();
  for (const group of summary?.groups ?? []) {
    const key = group.stage === 'router' ? (group.destinationId ?? '') : `stage:${group.stage}`;
    waiting.set(key, (waiting.get(key) ?? 0) + group.count);
  }
  const statusOf = (/** @type {string} */ name) => checks[name]?.status ?? 'unknown';
  const detailOf = (/** @type {string} */ name) =>
    checks[name]?.error ? h('p', { class: 'error-text' }, checks[name].error) : null;

  for (const lag of health.consumerLag ?? []) {
    const values = history.get(lag.destinationId) ?? [];
    values.push(lag.lag);
    if (values.length > HISTORY) values.shift();
    history.set(lag.destinationId, values);
  }

  // Groups of deleted destinations (no name) are counted, not drawn: the flow shows what runs.
  const current = (health.consumerLag ?? []).filter((/** @type {any} */ lag) => lag.destinationName !== undefined);
  const leftovers = (health.consumerLag ?? []).length - current.length;
  const destinations = current.map((/** @type {any} */ lag) =>
    h(
      'li',
      { class: `stage destination ${lag.enabled === false ? 'warn' : lag.lag > 0 ? 'busy' : 'ok'}` },
      h('h3', null, lag.destinationName),
      lag.enabled === false ? badge('disabled', 'warn') : badge('enabled', 'ok'),
      h(
        'p',
        null,
        h('span', { class: 'figure', 'data-lag': lag.destinationId }, String(lag.lag)),
        ' events waiting (lag)',
      ),
      summary
        ? h(
            'p',
            null,
            h(
              'span',
              { class: 'figure', 'data-dead-letters': lag.destinationId },
              String(waiting.get(lag.destinationId) ?? 0),
            ),
            ' dead letters open',
          )
        : null,
      sparkline(history.get(lag.destinationId) ?? []),
    ),
  );

  return [
    h(
      'section',
      { 'aria-labelledby': 'flow-title' },
      h('h2', { id: 'flow-title' }, 'Pipeline ', badge(health.status, health.status === 'ok' ? 'ok' : 'warn')),
      h(
        'ol',
        { class: 'flow' },
        stage('Ingest', statusOf('ingest'), [h('p', null, 'metrics API and connector syncs'), detailOf('ingest')]),
        stage('Raw topic → transformer', statusOf('transformer'), [
          h(
            'p',
            null,
            h('span', { class: 'figure', 'data-transformer-lag': '' }, String(health.transformerLag?.lag ?? '—')),
            ' records waiting to be normalized',
          ),
          summary
            ? h(
                'p',
                null,
                h('span', { class: 'figure' }, String(waiting.get('stage:transformer') ?? 0)),
                ' dead letters open',
              )
            : null,
          detailOf('transformer'),
        ]),
        stage('Events topic → router', statusOf('router'), [
          h('p', null, 'one consumer group per destination'),
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
