import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../support/services.ts';

// GitHub Actions cannot run here: the workflows are checked against the Actions schema
// (action-validator) and for running the project's own commands rather than copies of them.

const WORKFLOWS = join(ROOT, '.github', 'workflows');
const files = readdirSync(WORKFLOWS).filter((name) => name.endsWith('.yml'));
interface Workflow {
  on: Record<string, unknown>;
  jobs: Record<string, { steps: { run?: string; uses?: string }[] }>;
}
const workflow = (name: string) => parse(readFileSync(join(WORKFLOWS, name), 'utf8')) as Workflow;
const runs = (name: string) =>
  Object.values(workflow(name).jobs).flatMap((job) => job.steps.map((step) => step.run ?? ''));

test.each(files)('%s is valid against the GitHub Actions schema', (name) => {
  const result = spawnSync(join(ROOT, 'node_modules', '.bin', 'action-validator'), [join(WORKFLOWS, name)], {
    encoding: 'utf8',
  });
  expect(result.stdout + result.stderr).toBe('');
  expect(result.status).toBe(0);
});

test('the schema check refuses a broken workflow', () => {
  const broken = join(mkdtempSync(join(tmpdir(), 'muxly-workflow-')), 'broken.yml');
  writeFileSync(broken, 'on: push\njobs:\n  build:\n    runs-on: ubuntu-24.04\n    stepz: []\n');
  const result = spawnSync(join(ROOT, 'node_modules', '.bin', 'action-validator'), [broken], { encoding: 'utf8' });
  expect(result.stderr).toContain("Additional property 'stepz' is not allowed");
  expect(result.status).not.toBe(0);
});

test('CI runs .ci/run on pushes and pull requests', () => {
  expect(Object.keys(workflow('ci.yml').on).sort()).toEqual(['pull_request', 'push']);
  expect(runs('ci.yml').some((command) => /bash \.ci\/run$/.test(command))).toBe(true);
});

test('a version tag builds and pushes the image with docker-build.sh and renders both overlays', () => {
  expect(workflow('release.yml').on).toEqual({ push: { tags: ['v*'] } });
  const commands = runs('release.yml').join('\n');
  expect(commands).toContain('bash deploy/scripts/docker-build.sh');
  expect(commands).toContain('--push');
  expect(commands).toContain('for overlay in aws gcp');
  expect(commands).toContain('kubectl kustomize');
});
