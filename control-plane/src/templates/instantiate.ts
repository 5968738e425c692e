import { Ajv, type ValidateFunction } from 'ajv';
import * as ajvFormats from 'ajv-formats';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { TemplateExample } from '@muxly/schemas';
import type { ControlPlaneContext } from '../context.ts';
import { readOpenApi } from '../http/docs.ts';
import { ApiProblem, notFound, unprocessable } from '../http/problem.ts';
import { createJob, type JobCreate } from '../resources/jobs.routes.ts';
import { createRule, type RuleCreate } from '../resources/rules.routes.ts';
import { createTypedObject } from '../resources/typed-objects.ts';
import type { TypedObjectCreate } from '../resources/typed-object.ts';

// Instantiating a ready-made configuration: the example's values, then the user's, become the
// same create requests a client would send (a connector and its job, or a destination and the
// rule that feeds it). They pass the same checks as POST /connectors, /routing-rules and /jobs:
// the OpenAPI schema of each create body, then the create itself (template validation,
// duplicates, references), all in one transaction, so a refused part creates nothing.

const addFormats = (ajvFormats as unknown as { default: (ajv: Ajv) => Ajv }).default;

/** The body of `POST /api/v1/templates/{id}/instantiate` (TemplateInstantiate in the OpenAPI document). */
export interface InstantiateBody {
  id?: string;
  name: string;
  enabled?: boolean;
  /** Top-level fields over the example's config (a field given here replaces the example's). */
  config?: Record<string, unknown>;
  credentials?: Record<string, unknown>;
  rule?: Partial<Pick<RuleCreate, 'id' | 'name' | 'priority' | 'enabled'>>;
  job?: Partial<Pick<JobCreate, 'id' | 'name' | 'schedule' | 'timezone' | 'enabled'>>;
}

export interface PlannedInstance {
  kind: 'connector' | 'destination';
  object: TypedObjectCreate;
  rule?: Omit<RuleCreate, 'destinationIds'>;
  job?: Omit<JobCreate, 'connectorId'>;
}

/** What the example and the user's values ask to create (ids filled in by the create). */
export function planInstance(
  kind: 'connector' | 'destination',
  type: string,
  example: TemplateExample,
  body: InstantiateBody,
): PlannedInstance {
  const object: TypedObjectCreate = {
    ...(body.id ? { id: body.id } : {}),
    name: body.name,
    type,
    ...(body.enabled === undefined ? {} : { enabled: body.enabled }),
    config: { ...structuredClone(example.config), ...(body.config ?? {}) },
    ...(body.credentials ? { credentials: body.credentials } : {}),
  };
  if (body.rule && !example.rule)
    throw unprocessable(`example "${example.id}" has no rule`, [
      { pointer: '/rule', detail: 'is not part of this example' },
    ]);
  if (body.job && !example.job)
    throw unprocessable(`example "${example.id}" has no job`, [
      { pointer: '/job', detail: 'is not part of this example' },
    ]);
  const plan: PlannedInstance = { kind, object };
  if (example.rule) {
    plan.rule = {
      name: body.rule?.name ?? body.name,
      ...structuredClone(example.rule),
      ...(body.rule?.id ? { id: body.rule.id } : {}),
      ...(body.rule?.priority === undefined ? {} : { priority: body.rule.priority }),
      ...(body.rule?.enabled === undefined ? {} : { enabled: body.rule.enabled }),
    };
  }
  if (example.job) {
    plan.job = {
      name: body.job?.name ?? body.name,
      action: example.job.action ?? 'sync',
      schedule: body.job?.schedule ?? example.job.schedule,
      timezone: body.job?.timezone ?? example.job.timezone ?? 'UTC',
      ...(body.job?.id ? { id: body.job.id } : {}),
      ...(body.job?.enabled === undefined ? {} : { enabled: body.job.enabled }),
    };
  }
  return plan;
}

let createSchemas: Record<'object' | 'rule' | 'job', ValidateFunction> | undefined;

/** The create bodies' schemas, compiled once from the OpenAPI document the API validates with. */
function createBodySchemas(): Record<'object' | 'rule' | 'job', ValidateFunction> {
  if (createSchemas) return createSchemas;
  const ajv = addFormats(new Ajv({ allErrors: true, strict: false }));
  ajv.addSchema(readOpenApi().document as object, 'openapi');
  const compile = (name: string) => ajv.compile({ $ref: `openapi#/components/schemas/${name}` });
  createSchemas = { object: compile('ConnectorCreate'), rule: compile('RoutingRuleCreate'), job: compile('JobCreate') };
  return createSchemas;
}

function checkBody(validate: ValidateFunction, body: unknown, pointer: string): void {
  if (validate(body)) return;
  throw unprocessable(
    `the ${pointer.slice(1)} this example creates is not valid`,
    (validate.errors ?? []).map((error) => ({
      pointer: `${pointer}${error.instancePath}`,
      detail: error.message ?? 'is invalid',
    })),
  );
}

export interface Instance {
  kind: 'connector' | 'destination';
  object: Awaited<ReturnType<typeof createTypedObject>>;
  rule?: Awaited<ReturnType<typeof createRule>>;
  job?: Awaited<ReturnType<typeof createJob>>;
}

/** The permissions each part of a plan needs: the same as creating the parts one by one. */
export function permissionsFor(plan: PlannedInstance): string[] {
  return [
    plan.kind === 'connector' ? 'connectors:write' : 'destinations:write',
    ...(plan.rule ? ['routing-rules:write'] : []),
    ...(plan.job ? ['jobs:write'] : []),
  ];
}

export function resolveExample(context: ControlPlaneContext, id: string) {
  const found = context.templates.example(id);
  if (!found) throw notFound('template example', id);
  return found;
}

/** Creates the plan's objects inside the caller's transaction; the caller publishes them after the commit. */
export async function createInstance(
  context: ControlPlaneContext,
  em: EntityManager,
  plan: PlannedInstance,
): Promise<Instance> {
  const schemas = createBodySchemas();
  checkBody(schemas.object, plan.object, `/${plan.kind}`);
  const object = await createTypedObject(context, em, plan.kind, plan.object);
  const instance: Instance = { kind: plan.kind, object };
  if (plan.rule) {
    const rule: RuleCreate = { ...plan.rule, destinationIds: [object.id] };
    checkBody(schemas.rule, rule, '/rule');
    instance.rule = await within('/rule', () => createRule(em, rule));
  }
  if (plan.job) {
    const job: JobCreate = { ...plan.job, connectorId: object.id };
    checkBody(schemas.job, job, '/job');
    instance.job = await within('/job', () => createJob(em, job));
  }
  return instance;
}

/** The rule's and job's own problems point into the instantiate request (`/job/schedule`). */
async function within<T>(pointer: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof ApiProblem) || !error.errors) throw error;
    throw new ApiProblem(error.status, error.type, error.message, {
      errors: error.errors.map((problem) => ({ ...problem, pointer: `${pointer}${problem.pointer}` })),
      extensions: error.extensions,
    });
  }
}

export const forbiddenParts = (missing: string[]) =>
  new ApiProblem(403, 'forbidden', `instantiating this example needs the permissions ${missing.join(', ')}`);
