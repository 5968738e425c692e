// Unit conversion table for the `convert` transformation. Each unit maps linearly to its
// dimension's base unit: base = value * factor + offset. KB/MB/GB are decimal (SI, 1000) and
// KiB/MiB/GiB binary (1024), as their names say.

interface Unit {
  dimension: 'time' | 'data' | 'ratio' | 'temperature';
  factor: number;
  offset?: number;
}

const UNITS = {
  ns: { dimension: 'time', factor: 1e-9 },
  us: { dimension: 'time', factor: 1e-6 },
  ms: { dimension: 'time', factor: 1e-3 },
  s: { dimension: 'time', factor: 1 },
  min: { dimension: 'time', factor: 60 },
  h: { dimension: 'time', factor: 3600 },
  d: { dimension: 'time', factor: 86_400 },
  bit: { dimension: 'data', factor: 1 / 8 },
  bytes: { dimension: 'data', factor: 1 },
  KB: { dimension: 'data', factor: 1e3 },
  MB: { dimension: 'data', factor: 1e6 },
  GB: { dimension: 'data', factor: 1e9 },
  TB: { dimension: 'data', factor: 1e12 },
  KiB: { dimension: 'data', factor: 1024 },
  MiB: { dimension: 'data', factor: 1024 ** 2 },
  GiB: { dimension: 'data', factor: 1024 ** 3 },
  ratio: { dimension: 'ratio', factor: 1 },
  percent: { dimension: 'ratio', factor: 0.01 },
  celsius: { dimension: 'temperature', factor: 1 },
  kelvin: { dimension: 'temperature', factor: 1, offset: -273.15 },
  fahrenheit: { dimension: 'temperature', factor: 5 / 9, offset: -32 * (5 / 9) },
} as const satisfies Record<string, Unit>;

export type UnitName = keyof typeof UNITS;
export const UNIT_NAMES = Object.keys(UNITS) as UnitName[];

export const isUnitName = (name: unknown): name is UnitName => typeof name === 'string' && Object.hasOwn(UNITS, name);

/** A converter closure, or a reason why the two units cannot be converted. */
export function unitConverter(from: UnitName, to: UnitName): ((value: number) => number) | string {
  const source: Unit = UNITS[from];
  const target: Unit = UNITS[to];
  if (source.dimension !== target.dimension)
    return `cannot convert ${from} (${source.dimension}) to ${to} (${target.dimension})`;
  if (from === to) return (value) => value;
  const scale = source.factor / target.factor;
  const shift = ((source.offset ?? 0) - (target.offset ?? 0)) / target.factor;
  return shift === 0 ? (value) => value * scale : (value) => value * scale + shift;
}
