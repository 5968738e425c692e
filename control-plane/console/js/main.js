import { can, currentUser, isSignedIn, loadMe, onSignedOut, signInWithSso, signOut } from './api.js';
import { completeSsoSignIn, ssoAnswerInAddress } from './sso.js';
import { h, replace } from './dom.js';
import { problemView } from './ui.js';
import { renderSignIn } from './pages/signin.js';
import { renderOverview } from './pages/overview.js';
import { renderPlugins } from './pages/plugins.js';
import { renderRules } from './pages/rules.js';
import { renderRoutes } from './pages/routes.js';
import { renderJobs } from './pages/jobs.js';
import { renderDeadLetters } from './pages/dead-letters.js';
import { renderAdmin } from './pages/admin.js';
import { renderTap } from './pages/tap.js';

// The console's shell: a hash router (#/overview, #/destinations, …), the navigation (only the
// pages the signed-in user may read), and the page area. A page is a function that fills its
// container and may return a cleanup (timers) run when the reader leaves it.

/** @typedef {(container: HTMLElement) => (void | (() => void) | Promise<void | (() => void)>)} Page */

/** @type {{ path: string, title: string, permission: string, page: Page }[]} */
const PAGES = [
  { path: 'overview', title: 'Overview', permission: 'health:read', page: renderOverview },
  {
    path: 'connectors',
    title: 'Connectors',
    permission: 'connectors:read',
    page: (c) => renderPlugins(c, 'connector'),
  },
  {
    path: 'destinations',
    title: 'Destinations',
    permission: 'destinations:read',
    page: (c) => renderPlugins(c, 'destination'),
  },
  { path: 'rules', title: 'Rules', permission: 'routing-rules:read', page: renderRules },
  { path: 'routes', title: 'Routes', permission: 'routes:read', page: renderRoutes },
  { path: 'jobs', title: 'Jobs', permission: 'jobs:read', page: renderJobs },
  { path: 'dead-letters', title: 'Dead letters', permission: 'dead-letters:read', page: renderDeadLetters },
  { path: 'tap', title: 'Live tap', permission: 'tap:read', page: renderTap },
  { path: 'admin', title: 'Administration', permission: 'users:read', page: renderAdmin },
];

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const nav = /** @type {HTMLElement} */ (document.getElementById('nav'));
const account = /** @type {HTMLElement} */ (document.getElementById('account'));
/** @type {(() => void) | void} */
let cleanup;
/** Why the last SSO sign-in did not work, shown once on the sign-in page. @type {unknown} */
let signInProblem;

const visiblePages = () =>
  PAGES.filter((entry) => can(entry.permission) || (entry.path === 'admin' && canAdminister()));
const canAdminister = () => can('users:read') || can('roles:read') || can('api-keys:read');

function renderChrome() {
  const user = currentUser();
  const current = location.hash.replace(/^#\/?/, '').split('/')[0];
  replace(
    nav,
    user
      ? h(
          'ul',
          null,
          visiblePages().map((entry) =>
            h(
              'li',
              null,
              h(
                'a',
                { href: `#/${entry.path}`, 'aria-current': entry.path === current ? 'page' : undefined },
                entry.title,
              ),
            ),
          ),
        )
      : null,
  );
  replace(
    account,
    user
      ? [
          h('span', { class: 'who' }, user.displayName ?? user.username, ' · ', user.roles.join(', ') || 'no role'),
          h(
            'button',
            {
              type: 'button',
              class: 'ghost',
              onclick: async () => {
                // A Keycloak user leaves for the realm's sign-out page; changing the hash now would cancel that.
                if (await signOut()) location.hash = '#/signin';
              },
            },
            'Sign out',
          ),
        ]
      : null,
  );
}

async function route() {
  if (typeof cleanup === 'function') cleanup();
  cleanup = undefined;
  const path = location.hash.replace(/^#\/?/, '').split('/')[0] || '';
  if (!isSignedIn()) {
    renderChrome();
    if (path !== 'signin') location.hash = '#/signin';
    else renderSignIn(main, () => void onSignedIn(), signInProblem);
    signInProblem = undefined;
    return;
  }
  if (!currentUser()) {
    try {
      await loadMe();
    } catch (error) {
      if (!isSignedIn()) return route();
      replace(main, problemView(error));
      return;
    }
  }
  const pages = visiblePages();
  const entry = pages.find((candidate) => candidate.path === path);
  if (!entry) {
    location.hash = `#/${pages[0]?.path ?? 'signin'}`;
    if (!pages.length) replace(main, h('p', null, 'Your role grants no page of the console.'));
    return;
  }
  renderChrome();
  document.title = `${entry.title} · Muxly`;
  main.replaceChildren();
  try {
    cleanup = await entry.page(main);
  } catch (error) {
    replace(main, problemView(error));
  }
  // Move focus to the new page's heading, so keyboard and screen-reader users land on it.
  /** @type {HTMLElement | null} */ (main.querySelector('h1'))?.focus();
}

async function onSignedIn() {
  location.hash = '#/overview';
  await route();
}

onSignedOut(() => {
  location.hash = '#/signin';
});
window.addEventListener('hashchange', () => void route());
// The skip link moves focus without touching the hash (the hash is the router's).
document.querySelector('.skip')?.addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});
// Back from the realm's sign-in page: the code in the address is traded for tokens first.
async function start() {
  const answer = ssoAnswerInAddress();
  if (answer) {
    try {
      await signInWithSso(await completeSsoSignIn(answer));
      history.replaceState(null, '', '#/overview');
    } catch (error) {
      signInProblem = error;
    }
  }
  await route();
}
void start();
