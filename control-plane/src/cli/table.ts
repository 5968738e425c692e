// Plain-text tables for people (`--json` is for scripts).

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows are API answers
export type Row = Record<string, any>;
export interface Column {
  title: string;
  value: (row: Row) => unknown;
}

function formatTable(columns: Column[], rows: Row[]): string {
  const cells = rows.map((row) => columns.map((column) => String(column.value(row) ?? '')));
  const widths = columns.map((column, index) =>
    Math.max(column.title.length, ...cells.map((line) => line[index]!.length)),
  );
  const line = (values: string[]) =>
    values
      .map((value, index) => value.padEnd(widths[index]!))
      .join('  ')
      .trimEnd();
  return [line(columns.map((column) => column.title)), ...cells.map(line)].join('\n');
}

export function printTable(columns: Column[], rows: Row[]): void {
  console.log(rows.length === 0 ? '(none)' : formatTable(columns, rows));
}
