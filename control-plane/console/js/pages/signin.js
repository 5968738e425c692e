import { signIn } from '../api.js';
import { field, h, replace } from '../dom.js';
import { ssoProvider, startSsoSignIn } from '../sso.js';
import { problemView } from '../ui.js';

// Sign-in with a local user (name or email and password) through POST /api/v1/auth/login, and,
// when the control plane names a Keycloak realm for the console, "Sign in with SSO" (sso.js).

/**
 * @param {HTMLElement} container @param {() => void} done
 * @param {unknown} [problem] why the last SSO sign-in did not work
 */
export function renderSignIn(container, done, problem) {
  const username = h('input', { name: 'username', autocomplete: 'username', required: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const output = h('div', { 'aria-live': 'assertive' }, problem ? problemView(problem) : null);
  const sso = h('div', { class: 'sso' });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'card narrow', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title', tabindex: '-1' }, 'Sign in to Muxly'),
    field('User name or email', username),
    field('Password', password),
    output,
    button,
    sso,
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
  void offerSso(sso, output);
}

/** Adds "Sign in with SSO" when a realm is configured for the console. @param {HTMLElement} place @param {HTMLElement} output */
async function offerSso(place, output) {
  const provider = await ssoProvider().catch(() => null);
  if (!provider) return;
  const button = h('button', { type: 'button' }, 'Sign in with SSO');
  button.addEventListener('click', async () => {
    /** @type {HTMLButtonElement} */ (button).disabled = true;
    try {
      await startSsoSignIn(provider);
    } catch (error) {
      replace(output, problemView(error));
      /** @type {HTMLButtonElement} */ (button).disabled = false;
    }
  });
  replace(place, h('p', { class: 'muted' }, 'Or with your organisation’s account:'), button);
}
