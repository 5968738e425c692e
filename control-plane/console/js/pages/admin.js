import { api, can, currentUser } from '../api.js';
import { badge, field, h, replace, table, when } from '../dom.js';
import { confirmedButton, loadInto, notify, openDialog, pageHeader, problemView, run } from '../ui.js';

// Administration: local users, roles and API keys, each shown only to those whose role allows
// reading it, with write actions only for those who may write. An API key's secret is shown
// once, in the answer that created it. Nobody grants what they do not hold (the API refuses it),
// so a permission, a role or a user beyond the signed-in user's own permissions is not offered.

/** @param {HTMLElement} container */
export function renderAdmin(container) {
  const users = h('div');
  const roles = h('div');
  const keys = h('div');
  const reloadUsers = () => loadInto(users, () => usersView(reloadUsers));
  const loadRoles = () => loadInto(roles, () => rolesView(rolesChanged));
  // The users' rows offer the roles that exist, so a role made, changed or deleted redraws them.
  const rolesChanged = () => {
    void loadRoles();
    if (can('users:read')) void reloadUsers();
  };
  const reloadKeys = () => loadInto(keys, () => keysView(reloadKeys));
  replace(
    container,
    pageHeader('Administration'),
    can('users:read')
      ? h(
          'section',
          { 'aria-labelledby': 'admin-users' },
          h('h2', { id: 'admin-users' }, 'Users'),
          can('users:write')
            ? h('button', { type: 'button', onclick: () => void openUserEditor(reloadUsers) }, 'New user')
            : null,
          users,
        )
      : null,
    can('roles:read')
      ? h(
          'section',
          { 'aria-labelledby': 'admin-roles' },
          h('h2', { id: 'admin-roles' }, 'Roles'),
          can('roles:write')
            ? h('button', { type: 'button', onclick: () => void openRoleEditor(null, rolesChanged) }, 'New role')
            : null,
          roles,
        )
      : null,
    can('api-keys:read')
      ? h(
          'section',
          { 'aria-labelledby': 'admin-keys' },
          h('h2', { id: 'admin-keys' }, 'API keys'),
          can('api-keys:write')
            ? h('button', { type: 'button', onclick: () => void openKeyEditor(reloadKeys) }, 'New API key')
            : null,
          keys,
        )
      : null,
  );
  if (can('users:read')) void reloadUsers();
  if (can('roles:read')) void loadRoles();
  if (can('api-keys:read')) void reloadKeys();
}

/** The roles, when the signed-in user may read them (empty otherwise). */
const readRoles = async () => (can('roles:read') ? (await api('GET', '/api/v1/roles')).items : []);

/** Whether every permission of these roles is one the signed-in user holds. @param {any[]} roles @param {string[]} names */
const holdsAllOf = (roles, names) =>
  roles.filter((role) => names.includes(role.name)).every((role) => role.permissions.every(can));

/** @param {() => void} reload */
async function usersView(reload) {
  const [{ items }, roles] = await Promise.all([api('GET', '/api/v1/users'), readRoles()]);
  return table(
    `Users (${items.length})`,
    ['User', 'Email', 'Roles', 'Status', 'Created', 'Actions'],
    items.map((/** @type {any} */ user) => {
      const output = h('div', { class: 'row-output' });
      const self = user.id === currentUser()?.id;
      // A user holding more than the signed-in user cannot be changed by them.
      const manageable = can('users:write') && !self && holdsAllOf(roles, user.roles);
      return h(
        'tr',
        { 'data-id': user.id },
        h(
          'th',
          { scope: 'row' },
          user.displayName ?? user.username,
          h('br'),
          h('small', { class: 'muted' }, user.username),
        ),
        h('td', null, user.email ?? '—'),
        h('td', null, user.roles.join(', ')),
        h('td', null, user.disabled ? badge('disabled', 'warn') : badge('active', 'ok')),
        h('td', null, when(user.createdAt)),
        h(
          'td',
          null,
          manageable && can('roles:read')
            ? h('button', { type: 'button', onclick: () => void openUserRoles(user, roles, reload) }, 'Roles')
            : null,
          manageable ? ' ' : null,
          manageable
            ? h(
                'button',
                {
                  type: 'button',
                  onclick: (/** @type {Event} */ e) =>
                    void run(/** @type {HTMLButtonElement} */ (e.currentTarget), output, async () => {
                      await api('PATCH', `/api/v1/users/${encodeURIComponent(user.id)}`, { disabled: !user.disabled });
                      notify(`${user.username} ${user.disabled ? 'enabled' : 'disabled'}`);
                      reload();
                    }),
                },
                user.disabled ? 'Enable' : 'Disable',
              )
            : null,
          manageable ? ' ' : null,
          manageable
            ? confirmedButton(
                'Delete',
                `Delete the user ${user.username}? Their API keys are deleted with them.`,
                output,
                async () => {
                  await api('DELETE', `/api/v1/users/${encodeURIComponent(user.id)}`);
                  notify(`User ${user.username} deleted`);
                  reload();
                },
              )
            : null,
          output,
        ),
      );
    }),
  );
}

