import { field, h } from './dom.js';

// A form generated from a connector's or destination's JSON Schema (its template): one control
// per top-level property (text, number, checkbox, choice; nested objects and arrays as JSON).
// Secret fields are write-only: the form never shows their value, only whether one is set, and
// an empty secret field means "keep what is stored".

/**
 * @typedef {{ type?: string | string[], enum?: unknown[], description?: string, default?: unknown, title?: string, format?: string, minimum?: number, maximum?: number }} PropertySchema
 * @typedef {{ properties?: Record<string, PropertySchema>, required?: string[] }} ObjectSchema
 */

/** @param {PropertySchema} schema */
const typeOf = (schema) => {
  const types = Array.isArray(schema.type) ? schema.type.filter((t) => t !== 'null') : [schema.type];
  return types[0] ?? (schema.enum ? 'enum' : 'json');
};

/**
 * @param {ObjectSchema} schema
 * @param {{ values?: Record<string, unknown>, secrets?: string[], secretsSet?: boolean, legend: string, name: string }} options
 * @returns {{ element: HTMLElement, read(): { values: Record<string, unknown>, secrets: Record<string, unknown> } }}
 */
export function schemaForm(schema, options) {
  const required = new Set(schema.required ?? []);
  const secrets = new Set(options.secrets ?? []);
  /** @type {Array<{ name: string, secret: boolean, read(): unknown }>} */
  const readers = [];
  const controls = Object.entries(schema.properties ?? {}).map(([name, property]) => {
    const secret = secrets.has(name);
    const current = secret ? undefined : (options.values?.[name] ?? undefined);
    const type = typeOf(property);
    const label = `${property.title ?? name}${required.has(name) && !(secret && options.secretsSet) ? ' (required)' : ''}`;
    const hintParts = [
      property.description,
      secret ? (options.secretsSet ? 'Secret: set. Leave empty to keep it.' : 'Secret: not set.') : null,
    ];
    const hint = hintParts.filter(Boolean).join(' ') || undefined;
    const controlName = `${options.name}.${name}`;
    /** @type {HTMLElement} */
    let control;
    /** @type {() => unknown} */
    let read;
    if (property.enum) {
      control = h(
        'select',
        { name: controlName },
        required.has(name) ? null : h('option', { value: '' }, '(default)'),
        property.enum.map((value) =>
          h('option', { value: String(value), selected: value === current || undefined }, String(value)),
        ),
      );
      read = () => {
        const value = /** @type {HTMLSelectElement} */ (control).value;
        return value === '' ? undefined : (property.enum?.find((item) => String(item) === value) ?? value);
      };
    } else if (type === 'boolean') {
      control = h('input', { type: 'checkbox', name: controlName, checked: current ?? property.default ?? false });
      read = () => /** @type {HTMLInputElement} */ (control).checked;
    } else if (type === 'integer' || type === 'number') {
      control = h('input', {
        type: 'number',
        name: controlName,
        step: type === 'integer' ? '1' : 'any',
        min: property.minimum,
        max: property.maximum,
        value: current ?? '',
        placeholder: property.default === undefined ? undefined : String(property.default),
      });
      read = () => {
        const text = /** @type {HTMLInputElement} */ (control).value.trim();
        return text === '' ? undefined : Number(text);
      };
    } else if (type === 'string') {
      control = h('input', {
        type: secret ? 'password' : 'text',
        name: controlName,
        autocomplete: secret ? 'new-password' : 'off',
        value: current ?? '',
        placeholder: property.default === undefined ? undefined : String(property.default),
      });
      read = () => {
        const text = /** @type {HTMLInputElement} */ (control).value;
        return text === '' ? undefined : text;
      };
    } else {
      // Objects, arrays and mixed types: edited as JSON, parsed when the form is read.
      control = h(
        'textarea',
        { name: controlName, rows: 3, spellcheck: 'false' },
        current === undefined ? '' : JSON.stringify(current, null, 2),
      );
      read = () => {
        const text = /** @type {HTMLTextAreaElement} */ (control).value.trim();
        if (text === '') return undefined;
        try {
          return JSON.parse(text);
        } catch {
          throw new Error(`${name}: not valid JSON`);
        }
      };
    }
    readers.push({ name, secret, read });
    return field(label, control, hint);
  });
  const element = h(
    'fieldset',
    null,
    h('legend', null, options.legend),
    controls.length ? controls : h('p', null, 'No settings.'),
  );
  return {
    element,
    read() {
      /** @type {Record<string, unknown>} */
      const values = {};
      /** @type {Record<string, unknown>} */
      const secretValues = {};
      for (const reader of readers) {
        const value = reader.read();
        if (value !== undefined) (reader.secret ? secretValues : values)[reader.name] = value;
      }
      return { values, secrets: secretValues };
    },
  };
}
