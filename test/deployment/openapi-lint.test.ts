import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ROOT } from '../support/services.ts';

// The published API documents pass Redocly's `recommended` lint (@redocly/cli, from npm) with no
// error, as the tools users point at them (Swagger UI, client generators) expect. A warning may
// remain only for a rule that schemas/openapi/redocly.yaml lists, with its reason, at `warn`.

const CONFIG = join(ROOT, 'schemas', 'openapi', 'redocly.yaml');
const DOCUMENTS = ['control-plane.yaml', 'ingest.yaml'];

interface LintReport {
  totals: { errors: number; warnings: number };
  problems: { ruleId: string; severity: string; message: string; location: { start?: { line: number } }[] }[];
}

function lint(file: string): LintReport {
  const result = spawnSync(
    join(ROOT, 'node_modules', '.bin', 'redocly'),
    ['lint', '--config', CONFIG, '--format', 'json', file],
    {
      cwd: ROOT,
      encoding: 'utf8',
      // no update check or usage report: this machine reaches no such service
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      timeout: 120_000,
    },
  );
  if (!result.stdout.trim()) throw new Error(`redocly printed no report: ${result.stderr}`);
  return JSON.parse(result.stdout) as LintReport;
}

const justifiedWarnings = Object.entries(
  (parseYaml(readFileSync(CONFIG, 'utf8')) as { rules?: Record<string, string> }).rules ?? {},
)
  .filter(([, severity]) => severity === 'warn')
  .map(([rule]) => rule);

test.each(DOCUMENTS)('schemas/openapi/%s passes the recommended rules with no error', (name) => {
  const report = lint(join(ROOT, 'schemas', 'openapi', name));
  const describe = (severity: string) =>
    report.problems
      .filter((problem) => problem.severity === severity)
      .map((problem) => `${problem.ruleId} (line ${problem.location[0]?.start?.line}): ${problem.message}`);
  expect(describe('error')).toEqual([]);
  const unjustified = report.problems.filter((problem) => !justifiedWarnings.includes(problem.ruleId));
  expect(unjustified.map((problem) => `${problem.ruleId}: ${problem.message}`)).toEqual([]);
});

test('the lint reports what the documents once had: an operation without a summary, a broken description', () => {
  const document = readFileSync(join(ROOT, 'schemas', 'openapi', 'control-plane.yaml'), 'utf8');
  const broken = document
    .replace(/^ {6}summary: List connectors\n/m, '')
    .replace(
      "description: 'The first characters of the key, to tell keys apart.'",
      'description: The first characters of the key, to tell keys apart.',
    );
  expect(broken).not.toBe(document);
  const file = join(mkdtempSync(join(tmpdir(), 'muxly-openapi-')), 'control-plane.yaml');
  writeFileSync(file, broken);
  const errors = lint(file).problems.filter((problem) => problem.severity === 'error');
  expect(errors.map((problem) => problem.ruleId).sort()).toEqual(['operation-summary', 'struct']);
});