/** @param {() => void} reload */
async function rolesView(reload) {
  const { items } = await api('GET', '/api/v1/roles');
  return table(
    'Roles',
    ['Role', 'Kind', 'Permissions', 'Actions'],
    items.map((/** @type {any} */ role) => {
      const output = h('div', { class: 'row-output' });
      // Built-in roles are read-only (the API keeps them in step with its operations).
      const editable = can('roles:write') && !role.builtin;
      return h(
        'tr',
        { 'data-role': role.name },
        h('th', { scope: 'row' }, role.name, role.description ? h('p', { class: 'muted' }, role.description) : null),
        h('td', null, role.builtin ? 'built-in (read-only)' : 'custom'),
        h('td', null, h('span', { class: 'clip' }, role.permissions.join(', ') || 'none')),
        h(
          'td',
          null,
          editable
            ? [
                h('button', { type: 'button', onclick: () => void openRoleEditor(role, reload) }, 'Edit'),
                ' ',
                confirmedButton('Delete', `Delete the role ${role.name}?`, output, async () => {
                  await api('DELETE', `/api/v1/roles/${encodeURIComponent(role.id)}`);
                  notify(`Role ${role.name} deleted`);
                  reload();
                }),
              ]
            : null,
          output,
        ),
      );
    }),
  );
}

/** Groups permissions by resource (`routes:read`, `routes:write` → routes). @param {string[]} permissions */
function byResource(permissions) {
  /** @type {Map<string, string[]>} */
  const groups = new Map();
  for (const permission of [...permissions].sort()) {
    const resource = permission.slice(0, permission.indexOf(':'));
    groups.set(resource, [...(groups.get(resource) ?? []), permission]);
  }
  return groups;
}

