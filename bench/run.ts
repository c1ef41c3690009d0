// `npm run bench`: Strata next to QEMU on the same work in the same run, with the ratios. Each section lives in
// its own file and is listed in SECTIONS; `npm run bench -- storage` runs only the named sections.
import { ensureDebianImage } from '../test/helpers/debian-image.js';
import { type EngineFigures, imagePaths, measureEngine } from './boot-and-compute.js';
import { containerNetworkSection } from './container-network.js';
import { containersSection } from './containers.js';
import { measureHartMips } from './hart-mips.js';
import { instanceFilesSection } from './instance-files.js';
import { measureSwitchForwarding } from './network.js';
import { remoteStorageSection } from './remote-storage.js';
import { type BenchSection, ratioHeader, ratioRow, runSections } from './report.js';
import { storageSection } from './storage.js';
import { measureVmNetwork, vmNetworkRows } from './vm-network.js';

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

/** Raw interpreter speed on two guest loops, with QEMU TCG's published class of figure beside it. */
const hartSection: BenchSection = {
  name: 'hart',
  title: 'interpreter speed (bare-metal loops on the WebAssembly hart)',
  async run() {
    const r = await measureHartMips();
    return [
      `${'loop'.padEnd(34)} ${'MIPS (wall)'.padStart(13)} ${'MIPS (CPU s)'.padStart(13)}`,
      `${'integer loop'.padEnd(34)} ${r.mips.toFixed(0).padStart(13)} ${r.mipsCpu.toFixed(0).padStart(13)}`,
      `${'sha256-like loop'.padEnd(34)} ${r.mips32.toFixed(0).padStart(13)} ${r.mips32Cpu.toFixed(0).padStart(13)}`,
      'reference: QEMU TCG runs CoreMark-class code at about 1800-2400 MIPS on this class of machine',
    ];
  },
};

/** The virtual switch's forwarding rate next to a bare JavaScript Map-lookup loop (the ceiling for a JS switch). */
const switchSection: BenchSection = {
  name: 'switch',
  title: 'switch forwarding (64-byte frames, learned unicast, one core)',
  async run() {
    const f = measureSwitchForwarding();
    const m = (x: number) => `${(x / 1e6).toFixed(2)} Mframes/s`;
    return [
      `${'path'.padEnd(44)} ${'rate'.padStart(16)}`,
      `${'virtual switch (learning, VLANs, counters)'.padEnd(44)} ${m(f.switchFps).padStart(16)}`,
      `${'virtual switch + OpenFlow pipeline'.padEnd(44)} ${m(f.openflowFps).padStart(16)}`,
      `${'reference: bare Map-lookup loop in JS'.padEnd(44)} ${m(f.mapLoopFps).padStart(16)}`,
      'reference: Open vSwitch userspace datapath, published, about 1-2 Mframes/s per core',
    ];
  },
};

/** TCP throughput and ping between two guests: Strata's switch next to two QEMU guests joined by a socket. */
const vmNetworkSection: BenchSection = {
  name: 'vm-network',
  title: 'VM-to-VM network (two guests, busybox nc)',
  async run(progress) {
    progress('booting two guests on each engine...');
    return vmNetworkRows(await measureVmNetwork());
  },
};

/**
 * Every section, in the order printed. To add one, export a BenchSection from its own file (as bench/storage.ts
 * does) and list it here.
 */
const SECTIONS: readonly BenchSection[] = [
  hartSection,
  engineSection,
  storageSection,
  switchSection,
  vmNetworkSection,
  containersSection,
  containerNetworkSection,
  instanceFilesSection,
  remoteStorageSection,
];

try {
  const failed = await runSections(SECTIONS, process.argv.slice(2));
  if (failed > 0) process.exitCode = 1;
} catch (err) {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
}
