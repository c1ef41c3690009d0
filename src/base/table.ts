/** One column of a text table: the header and how to read a cell from a row. */
export interface TableColumn<Row> {
  header: string;
  cell: (row: Row) => string;
  align?: 'left' | 'right';
}

/**
 * Renders rows as an aligned text table with an upper-case header line, the way `incus list` or `docker ps`
 * print. An empty list renders the header alone, so scripts and people both see the columns.
 */
export function renderTable<Row>(rows: readonly Row[], columns: readonly TableColumn<Row>[]): string {
  const cells = rows.map((row) => columns.map((c) => c.cell(row)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => {
        const w = widths[i] ?? 0;
        return columns[i]?.align === 'right' ? v.padStart(w) : v.padEnd(w);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header.toUpperCase())), ...cells.map(line)].join('\n') + '\n';
}