/** @param {any | null} existing @param {() => void} reload */
async function openRoleEditor(existing, reload) {
  const body = h('div', null, h('p', null, 'Loading…'));
  const dialog = openDialog(existing ? `Role ${existing.name}` : 'New role', body);
  try {
    const { items: catalogue } = await api('GET', '/api/v1/permissions');
    const had = new Set(existing?.permissions ?? []);
    const name = /** @type {HTMLInputElement} */ (h('input', { name: 'name', required: true, autocomplete: 'off' }));
    const description = /** @type {HTMLInputElement} */ (
      h('input', { name: 'description', autocomplete: 'off', value: existing?.description ?? '' })
    );
    // A permission the signed-in user does not hold cannot be granted by them: shown, not offered.
    const boxes = /** @type {string[]} */ (catalogue).map((permission) => ({
      permission,
      box: /** @type {HTMLInputElement} */ (
        h('input', { type: 'checkbox', value: permission, checked: had.has(permission), disabled: !can(permission) })
      ),
    }));
    const output = h('div', { 'aria-live': 'assertive' });
    const save = h('button', { type: 'submit', class: 'primary' }, existing ? 'Save' : 'Create');
    const form = h(
      'form',
      { class: 'editor' },
      existing ? null : field('Role name', name, 'Letters, digits, dot, dash and underscore.'),
      field('Description (optional)', description),
      h(
        'fieldset',
        { class: 'scopes permissions' },
        h('legend', null, 'Permissions'),
        [...byResource(catalogue)].map(([resource, permissions]) =>
          h(
            'div',
            { class: 'permission-group', role: 'group', 'aria-label': resource },
            boxes
              .filter((entry) => permissions.includes(entry.permission))
              .map((entry) => h('label', { class: 'check' }, entry.box, ' ', entry.permission)),
          ),
        ),
      ),
      output,
      h('div', { class: 'actions' }, save, h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel')),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void run(/** @type {HTMLButtonElement} */ (save), output, async () => {
        const permissions = boxes.filter((entry) => entry.box.checked).map((entry) => entry.permission);
        const text = description.value.trim();
        if (existing) {
          await api('PATCH', `/api/v1/roles/${encodeURIComponent(existing.id)}`, {
            description: text || null,
            permissions,
          });
        } else {
          await api('POST', '/api/v1/roles', { name: name.value.trim(), description: text || null, permissions });
        }
        notify(`Role ${existing?.name ?? name.value.trim()} saved`);
        dialog.close();
        reload();
      });
    });
    replace(body, form);
  } catch (error) {
    replace(body, problemView(error));
  }
}

/** @param {any} user @param {any[]} roles @param {() => void} reload */
function openUserRoles(user, roles, reload) {
  const boxes = roles.map((role) => ({
    name: role.name,
    box: /** @type {HTMLInputElement} */ (
      h('input', {
        type: 'checkbox',
        value: role.name,
        checked: user.roles.includes(role.name),
        // A role carrying a permission the signed-in user does not hold is not theirs to give.
        disabled: !user.roles.includes(role.name) && !holdsAllOf(roles, [role.name]),
      })
    ),
  }));
  const output = h('div', { 'aria-live': 'assertive' });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
  const form = h(
    'form',
    { class: 'editor' },
    h(
      'fieldset',
      null,
      h('legend', null, `Roles of ${user.username}`),
      boxes.map((entry) => h('label', { class: 'check' }, entry.box, ' ', entry.name)),
    ),
    output,
    h('div', { class: 'actions' }, save, h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel')),
  );
  const dialog = openDialog(`Roles of ${user.username}`, form);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run(/** @type {HTMLButtonElement} */ (save), output, async () => {
      const chosen = boxes.filter((entry) => entry.box.checked).map((entry) => entry.name);
      await api('PATCH', `/api/v1/users/${encodeURIComponent(user.id)}`, { roles: chosen });
      notify(`Roles of ${user.username}: ${chosen.join(', ') || 'none'}`);
      dialog.close();
      reload();
    });
  });
}

/** @param {() => void} reload */
async function keysView(reload) {
  const { items } = await api('GET', '/api/v1/api-keys');
  return table(
    `API keys (${items.length})`,
    ['Name', 'Prefix', 'Scopes', 'Status', 'Created', 'Expires', 'Actions'],
    items.map((/** @type {any} */ key) =>
      h(
        'tr',
        { 'data-id': key.id },
        h('th', { scope: 'row' }, key.name),
        h('td', null, h('code', null, `${key.prefix}…`)),
        h('td', null, h('span', { class: 'clip' }, key.scopes.join(', '))),
        h('td', null, key.active ? badge('active', 'ok') : badge(key.revokedAt ? 'revoked' : 'inactive', 'warn')),
        h('td', null, when(key.createdAt)),
        h('td', null, when(key.expiresAt)),
        h(
          'td',
          null,
          can('api-keys:write') && !key.revokedAt
            ? h(
                'button',
                {
                  type: 'button',
                  class: 'danger',
                  onclick: (/** @type {Event} */ e) => {
                    if (!confirm(`Revoke the key ${key.name}?`)) return;
                    void run(/** @type {HTMLButtonElement} */ (e.currentTarget), null, async () => {
                      await api('DELETE', `/api/v1/api-keys/${encodeURIComponent(key.id)}`);
                      notify(`${key.name} revoked`);
                      reload();
                    });
                  },
                },
                'Revoke',
              )
            : null,
        ),
      ),
    ),
  );
}

