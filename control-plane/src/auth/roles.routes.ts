import { Router } from 'express';
import { ApiProblem, conflict, notFound, unprocessable } from '../http/problem.ts';
import { iso, newId, param } from '../resources/common.ts';
import { principalOf } from './authorization.ts';
import type { AuthContext } from './context.ts';
import { ensureHeld } from './principal.ts';
import { findRole, listRoles, setRolePermissions, type RoleRow, type Sql } from './store.ts';

// Roles: the built-in ones (admin, editor, viewer; read-only, kept in step with the OpenAPI
// document at every start) and custom ones made of `resource:action` permissions.

const roleView = (role: RoleRow) => ({
  id: role.id,
  name: role.name,
  description: role.description,
  builtin: role.builtin,
  permissions: role.permissions,
  version: role.version,
  createdAt: iso(role.created_at)!,
  updatedAt: iso(role.updated_at)!,
});

function checkPermissions(auth: AuthContext, permissions: readonly string[]): void {
  const unknown = permissions.filter((permission) => !auth.catalogue.includes(permission));
  if (unknown.length > 0) {
    throw unprocessable(`unknown permission(s): ${unknown.join(', ')} (GET /api/v1/permissions lists them)`, [
      { pointer: '/body/permissions', detail: `unknown: ${unknown.join(', ')}` },
    ]);
  }
}

async function mutableRole(em: Sql, id: string): Promise<RoleRow> {
  const role = await findRole(em, id);
  if (!role) throw notFound('role', id);
  if (role.builtin)
    throw new ApiProblem(
      409,
      'builtin-role',
      `"${role.name}" is a built-in role and cannot be changed; create a custom role instead`,
    );
  return role;
}

export function roleRoutes(auth: AuthContext): Router {
  const router = Router();

  router.get('/api/v1/permissions', (_request, response) => {
    response.json({ items: auth.catalogue });
  });

  router.get('/api/v1/roles', async (_request, response) => {
    response.json({ items: (await listRoles(auth.orm.em.fork())).map(roleView) });
  });

  router.post('/api/v1/roles', async (request, response) => {
    const body = request.body as { name: string; description?: string | null; permissions: string[] };
    checkPermissions(auth, body.permissions);
    // Nobody grants what they do not hold: a role carries only permissions its maker holds.
    ensureHeld(principalOf(response)!, body.permissions);
    const role = await auth.orm.em.fork().transactional(async (em) => {
      if (await findRole(em, body.name)) throw conflict('duplicate', `a role named "${body.name}" already exists`);
      const id = newId('rol');
      await em.execute(`insert into roles (id, name, description, builtin) values (?, ?, ?, false)`, [
        id,
        body.name,
        body.description ?? null,
      ]);
      await setRolePermissions(em, id, body.permissions);
      return (await findRole(em, id))!;
    });
    response.status(201).setHeader('Location', `/api/v1/roles/${role.id}`).json(roleView(role));
  });

  router.get('/api/v1/roles/:id', async (request, response) => {
    const role = await findRole(auth.orm.em.fork(), param(request, 'id'));
    if (!role) throw notFound('role', param(request, 'id'));
    response.json(roleView(role));
  });

  router.patch('/api/v1/roles/:id', async (request, response) => {
    const body = request.body as { description?: string | null; permissions?: string[] };
    if (body.permissions) checkPermissions(auth, body.permissions);
    const role = await auth.orm.em.fork().transactional(async (em) => {
      const role = await mutableRole(em, param(request, 'id'));
      if (body.permissions)
        ensureHeld(
          principalOf(response)!,
          body.permissions.filter((permission) => !role.permissions.includes(permission)),
        );
      await em.execute(`update roles set description = ?, version = version + 1, updated_at = now() where id = ?`, [
        body.description === undefined ? role.description : body.description,
        role.id,
      ]);
      if (body.permissions) await setRolePermissions(em, role.id, body.permissions);
      return (await findRole(em, role.id))!;
    });
    response.json(roleView(role));
  });

  router.delete('/api/v1/roles/:id', async (request, response) => {
    await auth.orm.em.fork().transactional(async (em) => {
      const role = await mutableRole(em, param(request, 'id'));
      const [used] = await em.execute<{ count: string }[]>(
        `select count(*) as count from user_roles where role_id = ?`,
        [role.id],
        'all',
      );
      if (Number(used?.count ?? 0) > 0)
        throw conflict(
          'role-in-use',
          `the role "${role.name}" is still given to ${used!.count} user(s); take it away first`,
        );
      await em.execute(`delete from roles where id = ?`, [role.id]);
    });
    response.status(204).end();
  });

  return router;
}
