// A reader for the Prometheus text exposition format (version 0.0.4), enough for the series the
// Muxly services write: `name{label="value",…} value [timestamp]`. Comments (# HELP, # TYPE) and
// blank lines are skipped; a line that does not parse is skipped too, so one odd series never
// hides the others.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const sample = parseLine(line);
    if (sample) samples.push(sample);
  }
  return samples;
}

function parseLine(line: string): Sample | undefined {
  const name = NAME.exec(line)?.[0];
  if (!name) return undefined;
  let position = name.length;
  const labels: Record<string, string> = {};
  if (line[position] === '{') {
    position += 1;
    for (;;) {
      while (line[position] === ' ' || line[position] === ',') position += 1;
      if (line[position] === '}') {
        position += 1;
        break;
      }
      const labelName = NAME.exec(line.slice(position))?.[0];
      if (!labelName) return undefined;
      position += labelName.length;
      if (line[position] !== '=' || line[position + 1] !== '"') return undefined;
      position += 2;
      let value = '';
      // Label values escape backslash, double quote and newline.
      while (position < line.length && line[position] !== '"') {
        if (line[position] === '\\') {
          const next = line[position + 1];
          value += next === 'n' ? '\n' : (next ?? '');
          position += 2;
        } else {
          value += line[position];
          position += 1;
        }
      }
      if (line[position] !== '"') return undefined;
      position += 1;
      labels[labelName] = value;
    }
  }
  const [valueText] = line.slice(position).trim().split(/\s+/);
  if (valueText === undefined || valueText === '') return undefined;
  const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
  if (Number.isNaN(value) && valueText !== 'NaN') return undefined;
  return { name, labels, value };
}
