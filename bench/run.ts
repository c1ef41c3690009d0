// `npm run bench`: Strata next to QEMU on the same work in the same run, with the ratios. Each section lives in
// its own file and is listed in SECTIONS; `npm run bench -- storage` runs only the named sections.
import { ensureDebianImage } from '../test/helpers/debian-image.js';
import { type EngineFigures, imagePaths, measureEngine } from './boot-and-compute.js';
import { type BenchSection, ratioHeader, ratioRow, runSections } from './report.js';
import { storageSection } from './storage.js';

/** Boot time, in-guest compute and idle CPU of the engine next to QEMU TCG. */
const engineSection: BenchSection = {
  name: 'engine',
  title: 'boot and compute (Strata engine vs QEMU TCG)',
  async run(progress) {
    progress('preparing the debian image...');
    const img = imagePaths(await ensureDebianImage());
    const results: EngineFigures[] = [];
    for (const engine of ['strata', 'qemu'] as const) {
      progress(`measuring ${engine}...`);
      results.push(await measureEngine(engine, img));
    }
    const [s, q] = results as [EngineFigures, EngineFigures];
    return [
      ratioHeader('benchmark'),
      ratioRow('boot to shell (wall)', s.bootToShellS, q.bootToShellS, 's'),
      ratioRow('sha256sum 32 MiB in guest', s.sha256S, q.sha256S, 's'),
      `${'in-guest integer speed vs qemu'.padEnd(34)} ${(q.sha256S / s.sha256S).toFixed(3).padStart(9)} of QEMU TCG`,
      ratioRow('idle guest host CPU (10 s)', s.idleCpuPercent, q.idleCpuPercent, '%', 1),
    ];
  },
};

/**
 * Every section, in the order printed. To add one, export a BenchSection from its own file (as bench/storage.ts
 * does) and list it here.
 */
const SECTIONS: readonly BenchSection[] = [engineSection, storageSection];

try {
  const failed = await runSections(SECTIONS, process.argv.slice(2));
  if (failed > 0) process.exitCode = 1;
} catch (err) {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
}
