import { ApiError } from './api.js';
import { h, replace } from './dom.js';

// Shared pieces of the pages: the message area, problem display, buttons that show they work.

/**
 * Shows an API problem (its detail and each pointer) or any error in an alert box.
 * @param {unknown} error
 */
export function problemView(error) {
  if (error instanceof ApiError) {
    return h(
      'div',
      { class: 'alert error', role: 'alert' },
      h('strong', null, `${error.problem?.title ?? 'Refused'} (${error.status})`),
      h('p', null, error.message),
      error.errors.length
        ? h(
            'ul',
            null,
            error.errors.map((item) => h('li', null, h('code', null, item.pointer ?? ''), ' ', item.detail ?? '')),
          )
        : null,
    );
  }
  return h('div', { class: 'alert error', role: 'alert' }, String(error instanceof Error ? error.message : error));
}

/** A notice announced to screen readers. @param {string} text @param {'ok' | 'error' | 'info'} [tone] */
export function notify(text, tone = 'ok') {
  const region = document.getElementById('notices');
  if (!region) return;
  const item = h('div', { class: `notice ${tone}` }, text);
  region.append(item);
  setTimeout(() => item.remove(), 6000);
}

/**
 * Runs an action from a button: disables it while running, shows the outcome in `output`.
 * @param {HTMLButtonElement} button @param {HTMLElement | null} output @param {() => Promise<unknown>} action
 */
export async function run(button, output, action) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  if (output) replace(output);
  try {
    return await action();
  } catch (error) {
    if (output) replace(output, problemView(error));
    else notify(error instanceof Error ? error.message : String(error), 'error');
    return undefined;
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

/**
 * A button for an action that cannot be undone: asks `question` first, then runs `action` as `run` does.
 * @param {string} label @param {string} question @param {HTMLElement | null} output @param {() => Promise<unknown>} action
 */
export const confirmedButton = (label, question, output, action) =>
  h(
    'button',
    {
      type: 'button',
      class: 'danger',
      onclick: (/** @type {Event} */ e) => {
        if (!confirm(question)) return;
        void run(/** @type {HTMLButtonElement} */ (e.currentTarget), output, action);
      },
    },
    label,
  );

/** A page heading with optional actions on the right. @param {string} title @param {...Node | null | false} actions */
export const pageHeader = (title, ...actions) =>
  h('div', { class: 'page-header' }, h('h1', { tabindex: '-1' }, title), h('div', { class: 'actions' }, actions));

/** Loads data into a container, showing a problem instead when it fails. @param {HTMLElement} container @param {() => Promise<Node | Node[]>} load */
export async function loadInto(container, load) {
  container.setAttribute('aria-busy', 'true');
  try {
    const content = await load();
    replace(container, content);
  } catch (error) {
    replace(container, problemView(error));
  } finally {
    container.removeAttribute('aria-busy');
  }
}

/** A dialog (native <dialog>: focus trap and Escape come with it). @param {string} title @param {Node} content */
export function openDialog(title, content) {
  const titleId = `dialog-${Math.random().toString(36).slice(2)}`;
  const dialog = h(
    'dialog',
    { 'aria-labelledby': titleId },
    h(
      'div',
      { class: 'dialog-head' },
      h('h2', { id: titleId }, title),
      h('button', { type: 'button', class: 'ghost', 'aria-label': 'Close', onclick: () => dialog.close() }, '✕'),
    ),
    content,
  );
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  /** @type {HTMLDialogElement} */ (dialog).showModal();
  return /** @type {HTMLDialogElement} */ (dialog);
}
