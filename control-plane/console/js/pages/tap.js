import { authorizedFetch, problemOf, query } from '../api.js';
import { badge, field, h, json, replace } from '../dom.js';
import { pageHeader, problemView } from '../ui.js';

// The live tap: follows a metric (or a filter) through the pipeline as it happens, from
// GET /api/v1/tap (server-sent events). EventSource cannot send the Authorization header, so the
// stream is read with fetch and parsed here; leaving the page or Stop aborts it, and the server
// then deletes the tap's consumer group.

const KEEP = 200; // stream entries kept on the page (oldest dropped)

/** @param {string} stage */
const stageTone = (stage) =>
  stage === 'ready' ? 'ok' : stage === 'error' || stage === 'dropped' ? 'bad' : stage === 'delivery' ? 'ok' : 'busy';

/** A one-line summary of a stream message. @param {string} stage @param {any} data */
function summary(stage, data) {
  switch (stage) {
    case 'ready':
      return 'Following: every record written from now on is seen.';
    case 'raw':
      return `${data.format ?? 'raw record'} from ${data.source?.type ?? '?'}/${data.source?.id ?? '?'}: ${data.matchingItems} matching item(s) (${data.topic} [${data.partition}] @ ${data.offset})`;
    case 'event':
      return `${data.event?.kind ?? 'event'} ${data.event?.name ?? ''} = ${data.event?.value ?? '—'} (${data.event?.id ?? ''})`;
    case 'delivery':
      return `${data.outcome} to ${data.destinationId} by rule ${data.ruleId ?? '—'} (attempt ${data.attempts ?? 1})${data.error ? `: ${data.error}` : ''}`;
    case 'dropped':
      return `${data.count ?? data.dropped ?? '?'} stream events left out by the rate limit: narrow the filter.`;
    case 'error':
      return `The tap stopped: ${data.detail ?? data.message ?? JSON.stringify(data)}`;
    default:
      return JSON.stringify(data);
  }
}

/** @param {HTMLElement} container */
export function renderTap(container) {
  const name = h('input', { name: 'name', autocomplete: 'off' });
  const source = h('input', { name: 'source', autocomplete: 'off' });
  const dimensions = h('textarea', { name: 'dimensions', rows: 2, spellcheck: 'false', placeholder: 'plan=pro' });
  const state = h('p', { class: 'muted', 'data-tap-state': 'stopped' }, 'Not following.');
  const output = h('div');
  const log = h('ol', { class: 'tap-log' });
  const start = h('button', { type: 'submit', class: 'primary' }, 'Follow');
  const stop = h('button', { type: 'button', disabled: true }, 'Stop');
  /** @type {AbortController | null} */
  let controller = null;

  /** @param {string} text @param {string} value */
  const setState = (text, value) => {
    replace(state, text);
    state.setAttribute('data-tap-state', value);
  };
  const halt = () => {
    controller?.abort();
    controller = null;
    /** @type {HTMLButtonElement} */ (start).disabled = false;
    /** @type {HTMLButtonElement} */ (stop).disabled = true;
  };
  /** @param {string} stage @param {any} data */
  const show = (stage, data) => {
    log.prepend(
      h(
        'li',
        { 'data-stage': stage },
        h('span', { class: 'muted' }, new Date().toLocaleTimeString()),
        ' ',
        badge(stage, stageTone(stage)),
        ' ',
        summary(stage, data),
        stage === 'ready' ? null : h('details', null, h('summary', null, 'Details'), json(data)),
      ),
    );
    while (log.children.length > KEEP) log.lastElementChild?.remove();
  };

  const form = h(
    'form',
    { class: 'filters', 'aria-label': 'What to follow' },
    field('Metric or event name', name),
    field('Source (type or id)', source),
    field('Dimensions (key=value, one a line)', dimensions),
    h('div', { class: 'actions' }, start, stop),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    halt();
    replace(output);
    const params = new URLSearchParams(
      query({
        name: /** @type {HTMLInputElement} */ (name).value.trim(),
        source: /** @type {HTMLInputElement} */ (source).value.trim(),
      }).slice(1),
    );
    for (const line of /** @type {HTMLTextAreaElement} */ (dimensions).value.split('\n')) {
      if (line.trim()) params.append('dimension', line.trim());
    }
    const current = new AbortController();
    controller = current;
    /** @type {HTMLButtonElement} */ (start).disabled = true;
    /** @type {HTMLButtonElement} */ (stop).disabled = false;
    setState('Connecting…', 'connecting');
    void follow(`/api/v1/tap?${params}`, current.signal, (stage, data) => {
      if (stage === 'ready') setState('Following: new records appear below as they pass each stage.', 'ready');
      if (stage === 'error') setState('The tap stopped.', 'stopped');
      show(stage, data);
    })
      .catch((error) => {
        if (current.signal.aborted) return;
        replace(output, problemView(error));
      })
      .finally(() => {
        if (controller === current) halt();
        if (state.getAttribute('data-tap-state') !== 'stopped') setState('Not following.', 'stopped');
      });
  });
  stop.addEventListener('click', () => {
    halt();
    setState('Not following.', 'stopped');
  });

  replace(
    container,
    pageHeader('Live tap'),
    h(
      'p',
      null,
      'Follow a metric through ingest, the transformer and each destination as it happens. Give at least one filter.',
    ),
    form,
    state,
    output,
    // A live region around the list (a role on the list itself would hide its items' list semantics).
    h('div', { role: 'log', 'aria-label': 'Tap stream, newest first' }, log),
  );
  return halt;
}

/**
 * Reads a server-sent event stream and calls `onMessage` per message.
 * @param {string} path @param {AbortSignal} signal @param {(stage: string, data: any) => void} onMessage
 */
async function follow(path, signal, onMessage) {
  const answer = await authorizedFetch(path, { method: 'GET', headers: { accept: 'text/event-stream' }, signal });
  if (!answer.ok) throw await problemOf(answer);
  if (!answer.body) throw new Error('the browser gave no stream');
  const reader = answer.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    // Messages end with a blank line; lines starting with ":" are keep-alive comments.
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let stage = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) stage = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length === 0) continue;
      let parsed;
      try {
        parsed = JSON.parse(data.join('\n'));
      } catch {
        parsed = data.join('\n');
      }
      onMessage(stage, parsed);
    }
  }
}
