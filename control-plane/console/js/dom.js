// Small DOM helpers. Text always goes in as text nodes (never innerHTML), so data from the API
// cannot inject markup.

/**
 * Creates an element: h('button', { class: 'primary', onclick: fn }, 'Save').
 * @param {string} tag
 * @param {Record<string, unknown> | null} [attributes]
 * @param {...(Node | string | number | null | undefined | false | Array<Node | string | null | undefined | false>)} children
 * @returns {HTMLElement}
 */
export function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (name === 'value' && 'value' in element) element.value = String(value);
    else if (name === 'checked' && element instanceof HTMLInputElement) element.checked = Boolean(value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

/** @param {Element} parent @param {unknown[]} children */
function append(parent, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces an element's content. @param {Element} element @param {...unknown} children */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

let idCounter = 0;
/** A unique id for label/input pairs. @param {string} prefix */
export const uniqueId = (prefix) => `${prefix}-${++idCounter}`;

/**
 * A labelled field: the label is tied to the control by id (screen readers announce it).
 * @param {string} label @param {HTMLElement} control @param {string} [hint]
 */
export function field(label, control, hint) {
  const id = control.id || uniqueId('field');
  control.id = id;
  const hintId = hint ? `${id}-hint` : undefined;
  if (hintId) control.setAttribute('aria-describedby', hintId);
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    control,
    hint ? h('small', { id: hintId }, hint) : null,
  );
}

/** A table with a caption and column headers. @param {string} caption @param {string[]} headers @param {Node[]} rows */
export function table(caption, headers, rows) {
  return h(
    'div',
    // Focusable and named: a table wider than a phone scrolls sideways, by keyboard too.
    { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption },
    h(
      'table',
      null,
      h('caption', null, caption),
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          headers.map((text) => h('th', { scope: 'col' }, text)),
        ),
      ),
      h('tbody', null, rows.length ? rows : h('tr', null, h('td', { colspan: headers.length }, 'Nothing here yet.'))),
    ),
  );
}

/** A status badge whose meaning is in its text, not only its colour. @param {string} text @param {string} [tone] */
export const badge = (text, tone = 'neutral') => h('span', { class: `badge ${tone}` }, text);

/** Formats a timestamp for people (local time), or a dash. @param {string | null | undefined} value */
export const when = (value) => (value ? new Date(value).toLocaleString() : '—');

/** Pretty JSON in a <pre>. @param {unknown} value */
export const json = (value) => h('pre', { class: 'json' }, JSON.stringify(value, null, 2));
