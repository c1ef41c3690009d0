import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DaemonClient } from '../../src/cli/client.js';
import { type RunningDaemon, startDaemon } from '../../src/daemon/server.js';
import { CgroupControls } from '../../src/services/instances/cgroups.js';
import type { Engine, EngineName } from '../../src/services/instances/engine.js';
import { FakeEngine } from './fake-engine.js';

/** A short temporary STRATA_HOME (Unix socket paths must stay under 108 bytes). */
export function tempHome(prefix = 'sd-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes a tiny image called `name` into the store of `home` (for engines that never read its files). */
export function writeFakeImage(home: string, name = 'fake'): void {
  const dir = join(home, 'images', name);
  mkdirSync(dir, { recursive: true });
  const kernel = Buffer.from('not a kernel');
  writeFileSync(join(dir, 'Image'), kernel);
  const manifest = {
    schemaVersion: 1,
    name,
    arch: 'riscv64',
    distribution: 'fake',
    release: '1',
    kernelVersion: '0.0',
    kernelCmdline: 'console=ttyS0',
    packages: {},
    mirror: 'none',
    files: [
      {
        path: 'Image',
        role: 'kernel',
        sizeBytes: kernel.length,
        sha256: createHash('sha256').update(kernel).digest('hex'),
      },
    ],
    createdAt: new Date().toISOString(),
    builderVersion: 1,
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
}

/** A daemon in this process on a free port, with the fake engine (or the given engines) and no cgroups. */
export async function startTestDaemon(
  home: string,
  engines?: ReadonlyMap<EngineName, Engine>,
): Promise<RunningDaemon & { engine: FakeEngine }> {
  const engine = new FakeEngine('builtin');
  const d = await startDaemon({
    home,
    port: 0,
    version: '0.0.0-test',
    env: { ...process.env, STRATA_HOME: home },
    strataCommand: [],
    logLevel: 'silent',
    controls: CgroupControls.none('test'),
    engines: engines ?? new Map<EngineName, Engine>([['builtin', engine]]),
  });
  return Object.assign(d, { engine });
}

/** Deletes every instance of a test daemon (forced, waiting for each delete), then closes it. */
export async function closeTestDaemon(daemon: RunningDaemon, client: DaemonClient): Promise<void> {
  for (const i of await daemon.instances.listAll()) {
    const op = await daemon.instances.deleteAny(i.name, true).catch(() => undefined);
    if (op) await client.call('GET', `/1.0/operations/${op.id}/wait?timeout=30`).catch(() => undefined);
  }
  await daemon.close();
}
