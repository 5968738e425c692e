import { Router } from 'express';
import { ApiProblem, notFound, unprocessable } from '../http/problem.ts';
import { iso, newId, param } from '../resources/common.ts';
import { newApiKey } from './api-key-format.ts';
import { principalOf } from './authorization.ts';
import type { AuthContext } from './context.ts';
import { METRICS_WRITE } from './permissions.ts';
import { ensureHeld } from './principal.ts';
import { activeApiKeysWithScope, effectiveScopes, findApiKey, listApiKeys, type ApiKeyRow } from './store.ts';

// API keys for ingest writers (scope metrics:write) and service accounts (scopes are control-plane
// permissions). The key is shown once, in the create answer; only its hash is stored.

const keyView = (row: ApiKeyRow) => ({
  id: row.id,
  name: row.name,
  prefix: row.prefix,
  scopes: row.scopes,
  effectiveScopes: effectiveScopes(row),
  createdBy: row.user_id ?? row.sso_owner_id,
  createdAt: iso(row.created_at)!,
  expiresAt: iso(row.expires_at),
  revokedAt: iso(row.revoked_at),
  active:
    row.revoked_at === null &&
    (row.expires_at === null || row.expires_at.getTime() > Date.now()) &&
    row.owner_permissions !== null,
});

export function apiKeyRoutes(auth: AuthContext): Router {
  const router = Router();

  router.get('/api/v1/api-keys', async (_request, response) => {
    response.json({ items: (await listApiKeys(auth.orm.em.fork())).map(keyView) });
  });

  router.post('/api/v1/api-keys', async (request, response) => {
    const body = request.body as { name: string; scopes: string[]; expiresAt?: string };
    const principal = principalOf(response)!;
    const unknown = body.scopes.filter((scope) => !auth.catalogue.includes(scope));
    if (unknown.length > 0)
      throw unprocessable(`unknown scope(s): ${unknown.join(', ')}`, [
        { pointer: '/body/scopes', detail: `unknown: ${unknown.join(', ')}` },
      ]);
    // A key never carries more than its creator may do, and from then on never more than its owner
    // (the creator, or the creating key's owner) holds at the time it is used.
    ensureHeld(principal, body.scopes);
    const owner = principal.keyOwner;
    if (!owner) throw new ApiProblem(403, 'forbidden', 'only users and their API keys can create API keys');
    const expiresAt = body.expiresAt ? new Date(body.expiresAt) : null;
    if (expiresAt && expiresAt.getTime() <= Date.now())
      throw unprocessable('expiresAt must be in the future', [
        { pointer: '/body/expiresAt', detail: 'is in the past' },
      ]);
    const { key, prefix, hash } = newApiKey();
    const id = newId('key');
    const em = auth.orm.em.fork();
    await em.execute(
      `insert into api_keys (id, name, prefix, key_hash, user_id, sso_owner_id, scopes, expires_at) values (?, ?, ?, ?, ?, ?, ?::jsonb, ?)`,
      [
        id,
        body.name,
        prefix,
        hash,
        owner.userId,
        owner.ssoOwnerId,
        JSON.stringify([...new Set(body.scopes)]),
        expiresAt,
      ],
    );
    auth.logger.info('API key created', { keyId: id, prefix, scopes: body.scopes, by: principal.name });
    const row = (await findApiKey(em, { id }))!;
    response
      .status(201)
      .setHeader('Location', `/api/v1/api-keys/${id}`)
      .json({ ...keyView(row), key });
  });

  router.get('/api/v1/api-keys/:id', async (request, response) => {
    const row = await findApiKey(auth.orm.em.fork(), { id: param(request, 'id') });
    if (!row) throw notFound('API key', param(request, 'id'));
    response.json(keyView(row));
  });

  router.delete('/api/v1/api-keys/:id', async (request, response) => {
    const id = param(request, 'id');
    const revoked = await auth.orm.em
      .fork()
      .execute(`update api_keys set revoked_at = coalesce(revoked_at, now()) where id = ? returning id`, [id], 'all');
    if (revoked.length === 0) throw notFound('API key', id);
    auth.logger.info('API key revoked', { keyId: id, by: principalOf(response)?.name });
    response.status(204).end();
  });

  // Ingest's view: the hashes of the active keys that may write metrics.
  router.get('/api/v1/internal/api-keys', async (_request, response) => {
    const keys = await activeApiKeysWithScope(auth.orm.em.fork(), METRICS_WRITE);
    response.setHeader('Cache-Control', 'no-store');
    response.json({
      keys: keys.map((row) => ({ id: row.id, hash: row.key_hash })),
      refreshIntervalSeconds: auth.apiKeyRefreshIntervalSeconds,
    });
  });

  return router;
}
