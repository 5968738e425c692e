import { readFileSync } from 'node:fs';
import type { TSchema } from '@sinclair/typebox';
import { MuxlySettings } from '@muxly/schemas';

// docs/security.md names the auth settings; they must be the ones the settings schema defines,
// and every one of them must be explained there.

const doc = readFileSync(new URL('../../../docs/security.md', import.meta.url), 'utf8');

function leaves(schema: TSchema, path: string[]): string[] {
  const properties = schema.properties as Record<string, TSchema> | undefined;
  if (schema.type === 'object' && properties && Object.keys(properties).length > 0) {
    return Object.entries(properties).flatMap(([key, child]) => leaves(child, [...path, key]));
  }
  return [path.join('.')];
}

const authSettings = leaves((MuxlySettings.properties.controlPlane as TSchema).properties.auth as TSchema, [
  'controlPlane',
  'auth',
]);

test('every setting docs/security.md names exists in the settings schema', () => {
  const named = [...doc.matchAll(/`(controlPlane\.auth(?:\.[A-Za-z]+)+)`/g)].map((match) => match[1]!);
  expect(named.length).toBeGreaterThan(20);
  const known = new Set(authSettings);
  // A parent section (e.g. controlPlane.auth.lockout) is a fine thing to name too.
  expect(named.filter((name) => !known.has(name) && !authSettings.some((leaf) => leaf.startsWith(`${name}.`)))).toEqual(
    [],
  );
  const variables = [...doc.matchAll(/MUXLY_CONTROL_PLANE__AUTH__[A-Z_]+/g)].map((match) => match[0]);
  const knownVariables = new Set(
    authSettings.map(
      (path) =>
        `MUXLY_${path
          .split('.')
          .map((part) => part.replace(/([A-Z])/g, '_$1').toUpperCase())
          .join('__')}`,
    ),
  );
  expect(variables.filter((variable) => !knownVariables.has(variable))).toEqual([]);
});

test('docs/security.md explains every auth setting', () => {
  expect(authSettings.filter((path) => !doc.includes(`\`${path}\``))).toEqual([]);
});
