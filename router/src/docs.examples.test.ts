import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileConfigValidator, loadSettings } from '@muxly/common';
import { compileRule, compileRules } from '@muxly/schemas';
import { destinationPlugin } from './destinations/registry.ts';

// The examples of docs/routing.md are what users copy: each must be accepted by the code as it is.

const guide = readFileSync(new URL('../../docs/routing.md', import.meta.url), 'utf8');
const blocks = [...guide.matchAll(/```(json|yaml)\n([\s\S]*?)```/g)].map((match) => ({
  language: match[1]!,
  text: match[2]!,
}));
const directory = mkdtempSync(join(tmpdir(), 'muxly-docs-'));

/** A block holds one JSON value, or one per line (the list of condition examples). */
const jsonValues = (text: string): unknown[] => {
  try {
    return [JSON.parse(text)];
  } catch {
    return text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as unknown);
  }
};

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

function checkDestination(definition: Record<string, unknown>): void {
  const plugin = destinationPlugin(String(definition.type));
  if (!plugin) throw new Error(`unknown destination type ${String(definition.type)}`);
  const config = structuredClone(definition.config);
  expect(compileConfigValidator(plugin.configSchema, 'config')(config)).toEqual([]);
}

const jsonExamples = blocks.filter((block) => block.language === 'json').flatMap((block) => jsonValues(block.text));
const yamlExamples = blocks.filter((block) => block.language === 'yaml' && !block.text.includes('scrape_configs'));

test('the guide has examples of every kind', () => {
  const types = new Set(
    jsonExamples
      .filter((value) => isObject(value) && 'config' in value)
      .map((value) => (value as { type: string }).type),
  );
  expect([...types].sort()).toEqual(['database', 'email', 'file', 'prometheus', 's3', 'slack', 'webhook']);
  expect(yamlExamples.length).toBeGreaterThanOrEqual(3);
});

test.each(jsonExamples.map((value, index) => [index, value] as const))(
  'JSON example %i is accepted',
  (_index, value) => {
    if (Array.isArray(value)) compileRule({ transformations: value });
    else if (isObject(value) && 'config' in value) checkDestination(value);
    else compileRule({ condition: value });
  },
);

test.each(yamlExamples.map((block, index) => [index, block.text] as const))(
  'YAML example %i loads as settings',
  (index, text) => {
    const file = join(directory, `example-${index}.yaml`);
    writeFileSync(file, text);
    const settings = loadSettings({ file, env: {} });
    compileRules(settings.pipeline.rules);
    for (const destination of settings.pipeline.destinations) checkDestination(destination);
  },
);
