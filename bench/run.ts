// `npm run bench`: Strata's engine next to QEMU TCG on the same work in the same run, with the ratios.
import { ensureDebianImage } from '../test/helpers/debian-image.js';
import { type EngineFigures, imagePaths, measureEngine } from './boot-and-compute.js';

function row(label: string, strata: number, qemu: number, unit: string, digits = 2): string {
  const ratio = strata / qemu;
  return `${label.padEnd(34)} ${strata.toFixed(digits).padStart(9)} ${unit.padEnd(3)} ${qemu.toFixed(digits).padStart(9)} ${unit.padEnd(3)} ${ratio.toFixed(2).padStart(7)}x`;
}

async function main(): Promise<void> {
  process.stdout.write('preparing the debian image...\n');
  const home = await ensureDebianImage();
  const img = imagePaths(home);
  const results: EngineFigures[] = [];
  for (const engine of ['strata', 'qemu'] as const) {
    process.stdout.write(`measuring ${engine}...\n`);
    results.push(await measureEngine(engine, img));
  }
  const [s, q] = results as [EngineFigures, EngineFigures];
  process.stdout.write(
    [
      '',
      `${'benchmark'.padEnd(34)} ${'strata'.padStart(13)} ${'qemu-tcg'.padStart(13)} ${'ratio'.padStart(8)}`,
      row('boot to shell (wall)', s.bootToShellS, q.bootToShellS, 's'),
      row('sha256sum 32 MiB in guest', s.sha256S, q.sha256S, 's'),
      `${'in-guest integer speed vs qemu'.padEnd(34)} ${(q.sha256S / s.sha256S).toFixed(3).padStart(9)} of QEMU TCG`,
      row('idle guest host CPU (10 s)', s.idleCpuPercent, q.idleCpuPercent, '%', 1),
      '',
    ].join('\n'),
  );
}

await main();