/** @param {() => void} reload */
async function openUserEditor(reload) {
  const body = h('div', null, h('p', null, 'Loading…'));
  const dialog = openDialog('New user', body);
  try {
    const { items: roles } = can('roles:read') ? await api('GET', '/api/v1/roles') : { items: [] };
    const username = h('input', { name: 'username', required: true, autocomplete: 'off' });
    const email = h('input', { name: 'email', type: 'email', autocomplete: 'off' });
    const password = h('input', { name: 'password', type: 'password', required: true, autocomplete: 'new-password' });
    const boxes = roles.map((/** @type {any} */ role) => ({
      name: role.name,
      box: /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', value: role.name })),
    }));
    const output = h('div', { 'aria-live': 'assertive' });
    const save = h('button', { type: 'submit', class: 'primary' }, 'Create');
    const form = h(
      'form',
      { class: 'editor' },
      field('User name', username),
      field('Email (optional)', email),
      field('Password', password),
      h(
        'fieldset',
        null,
        h('legend', null, 'Roles'),
        boxes.map((/** @type {any} */ entry) => h('label', { class: 'check' }, entry.box, ' ', entry.name)),
      ),
      output,
      h('div', { class: 'actions' }, save, h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel')),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void run(/** @type {HTMLButtonElement} */ (save), output, async () => {
        const emailValue = /** @type {HTMLInputElement} */ (email).value.trim();
        await api('POST', '/api/v1/users', {
          username: /** @type {HTMLInputElement} */ (username).value.trim(),
          password: /** @type {HTMLInputElement} */ (password).value,
          ...(emailValue ? { email: emailValue } : {}),
          roles: boxes
            .filter((/** @type {any} */ entry) => entry.box.checked)
            .map((/** @type {any} */ entry) => entry.name),
        });
        dialog.close();
        reload();
      });
    });
    replace(body, form);
  } catch (error) {
    replace(body, problemView(error));
  }
}

/** @param {() => void} reload */
async function openKeyEditor(reload) {
  const body = h('div');
  const dialog = openDialog('New API key', body);
  // A key can hold at most what its creator holds.
  const scopes = (currentUser()?.permissions ?? []).filter((permission) => permission !== '*').sort();
  const name = h('input', { name: 'name', required: true, autocomplete: 'off' });
  const boxes = scopes.map((scope) => ({
    scope,
    box: /** @type {HTMLInputElement} */ (
      h('input', { type: 'checkbox', value: scope, checked: scope === 'metrics:write' })
    ),
  }));
  const output = h('div', { 'aria-live': 'assertive' });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Create');
  const form = h(
    'form',
    { class: 'editor' },
    field('Name', name),
    h(
      'fieldset',
      { class: 'scopes' },
      h('legend', null, 'Scopes'),
      boxes.map((entry) => h('label', { class: 'check' }, entry.box, ' ', entry.scope)),
    ),
    output,
    h('div', { class: 'actions' }, save, h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run(/** @type {HTMLButtonElement} */ (save), output, async () => {
      const created = await api('POST', '/api/v1/api-keys', {
        name: /** @type {HTMLInputElement} */ (name).value.trim(),
        scopes: boxes.filter((entry) => entry.box.checked).map((entry) => entry.scope),
      });
      replace(
        body,
        h(
          'div',
          { class: 'alert ok', role: 'status' },
          h('p', null, `Key ${created.name} created. Copy it now: it is shown only once.`),
          h('code', { class: 'secret', 'data-key': '' }, created.key),
        ),
        h('button', { type: 'button', onclick: () => dialog.close() }, 'Done'),
      );
      reload();
    });
  });
  replace(body, form);
}
