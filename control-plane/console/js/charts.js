import { h, table } from './dom.js';

// Line charts drawn as SVG by the console itself (no chart library, nothing fetched), each with
// a table of the same figures for screen readers and for reading exact values. Series differ by
// dash pattern as well as by colour, so colour is never the only cue.

const NS = 'http://www.w3.org/2000/svg';
const WIDTH = 640;
const HEIGHT = 180;
const MARGIN = { top: 10, right: 12, bottom: 24, left: 48 };

/**
 * @typedef {{ name: string, values: Array<number | null> }} Series
 * @param {string} tag @param {Record<string, string | number>} attributes @param {...Node} children
 */
function svg(tag, attributes, ...children) {
  const element = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  element.append(...children);
  return element;
}

/** @param {number} value */
export const formatNumber = (value) =>
  value >= 100 ? String(Math.round(value)) : value >= 10 ? value.toFixed(1) : String(Math.round(value * 100) / 100);

/**
 * A chart of series over time, with its table alternative.
 * @param {{ id: string, title: string, unit: string, times: string[], series: Series[], windowMinutes: number }} options
 */
export function lineChart({ id, title, unit, times, series, windowMinutes }) {
  const titleId = `${id}-title`;
  const heading = h('h3', { id: titleId }, title);
  if (times.length === 0 || series.length === 0)
    return h(
      'figure',
      { class: 'chart', 'aria-labelledby': titleId },
      heading,
      h('p', { class: 'muted' }, 'No data yet: the services have not been read twice.'),
    );

  const max = Math.max(1e-9, ...series.flatMap((line) => line.values.map((value) => value ?? 0)));
  const top = niceCeiling(max);
  const end = Date.now();
  const start = end - windowMinutes * 60_000;
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (/** @type {string} */ at) => MARGIN.left + ((Date.parse(at) - start) / (end - start)) * plotWidth;
  const y = (/** @type {number} */ value) => MARGIN.top + plotHeight - (value / top) * plotHeight;

  const grid = [0, top / 2, top].map((value) =>
    svg(
      'g',
      { class: 'tick' },
      svg('line', { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(value), y2: y(value) }),
      svg(
        'text',
        { x: MARGIN.left - 6, y: y(value) + 4, 'text-anchor': 'end' },
        document.createTextNode(formatNumber(value)),
      ),
    ),
  );
  const timeLabels = [
    [start, `${windowMinutes} min ago`, 'start'],
    [start + (end - start) / 2, `${windowMinutes / 2} min ago`, 'middle'],
    [end, 'now', 'end'],
  ].map(([at, label, anchor]) =>
    svg(
      'text',
      {
        class: 'time',
        x: MARGIN.left + ((Number(at) - start) / (end - start)) * plotWidth,
        y: HEIGHT - 6,
        'text-anchor': String(anchor),
      },
      document.createTextNode(String(label)),
    ),
  );
  const lines = series.map((line, index) => {
    // A gap (a service that did not answer) breaks the line instead of drawing a false zero.
    const segments = [];
    let current = [];
    line.values.forEach((value, point) => {
      const at = times[point];
      if (value === null || at === undefined) {
        if (current.length) segments.push(current);
        current = [];
      } else current.push(`${x(at).toFixed(1)},${y(value).toFixed(1)}`);
    });
    if (current.length) segments.push(current);
    return svg(
      'g',
      { class: `series series-${index % 6}` },
      ...segments.map((points) =>
        points.length === 1
          ? svg('circle', { cx: points[0]?.split(',')[0] ?? 0, cy: points[0]?.split(',')[1] ?? 0, r: 2 })
          : svg('polyline', { points: points.join(' ') }),
      ),
    );
  });
  const latest = series
    .map(
      (line) => `${line.name} ${formatNumber([...line.values].reverse().find((value) => value !== null) ?? 0)} ${unit}`,
    )
    .join(', ');
  const description = `Last ${windowMinutes} minutes, highest ${formatNumber(max)} ${unit}; latest: ${latest}.`;
  const chart = svg(
    'svg',
    { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-labelledby': `${titleId} ${id}-desc`, class: 'chart-plot' },
    svg('desc', { id: `${id}-desc` }, document.createTextNode(description)),
    ...grid,
    ...timeLabels,
    ...lines,
  );
  const legend = h(
    'ul',
    { class: 'legend' },
    series.map((line, index) =>
      h(
        'li',
        null,
        svg(
          'svg',
          { viewBox: '0 0 24 8', class: `swatch series series-${index % 6}`, 'aria-hidden': 'true' },
          svg('line', { x1: 0, x2: 24, y1: 4, y2: 4 }),
        ),
        ` ${line.name}`,
      ),
    ),
  );
  const rows = times
    .map((at, point) =>
      h(
        'tr',
        null,
        h('th', { scope: 'row' }, new Date(at).toLocaleTimeString()),
        series.map((line) => h('td', null, line.values[point] === null ? '—' : formatNumber(line.values[point] ?? 0))),
      ),
    )
    .reverse();
  return h(
    'figure',
    { class: 'chart', 'aria-labelledby': titleId },
    heading,
    chart,
    legend,
    h(
      'details',
      { 'data-chart': id },
      h('summary', null, `${title} as a table`),
      table(`${title} (${unit}), newest first`, ['Time', ...series.map((line) => line.name)], rows),
    ),
  );
}

/** A round number at or above `value` for the top of the axis (1, 2, 5 × 10ⁿ). @param {number} value */
function niceCeiling(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}
