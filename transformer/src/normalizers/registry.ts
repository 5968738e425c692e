import { RAW_FORMATS } from '@muxly/schemas';
import { normalizeApiMetrics } from './api-metrics.ts';
import { normalizeConnectorRecords } from './connector-records.ts';
import type { Normalizer } from './normalizer.ts';

type RawFormat = (typeof RAW_FORMATS)[keyof typeof RAW_FORMATS];

/** One normalizer per raw format; a new source shape is one line here. */
const normalizers = {
  [RAW_FORMATS.apiMetrics]: normalizeApiMetrics,
  [RAW_FORMATS.connectorRecords]: normalizeConnectorRecords,
} satisfies Record<RawFormat, Normalizer>;

export function normalizerFor(format: string): Normalizer | undefined {
  return Object.hasOwn(normalizers, format) ? normalizers[format as RawFormat] : undefined;
}
