// `strata storage` against a remote daemon (STRATA_URL) next to the same command on the daemon's own home: the
// cost of going through the API for a listing (a whole CLI process each time), and the throughput of volume import
// (upload, then the daemon's import) and export (the daemon's export, then the download) of a 64 MiB raw image.
// Each figure is the median of a few runs of the built executable, as a user runs it.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startDaemonProcess } from '../test/helpers/daemon-process.js';
import { runStrata } from '../test/helpers/strata-cli.js';
import { type BenchSection, ratioHeader, ratioRow } from './report.js';

const IMAGE_MIB = 64;
const RUNS = 5;

function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

/** Runs `strata ARGS` `RUNS` times (with `between` after each) and returns the median wall time in ms. */
async function timed(
  env: NodeJS.ProcessEnv,
  args: (i: number) => string[],
  between?: (i: number) => Promise<void>,
): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const r = await runStrata(args(i), { env, timeoutMs: 120_000 });
    samples.push(performance.now() - t);
    if (r.code !== 0) throw new Error(`strata ${args(i).join(' ')}: ${r.stderr}`);
    await between?.(i);
  }
  return median(samples);
}

/** Listing, import and export through the daemon's API next to the local commands on the same store. */
export const remoteStorageSection: BenchSection = {
  name: 'remote',
  title: `strata storage through a daemon (STRATA_URL) vs on its home directly (median of ${RUNS} CLI runs)`,
  async run(progress) {
    const dir = mkdtempSync(join(tmpdir(), 'strata-bench-remote-'));
    const home = join(dir, 'home');
    const daemon = await startDaemonProcess(home);
    const local: NodeJS.ProcessEnv = { STRATA_HOME: home, STRATA_URL: '' };
    const remote: NodeJS.ProcessEnv = {
      STRATA_HOME: join(dir, 'cli'),
      STRATA_URL: daemon.url,
      STRATA_TOKEN: daemon.token,
    };
    try {
      const image = join(dir, 'image.raw');
      // Half random, half zeros: a disk with data and free space.
      writeFileSync(image, Buffer.concat([randomBytes((IMAGE_MIB / 2) << 20), Buffer.alloc((IMAGE_MIB / 2) << 20)]));
      await runStrata(['storage', 'volume', 'create', 'seed', '--size', '1M'], { env: local });
      progress('listing...');
      const list = ['storage', 'volume', 'list', '--format', 'json'];
      const listRemote = await timed(remote, () => list);
      const listLocal = await timed(local, () => list);
      const lines = [ratioHeader('command', 'remote', 'local')];
      lines.push(ratioRow('volume list --format json', listRemote, listLocal, 'ms', 0));
      const s = (ms: number) => `${(IMAGE_MIB / (ms / 1000)).toFixed(0)} MiB/s`;
      const figures: Record<string, { imp: number; exp: number }> = {};
      for (const [what, env] of [
        ['remote', remote],
        ['local', local],
      ] as const) {
        progress(`import and export, ${what}...`);
        const imp = await timed(env, (i) => [
          'storage',
          'volume',
          'import',
          `b-${what}-${i}`,
          image,
          '--image-format',
          'raw',
          '--quiet',
        ]);
        const out = (i: number) => join(dir, `out-${what}-${i}.raw`);
        const exp = await timed(
          env,
          (i) => ['storage', 'volume', 'export', `b-${what}-${i}`, out(i), '--image-format', 'raw', '--quiet'],
          async (i) => rmSync(out(i)),
        );
        figures[what] = { imp, exp };
      }
      const r = figures.remote as { imp: number; exp: number };
      const l = figures.local as { imp: number; exp: number };
      lines.push(ratioRow(`volume import ${IMAGE_MIB} MiB raw`, r.imp, l.imp, 'ms', 0));
      lines.push(ratioRow(`volume export ${IMAGE_MIB} MiB raw`, r.exp, l.exp, 'ms', 0));
      lines.push(
        `throughput: import ${s(r.imp)} remote, ${s(l.imp)} local; export ${s(r.exp)} remote, ${s(l.exp)} local`,
      );
      return lines;
    } finally {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
