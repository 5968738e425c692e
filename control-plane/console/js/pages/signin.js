import { signIn } from '../api.js';
import { field, h, replace } from '../dom.js';
import { problemView } from '../ui.js';

// Sign-in with a local user (name or email and password) through POST /api/v1/auth/login.

/** @param {HTMLElement} container @param {() => void} done */
export function renderSignIn(container, done) {
  const username = h('input', { name: 'username', autocomplete: 'username', required: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const output = h('div', { 'aria-live': 'assertive' });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'card narrow', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title', tabindex: '-1' }, 'Sign in to Muxly'),
    field('User name or email', username),
    field('Password', password),
    output,
    button,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    /** @type {HTMLButtonElement} */ (button).disabled = true;
    replace(output);
    try {
      await signIn(/** @type {HTMLInputElement} */ (username).value, /** @type {HTMLInputElement} */ (password).value);
      done();
    } catch (error) {
      replace(output, problemView(error));
      /** @type {HTMLInputElement} */ (password).select();
    } finally {
      /** @type {HTMLButtonElement} */ (button).disabled = false;
    }
  });
  replace(container, form);
  username.focus();
}
