// A ready-made configuration of one connector or destination type: what
// `POST /api/v1/templates/{id}/instantiate` creates, from these values plus the user's. Each
// connector and destination folder ships its own (`examples.ts`); the control plane lists them
// with the type's template and validates an instance like any other create.

export interface TemplateExample {
  /** Stable, unique across all types (kebab-case), e.g. `ga4-daily-sessions-by-country`. */
  id: string;
  title: string;
  description: string;
  /**
   * The example's config. Fields that only the user can know (a property id, a bucket, a URL)
   * are left out on purpose: instantiating without them fails validation naming each one.
   */
  config: Record<string, unknown>;
  /** For a destination: the routing rule that feeds it (its destinationIds are set to the new destination). */
  rule?: {
    condition?: unknown;
    transformations?: unknown[];
    priority?: number;
    stopOnMatch?: boolean;
  };
  /** For a connector: the job that runs its syncs. */
  job?: {
    schedule: string;
    timezone?: string;
    action?: 'sync' | 'full-resync';
  };
  /** A complete request body for instantiate, with placeholder values (docs and tests use it). */
  request: {
    name: string;
    config?: Record<string, unknown>;
    credentials?: Record<string, unknown>;
  };
}
