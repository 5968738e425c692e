import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GENERATED_JSON_FILES, jsonText, SETTINGS_DOC_BEGIN, SETTINGS_DOC_END, settingsTable } from './generated.ts';

const read = (relative: string) => readFileSync(fileURLToPath(new URL(relative, import.meta.url)), 'utf8');

test.each(Object.keys(GENERATED_JSON_FILES))(
  'schemas/%s matches its TypeScript source (run npm run schemas:generate)',
  (file) => {
    expect(read(`../${file}`)).toBe(jsonText(GENERATED_JSON_FILES[file]!));
  },
);

test('docs/configuration.md lists every setting as the schema defines it (run npm run schemas:generate)', () => {
  const doc = read('../../docs/configuration.md');
  const table = doc
    .slice(doc.indexOf(SETTINGS_DOC_BEGIN) + SETTINGS_DOC_BEGIN.length, doc.indexOf(SETTINGS_DOC_END))
    .trim();
  expect(table).toBe(settingsTable());
});
