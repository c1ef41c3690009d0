// Printing helpers of `npm run bench`: a section is a named measurement that returns the lines of its table.

/** One part of the benchmark report: measured and printed in turn by bench/run.ts. */
export interface BenchSection {
  /** Short name used to pick sections on the command line (`npm run bench -- storage`). */
  name: string;
  /** What is measured, printed before the section's table. */
  title: string;
  /** Measures and returns the table's lines (header first); `progress` prints a status line meanwhile. */
  run(progress: (line: string) => void): Promise<string[]>;
}

/** Where report lines go (stdout by default). */
export type LineSink = (line: string) => void;

/** Writes one line to stdout. */
export const stdoutLines: LineSink = (line) => {
  process.stdout.write(`${line}\n`);
};

/**
 * A row "label  strata unit  qemu unit  ratio" of a comparison table; ratio = strata / qemu, so above 1 means
 * Strata took longer (for times) or did more (for rates): the header says which.
 */
export function ratioRow(label: string, strata: number, qemu: number, unit: string, digits = 2): string {
  const ratio = strata / qemu;
  return `${label.padEnd(34)} ${strata.toFixed(digits).padStart(9)} ${unit.padEnd(3)} ${qemu.toFixed(digits).padStart(9)} ${unit.padEnd(3)} ${ratio.toFixed(2).padStart(7)}x`;
}

/** The header line of a table made of {@link ratioRow}s. */
export function ratioHeader(first: string, strata = 'strata', qemu = 'qemu-tcg'): string {
  return `${first.padEnd(34)} ${strata.padStart(13)} ${qemu.padStart(13)} ${'ratio'.padStart(8)}`;
}

/**
 * Runs the sections whose names are in `only` (all when `only` is empty) one after the other and prints each
 * table as soon as it is measured. Unknown names are an error listing the known ones. Returns the number of
 * sections that failed; a failure prints its message and the run goes on with the next section.
 */
export async function runSections(
  sections: readonly BenchSection[],
  only: readonly string[],
  out: LineSink = stdoutLines,
): Promise<number> {
  const unknown = only.filter((n) => !sections.some((s) => s.name === n));
  if (unknown.length > 0) {
    throw new Error(
      `unknown bench section(s) ${unknown.join(', ')}: known are ${sections.map((s) => s.name).join(', ')}`,
    );
  }
  let failed = 0;
  for (const section of sections) {
    if (only.length > 0 && !only.includes(section.name)) continue;
    out(`measuring ${section.title}...`);
    try {
      const lines = await section.run(out);
      out('');
      for (const line of lines) out(line);
      out('');
    } catch (err) {
      failed++;
      out(`${section.name}: failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return failed;
}
