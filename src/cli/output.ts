import { stringify } from 'yaml';
import { StrataError } from '../base/errors.js';

/** Output formats of listing commands. */
export type OutputFormat = 'table' | 'json' | 'yaml';

/** The formats, the default first. */
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'json', 'yaml'];

/** Prints `data` as JSON or YAML, or as the table `renderTable` makes. */
export function printData(
  out: { write(s: string): unknown },
  format: OutputFormat,
  data: unknown,
  renderTable: () => string,
): void {
  if (format === 'json') out.write(`${JSON.stringify(data, null, 2)}\n`);
  else if (format === 'yaml') out.write(stringify(data));
  else if (format === 'table') out.write(renderTable());
  else throw new StrataError('INVALID_ARGUMENT', `invalid --format '${String(format)}': use table, json or yaml`);
}
