// The connection test of a saved connector or destination
// (`POST /api/v1/{connectors,destinations}/{id}/test`, ConnectionTest in the control plane's
// OpenAPI document): one step shape from a type's own check (the router's destinations, ingest's
// connectors) to the API's answer.

/** The steps of a connection test, in the order the answer lists them. */
export const CONNECTION_TEST_STEPS = ['config', 'resolve', 'connect', 'authenticate', 'permission', 'check'] as const;
export type ConnectionTestStepName = (typeof CONNECTION_TEST_STEPS)[number];

/** The steps a type's own check proves with its real client, in order. */
export const ACCESS_STEPS = ['authenticate', 'permission', 'check'] as const;
export type AccessStep = (typeof ACCESS_STEPS)[number];

export const CHECK_STEP_STATUSES = ['ok', 'failed', 'skipped'] as const;
export type CheckStepStatus = (typeof CHECK_STEP_STATUSES)[number];

/**
 * One step of a connection test. In the API's answer `name` is a standard step; a connector
 * plugin's own check may name steps of its own (`CheckStep<string>`), shown under `check`.
 */
export interface CheckStep<Name extends string = ConnectionTestStepName> {
  name: Name;
  status: CheckStepStatus;
  /** What the step proved, or why it failed or was skipped. */
  detail: string;
  durationMs: number;
}

/** The network peer a config names: what the resolve and connect steps test. */
export interface PeerEndpoint {
  host: string;
  port: number;
  /** The config field it comes from, named in the resolve step's detail. */
  field: string;
}
