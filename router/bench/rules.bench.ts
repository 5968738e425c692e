// Compiled rule evaluation throughput (target: ≥ 1,000,000 evaluations/s, docs/performance.md).
// Run alone: node router/bench/rules.bench.ts; `npm run bench` runs it too (bench/router.bench.ts).
import { compileRule } from '@muxly/schemas';

const events = Array.from({ length: 1024 }, (_, index) => ({
  id: `evt-${index}`,
  schemaVersion: 1,
  kind: 'metric',
  name: index % 3 === 0 ? 'signup' : 'page_view',
  timestamp: '2026-11-23T10:00:00.000Z',
  receivedAt: '2026-11-23T10:00:01.000Z',
  source: { type: 'api', id: 'key-1' },
  value: index % 500,
  unit: 'ms',
  dimensions: {
    env: ['prod', 'dev', 'test', 'staging'][index % 4]!,
    country: index % 2 ? 'FR' : 'US',
    'http-status': 200,
  },
  attributes: { user: { plan: index % 5 === 0 ? 'enterprise' : 'free' }, path: `/pricing/${index}` },
}));

const scenarios: [string, unknown][] = [
  [
    'design example (all + not in)',
    {
      condition: {
        all: [
          { path: '$.name', op: 'eq', value: 'signup' },
          { not: { path: '$.dimensions.env', op: 'in', value: ['dev', 'test'] } },
        ],
      },
    },
  ],
  [
    'five comparisons (any/all, gt, matches, exists, quoted name)',
    {
      condition: {
        any: [
          {
            all: [
              { path: '$.value', op: 'gte', value: 250 },
              { path: "$.dimensions['http-status']", op: 'eq', value: 200 },
            ],
          },
          { path: '$.attributes.path', op: 'matches', value: '^/pricing/1' },
          {
            all: [
              { path: '$.attributes.user.plan', op: 'eq', value: 'enterprise' },
              { path: '$.entity', op: 'exists', value: false },
            ],
          },
        ],
      },
    },
  ],
  [
    'condition + 3 transformations (rename, convert, template)',
    {
      condition: { path: '$.kind', op: 'eq', value: 'metric' },
      transformations: [
        { type: 'rename', from: '$.dimensions.env', to: '$.dimensions.environment' },
        { type: 'convert', path: '$.value', from: 'ms', to: 's', unitPath: '$.unit' },
        { type: 'template', path: '$.attributes.title', template: '{{ $.name }} in {{ $.dimensions.country }}' },
      ],
    },
  ],
];

export interface RuleFigures {
  /** Evaluations per second of each scenario, by name. */
  scenarios: Record<string, number>;
  /** The slower of the two condition-only scenarios: the figure the target is about. */
  conditionEvaluationsPerSecond: number;
}

/** Evaluates each scenario's compiled rule for `durationMs` after a warm-up; returns the rates. */
export function benchRules(durationMs = 1500, print: (line: string) => void = console.log): RuleFigures {
  const results: Record<string, number> = {};
  for (const [name, definition] of scenarios) {
    const evaluate = compileRule(definition);
    let matched = 0;
    for (let index = 0; index < 200_000; index++) if (evaluate(events[index & 1023]).matched) matched++; // warm-up
    let evaluations = 0;
    const start = process.hrtime.bigint();
    let elapsedNs = 0n;
    while (elapsedNs < BigInt(durationMs) * 1_000_000n) {
      for (let index = 0; index < 100_000; index++) if (evaluate(events[index & 1023]).matched) matched++;
      evaluations += 100_000;
      elapsedNs = process.hrtime.bigint() - start;
    }
    const perSecond = Math.round(evaluations / (Number(elapsedNs) / 1e9));
    results[name] = perSecond;
    print(`${name.padEnd(62)} ${perSecond.toLocaleString('en-US').padStart(12)} evaluations/s  (matched ${matched})`);
  }
  return {
    scenarios: results,
    conditionEvaluationsPerSecond: Math.min(results[scenarios[0]![0]]!, results[scenarios[1]![0]]!),
  };
}

if (import.meta.main) {
  const { conditionEvaluationsPerSecond } = benchRules(Number(process.env.BENCH_MS ?? 1500));
  console.log(
    JSON.stringify({
      benchmark: 'rules',
      conditionEvaluationsPerSecond,
      target: 1_000_000,
      pass: conditionEvaluationsPerSecond >= 1_000_000,
    }),
  );
}
