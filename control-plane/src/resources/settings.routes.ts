import { Router } from 'express';
import type { FilterQuery } from '@mikro-orm/core';
import type { ControlPlaneContext } from '../context.ts';
import { SettingEntity, type Setting } from '../db/entities.ts';
import { checkIfMatch, setEtag } from '../http/concurrency.ts';
import { afterCursor, orderBy, pageOf } from '../http/pagination.ts';
import { notFound } from '../http/problem.ts';
import { inTransaction, pageQuery, param, queryString } from './common.ts';

// Free-form settings stored by the control plane (key → JSON value), e.g. UI preferences or
// defaults other features read. The deployment's own settings document is not editable here.

const PATH = '/api/v1/settings';

const toDto = (setting: Setting) => ({
  key: setting.key,
  value: setting.value,
  version: setting.version,
  createdAt: setting.createdAt.toISOString(),
  updatedAt: setting.updatedAt.toISOString(),
});

export function settingRoutes(context: ControlPlaneContext): Router {
  const router = Router();

  router.get(PATH, async (request, response) => {
    const page = pageQuery(request, context, 'key');
    const where: FilterQuery<object>[] = [];
    const prefix = queryString(request, 'prefix');
    if (prefix) where.push({ key: { $like: `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%` } });
    const cursor = afterCursor(page, 'key', ['updatedAt']);
    if (cursor) where.push(cursor);
    const rows = await context.orm.em
      .fork()
      .find(SettingEntity, { $and: where } as never, { orderBy: orderBy(page, 'key') as never, limit: page.limit + 1 });
    response.json(pageOf(rows as unknown as (Setting & Record<string, unknown>)[], page, 'key', toDto));
  });

  router.get(`${PATH}/:key`, async (request, response) => {
    const setting = await context.orm.em.fork().findOne(SettingEntity, { key: param(request, 'key') });
    if (!setting) throw notFound('setting', param(request, 'key'));
    setEtag(response, setting.version);
    response.json(toDto(setting));
  });

  router.put(`${PATH}/:key`, async (request, response) => {
    const key = param(request, 'key');
    const { value } = request.body as { value: unknown };
    const [setting, created] = await inTransaction(context, async (em) => {
      const current = await em.findOne(SettingEntity, { key });
      if (current) {
        checkIfMatch(request, current.version, false);
        current.value = value;
        // NOTE: a JSON value equal to the stored one is not a change for the ORM; touching
        // updatedAt keeps "every PUT is a new version" true for clients tracking ETags.
        current.updatedAt = new Date();
        await em.flush();
        return [current, false] as const;
      }
      if (request.get('if-match') && request.get('if-match') !== '*') checkIfMatch(request, 0, false);
      const fresh = em.create(SettingEntity, { key, value });
      await em.flush();
      return [fresh, true] as const;
    });
    setEtag(response, setting.version);
    response.status(created ? 201 : 200).json(toDto(setting));
  });

  router.delete(`${PATH}/:key`, async (request, response) => {
    const key = param(request, 'key');
    await inTransaction(context, async (em) => {
      const setting = await em.findOne(SettingEntity, { key });
      if (!setting) throw notFound('setting', key);
      checkIfMatch(request, setting.version, false);
      em.remove(setting);
      await em.flush();
    });
    response.status(204).end();
  });
  return router;
}
