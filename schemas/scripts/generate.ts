// Writes the JSON Schema files and the settings table of docs/configuration.md from the sources.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  GENERATED_JSON_FILES,
  jsonText,
  SETTINGS_DOC_BEGIN,
  SETTINGS_DOC_END,
  settingsTable,
} from '../src/generated.ts';

const schemasDir = fileURLToPath(new URL('..', import.meta.url));
for (const [file, schema] of Object.entries(GENERATED_JSON_FILES)) {
  writeFileSync(`${schemasDir}/${file}`, jsonText(schema));
  console.log(`wrote schemas/${file}`);
}
const docPath = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url));
const doc = readFileSync(docPath, 'utf8');
const start = doc.indexOf(SETTINGS_DOC_BEGIN);
const end = doc.indexOf(SETTINGS_DOC_END);
if (start < 0 || end < 0)
  throw new Error(`docs/configuration.md lacks the ${SETTINGS_DOC_BEGIN} … ${SETTINGS_DOC_END} markers`);
writeFileSync(docPath, `${doc.slice(0, start + SETTINGS_DOC_BEGIN.length)}\n${settingsTable()}\n${doc.slice(end)}`);
console.log('wrote the settings table of docs/configuration.md');
