import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../support/services.ts';

// The one image every service runs from passes a Dockerfile linter (dockerfilelint, from npm);
// test/e2e/image.e2e.test.ts builds and runs it for real.

const lint = (file: string) =>
  spawnSync(join(ROOT, 'node_modules', '.bin', 'dockerfilelint'), ['--output', 'json', file], { encoding: 'utf8' });

test('the Dockerfile passes dockerfilelint', () => {
  const result = lint(join(ROOT, 'Dockerfile'));
  const report = JSON.parse(result.stdout) as { files: { issues_count: number; issues: unknown[] }[] };
  expect(report.files[0]!.issues).toEqual([]);
  expect(result.status).toBe(0);
});

test('the linter reports a Dockerfile with problems', () => {
  const broken = join(mkdtempSync(join(tmpdir(), 'muxly-dockerfile-')), 'Dockerfile');
  writeFileSync(broken, 'FROM node:latest\nRUN apt-get install curl\nEXPOSE 80000\n');
  const report = JSON.parse(lint(broken).stdout) as { files: { issues_count: number }[] };
  expect(report.files[0]!.issues_count).toBeGreaterThan(0);
});

test('the image runs as the service user in production mode by default', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  expect(dockerfile).toMatch(/^USER node$/m);
  expect(dockerfile).toMatch(/^ENV MUXLY_MODE=production$/m);
});
