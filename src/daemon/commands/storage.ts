import type { Command } from 'commander';
import type { Operation } from '../../api/schema/index.js';
import { StrataError } from '../../base/errors.js';
import { ProgressBar, type ProgressReporter, silentProgress } from '../../base/progress.js';
import { renderTable } from '../../base/table.js';
import { formatBytes, parseSizeBytes } from '../../base/units.js';
import { followOperation } from '../../cli/cli-context.js';
import type { DaemonClient } from '../../cli/client.js';
import { OUTPUT_FORMATS, type OutputFormat, printData } from '../../cli/output.js';
import { defaultStrataHome } from '../../services/images/image-store.js';
import {
  checkName,
  checkVolumeSize,
  type VolumeFormat,
  type VolumeInfo,
  type VolumeSnapshotInfo,
} from '../../services/storage/pools/pool-driver.js';
import { DEFAULT_POOL, type PoolInfo, PoolRegistry } from '../../services/storage/pools/pool-registry.js';
import { type CommandContext, type CommandRegistrar, choiceOption, UsageError } from '../program.js';
import { REMOTE_RULE_HELP, remoteClient } from './remote-rule.js';
import { type Follow, localStorage, remoteStorage, type StorageAccess } from './storage-access.js';

const FORMATS = OUTPUT_FORMATS;
const IMAGE_FORMATS = ['qcow2', 'raw'] as const;

/** Turns a bad name or size into a usage error (exit 2), as commander's own parse errors are. */
function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof StrataError && err.code === 'INVALID_ARGUMENT') throw new UsageError(err.message);
    throw err;
  }
}

function parseSize(text: string, what: string): number {
  return usage(() => {
    const bytes = parseSizeBytes(text, what);
    checkVolumeSize(bytes, what);
    return bytes;
  });
}

/** Prints `value` as `--format` asks (`table` renders with `table`). */
function print(ctx: CommandContext, format: OutputFormat, value: unknown, table: () => string): void {
  printData(ctx.stdout, format, value, table);
}

/**
 * A long job's progress and cancelling: locally a byte progress bar with Ctrl-C aborting the job; through a daemon
 * the operation followed with the same bar, Ctrl-C cancelling the operation (DELETE /1.0/operations/{id}).
 */
function follow(ctx: CommandContext, quiet: boolean | undefined, label: string): Follow {
  return {
    label,
    local: (job) => withProgress(ctx, quiet, label, job),
    transfer: (what, job) => withProgress(ctx, quiet, what, job),
    async operation(client: DaemonClient, op: Operation) {
      let cancelled = false;
      const onSignal = () => {
        cancelled = true;
        void client.raw('DELETE', `/1.0/operations/${encodeURIComponent(op.id)}`).catch(() => {});
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        return await followOperation(ctx, client, op, label, quiet === true);
      } catch (err) {
        if (cancelled) throw new StrataError('ABORTED', `${label} cancelled: nothing was left behind`);
        throw err;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    },
  };
}

function volumeTable(volumes: readonly VolumeInfo[]): string {
  return renderTable<VolumeInfo>(volumes, [
    { header: 'pool', cell: (v) => v.pool },
    { header: 'name', cell: (v) => v.name },
    { header: 'format', cell: (v) => v.format },
    { header: 'capacity', cell: (v) => formatBytes(v.capacityBytes), align: 'right' },
    { header: 'allocated', cell: (v) => formatBytes(v.allocationBytes), align: 'right' },
    { header: 'backing', cell: (v) => v.backing ?? '-' },
    { header: 'snapshots', cell: (v) => String(v.snapshotCount), align: 'right' },
    { header: 'in use', cell: (v) => usersText(v) },
  ]);
}

function usersText(v: VolumeInfo): string {
  if (v.users.length === 0) return '-';
  return v.users.map((u) => `pid ${u.pid} (${u.mode})`).join(', ');
}

function volumeDetails(v: VolumeInfo): string {
  const rows: [string, string][] = [
    ['pool', v.pool],
    ['name', v.name],
    ['format', v.format],
    ['capacity', `${formatBytes(v.capacityBytes)} (${v.capacityBytes} bytes)`],
    ['allocated', formatBytes(v.allocationBytes)],
    ['backing', v.backing ?? '-'],
    ['clones', v.dependents.length > 0 ? v.dependents.join(', ') : '-'],
    ['snapshots', String(v.snapshotCount)],
    ['in use', usersText(v)],
    ['created', v.createdAt.replace(/\.\d+Z$/, 'Z')],
    ['path', v.path],
  ];
  return `${rows.map(([k, val]) => `${`${k}:`.padEnd(11)}${val}`).join('\n')}\n`;
}

function poolTable(pools: readonly PoolInfo[]): string {
  return renderTable<PoolInfo>(pools, [
    { header: 'name', cell: (p) => p.name },
    { header: 'type', cell: (p) => p.type },
    { header: 'volumes', cell: (p) => String(p.volumes), align: 'right' },
    { header: 'allocated', cell: (p) => formatBytes(p.allocationBytes), align: 'right' },
    {
      header: 'available',
      cell: (p) => (p.availableBytes === null ? '-' : formatBytes(p.availableBytes)),
      align: 'right',
    },
    { header: 'path', cell: (p) => p.path },
  ]);
}

function snapshotTable(snaps: readonly VolumeSnapshotInfo[]): string {
  return renderTable<VolumeSnapshotInfo>(snaps, [
    { header: 'id', cell: (s) => s.id },
    { header: 'name', cell: (s) => s.name },
    { header: 'disk size', cell: (s) => formatBytes(s.diskSizeBytes), align: 'right' },
    { header: 'created', cell: (s) => s.createdAt.replace(/\.\d+Z$/, 'Z') },
  ]);
}

/**
 * Runs a long copy with a progress bar on stderr (unless quiet) and Ctrl-C / SIGTERM cancelling it; a cancelled
 * or failed copy leaves nothing behind (the pool removes its temporary file) and clears a half-drawn bar.
 */
async function withProgress<T>(
  ctx: CommandContext,
  quiet: boolean | undefined,
  label: string,
  job: (onProgress: (done: number, total: number) => void, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const bar: ProgressReporter = quiet ? silentProgress : new ProgressBar(ctx.stderr);
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let started = false;
  try {
    const result = await job((done, total) => {
      if (!started) {
        bar.phase(label, total);
        started = true;
      }
      bar.update(done, total);
    }, controller.signal);
    if (started) bar.done();
    return result;
  } catch (err) {
    if (!quiet && ctx.stderr.isTTY) ctx.stderr.write('\r\x1b[K');
    if (controller.signal.aborted) throw new StrataError('ABORTED', `${label} cancelled: nothing was left behind`);
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * Registers `strata storage pool list|create|delete|show` and `strata storage volume
 * create|list|show|import|clone|copy|snapshot|resize|export|delete`: storage pools and their volumes under
 * `$STRATA_HOME/storage-pools` (a `default` directory pool is made on first use), or those of the daemon that
 * STRATA_URL names.
 */
export const registerStorageCommands: CommandRegistrar = (program: Command, ctx: CommandContext) => {
  const registry = () => new PoolRegistry(defaultStrataHome(ctx.env));
  /** The storage the command acts on: the daemon's when STRATA_URL is set, else the local home's. */
  const storageOf = (): StorageAccess => {
    const client = remoteClient(ctx.env);
    return client ? remoteStorage(client) : localStorage(registry);
  };
  const poolName = (name: string) => usage(() => checkName(name, 'pool'));
  const volName = (name: string) => usage(() => checkName(name, 'volume'));

  const storage = program
    .command('storage')
    .description('storage pools and the volumes in them ($STRATA_HOME/storage-pools, or the daemon at STRATA_URL)')
    .addHelpText(
      'after',
      [
        '',
        ...REMOTE_RULE_HELP,
        '`volume import` uploads its file to the daemon and `volume export` downloads the image the daemon made,',
        'both with progress (an uploaded qcow2 must not name a backing file); `pool create --path` names a',
        'directory of the host that keeps the pool.',
        '',
      ].join('\n'),
    );

  // ---- pools
  const pool = storage.command('pool').description('storage pools: where volumes live');
  pool
    .command('list')
    .alias('ls')
    .description('list the storage pools')
    .addOption(choiceOption('--format <format>', 'output format', FORMATS, 'table'))
    .action(async (opts: { format: OutputFormat }) => {
      const pools = await storageOf().pools();
      print(ctx, opts.format, pools, () => poolTable(pools));
    });
  pool
    .command('create')
    .description('create a directory pool')
    .argument('<name>', 'pool name')
    .option(
      '--path <dir>',
      "keep the volumes in this directory of the pool's host (default: inside $STRATA_HOME/storage-pools)",
    )
    .action(async (name: string, opts: { path?: string }) => {
      poolName(name);
      const info = await storageOf().createPool(name, opts.path);
      ctx.stdout.write(`created storage pool ${info.name} (${info.type}, ${info.path})\n`);
    });
  pool
    .command('show')
    .description("show a pool's details")
    .argument('<name>', 'pool name')
    .addOption(choiceOption('--format <format>', 'output format', FORMATS, 'table'))
    .action(async (name: string, opts: { format: OutputFormat }) => {
      poolName(name);
      const info = await storageOf().pool(name);
      print(ctx, opts.format, info, () => poolTable([info]));
    });
  pool
    .command('delete')
    .alias('rm')
    .description('delete an empty pool (a directory given with --path stays)')
    .argument('<name>', 'pool name')
    .action(async (name: string) => {
      poolName(name);
      await storageOf().deletePool(name);
      ctx.stdout.write(`deleted storage pool ${name}\n`);
    });

  // ---- volumes
  const volume = storage
    .command('volume')
    .description('volumes: virtual disks in a pool; attach one with `strata run --disk vol=POOL/NAME`');
  const poolOpt = (c: Command) => c.option('--pool <pool>', 'the pool', DEFAULT_POOL);

  poolOpt(
    volume
      .command('create')
      .description('create an empty volume')
      .argument('<name>', 'volume name')
      .requiredOption('--size <size>', 'virtual size, e.g. 10G or 512M')
      .addOption(choiceOption('--image-format <format>', 'how the volume is stored', IMAGE_FORMATS, 'qcow2')),
  ).action(async (name: string, opts: { size: string; imageFormat: VolumeFormat; pool: string }) => {
    volName(name);
    poolName(opts.pool);
    const sizeBytes = parseSize(opts.size, 'size');
    const v = await storageOf().createVolume(opts.pool, name, sizeBytes, opts.imageFormat);
    ctx.stdout.write(`created volume ${v.pool}/${v.name} (${v.format}, ${formatBytes(v.capacityBytes)})\n`);
  });

  volume
    .command('list')
    .alias('ls')
    .description('list volumes (of every pool unless --pool is given)')
    .option('--pool <pool>', 'only this pool')
    .addOption(choiceOption('--format <format>', 'output format', FORMATS, 'table'))
    .action(async (opts: { pool?: string; format: OutputFormat }) => {
      if (opts.pool !== undefined) poolName(opts.pool);
      const volumes = await storageOf().volumes(opts.pool);
      print(ctx, opts.format, volumes, () => volumeTable(volumes));
    });

  poolOpt(
    volume
      .command('show')
      .description("show a volume's details")
      .argument('<name>', 'volume name')
      .addOption(choiceOption('--format <format>', 'output format', FORMATS, 'table')),
  ).action(async (name: string, opts: { pool: string; format: OutputFormat }) => {
    volName(name);
    poolName(opts.pool);
    const v = await storageOf().volume(opts.pool, name);
    print(ctx, opts.format, v, () => volumeDetails(v));
  });

  poolOpt(
    volume
      .command('import')
      .description('copy a raw or qcow2 image (any that qemu-img makes; a backing chain is flattened) into a volume')
      .argument('<name>', 'volume name')
      .argument('<file>', 'the image to import')
      .addOption(choiceOption('--image-format <format>', 'how the volume is stored', IMAGE_FORMATS, 'qcow2'))
      .addOption(
        choiceOption(
          '--source-format <format>',
          "the file's format (default: probed)",
          [...IMAGE_FORMATS, 'auto'],
          'auto',
        ),
      )
      .option('-q, --quiet', 'no progress bar'),
  ).action(
    async (
      name: string,
      file: string,
      opts: { pool: string; imageFormat: VolumeFormat; sourceFormat: VolumeFormat | 'auto'; quiet?: boolean },
    ) => {
      volName(name);
      poolName(opts.pool);
      const v = await storageOf().importVolume(
        opts.pool,
        name,
        file,
        { format: opts.imageFormat, sourceFormat: opts.sourceFormat === 'auto' ? undefined : opts.sourceFormat },
        follow(ctx, opts.quiet, `importing ${file}`),
      );
      ctx.stdout.write(
        `imported ${file} as volume ${v.pool}/${v.name} (${v.format}, ${formatBytes(v.capacityBytes)})\n`,
      );
    },
  );

  poolOpt(
    volume
      .command('clone')
      .description('make a thin copy-on-write overlay of a volume (the base stays read-only while clones use it)')
      .argument('<base>', 'the volume to clone')
      .argument('<name>', 'the new volume')
      .option('-q, --quiet', 'no progress line'),
  ).action(async (base: string, name: string, opts: { pool: string; quiet?: boolean }) => {
    volName(base);
    volName(name);
    poolName(opts.pool);
    const v = await storageOf().cloneVolume(
      opts.pool,
      base,
      name,
      follow(ctx, opts.quiet, `cloning ${opts.pool}/${base}`),
    );
    ctx.stdout.write(`created volume ${v.pool}/${v.name}, a clone of ${base}\n`);
  });

  poolOpt(
    volume
      .command('copy')
      .description('make a standalone copy of a volume in its pool (a backing chain is read through)')
      .argument('<source>', 'the volume to copy')
      .argument('<name>', 'the new volume')
      .addOption(
        choiceOption(
          '--image-format <format>',
          'how the copy is stored (default: as the source)',
          [...IMAGE_FORMATS, 'same'],
          'same',
        ),
      )
      .option('-q, --quiet', 'no progress bar'),
  ).action(
    async (
      source: string,
      name: string,
      opts: { pool: string; imageFormat: VolumeFormat | 'same'; quiet?: boolean },
    ) => {
      volName(source);
      volName(name);
      poolName(opts.pool);
      const v = await storageOf().copyVolume(
        opts.pool,
        source,
        name,
        opts.imageFormat === 'same' ? undefined : opts.imageFormat,
        follow(ctx, opts.quiet, `copying ${opts.pool}/${source}`),
      );
      ctx.stdout.write(`created volume ${v.pool}/${v.name} (${v.format}), a copy of ${source}\n`);
    },
  );

  poolOpt(
    volume
      .command('resize')
      .description('grow a volume no VM uses (shrinking is refused); +SIZE grows by SIZE')
      .argument('<name>', 'volume name')
      .argument('<size>', 'new size, e.g. 20G, or +5G'),
  ).action(async (name: string, size: string, opts: { pool: string }) => {
    volName(name);
    poolName(opts.pool);
    const v = await storageOf().resizeVolume(
      opts.pool,
      name,
      size.startsWith('+')
        ? { growBytes: parseSize(size.slice(1), 'size increment') }
        : { sizeBytes: parseSize(size, 'size') },
    );
    ctx.stdout.write(`resized volume ${v.pool}/${v.name} to ${formatBytes(v.capacityBytes)}\n`);
  });

  poolOpt(
    volume
      .command('export')
      .description('write a standalone copy of a volume to a file of this machine (qcow2, compressed qcow2 or raw)')
      .argument('<name>', 'volume name')
      .argument('<file>', 'the file to write (must not exist)')
      .addOption(choiceOption('--image-format <format>', 'format of the file', IMAGE_FORMATS, 'qcow2'))
      .option('--compress', 'qcow2: store clusters compressed')
      .option('-q, --quiet', 'no progress bar'),
  ).action(
    async (
      name: string,
      file: string,
      opts: { pool: string; imageFormat: VolumeFormat; compress?: boolean; quiet?: boolean },
    ) => {
      volName(name);
      poolName(opts.pool);
      if (opts.compress && opts.imageFormat !== 'qcow2') {
        throw new UsageError('--compress needs --image-format qcow2');
      }
      await storageOf().exportVolume(
        opts.pool,
        name,
        file,
        { format: opts.imageFormat, compress: opts.compress === true },
        follow(ctx, opts.quiet, `exporting ${opts.pool}/${name}`),
      );
      ctx.stdout.write(
        `exported volume ${opts.pool}/${name} to ${file} (${opts.imageFormat}${opts.compress ? ', compressed' : ''})\n`,
      );
    },
  );

  poolOpt(
    volume
      .command('delete')
      .alias('rm')
      .description('delete a volume (refused while a VM uses it or a clone is based on it)')
      .argument('<name>', 'volume name'),
  ).action(async (name: string, opts: { pool: string }) => {
    volName(name);
    poolName(opts.pool);
    await storageOf().deleteVolume(opts.pool, name);
    ctx.stdout.write(`deleted volume ${opts.pool}/${name}\n`);
  });

  // ---- snapshots
  const snapshot = volume.command('snapshot').description('internal snapshots of a qcow2 volume');
  poolOpt(
    snapshot
      .command('create')
      .description('take a snapshot of the volume as it is now')
      .argument('<volume>', 'volume name')
      .argument('<snapshot>', 'snapshot name'),
  ).action(async (vol: string, snap: string, opts: { pool: string }) => {
    volName(vol);
    poolName(opts.pool);
    usage(() => checkName(snap, 'snapshot'));
    const s = await storageOf().createSnapshot(opts.pool, vol, snap);
    ctx.stdout.write(`created snapshot ${s.name} (id ${s.id}) of volume ${opts.pool}/${vol}\n`);
  });
  poolOpt(
    snapshot
      .command('list')
      .alias('ls')
      .description("list a volume's snapshots")
      .argument('<volume>', 'volume name')
      .addOption(choiceOption('--format <format>', 'output format', FORMATS, 'table')),
  ).action(async (vol: string, opts: { pool: string; format: OutputFormat }) => {
    volName(vol);
    poolName(opts.pool);
    const snaps = await storageOf().snapshots(opts.pool, vol);
    print(ctx, opts.format, snaps, () => snapshotTable(snaps));
  });
  poolOpt(
    snapshot
      .command('revert')
      .description('return the volume to a snapshot (by name or id); its current content is lost')
      .argument('<volume>', 'volume name')
      .argument('<snapshot>', 'snapshot name or id'),
  ).action(async (vol: string, snap: string, opts: { pool: string }) => {
    volName(vol);
    poolName(opts.pool);
    await storageOf().revertSnapshot(opts.pool, vol, snap);
    ctx.stdout.write(`reverted volume ${opts.pool}/${vol} to snapshot ${snap}\n`);
  });
  poolOpt(
    snapshot
      .command('delete')
      .alias('rm')
      .description('delete a snapshot (by name or id)')
      .argument('<volume>', 'volume name')
      .argument('<snapshot>', 'snapshot name or id'),
  ).action(async (vol: string, snap: string, opts: { pool: string }) => {
    volName(vol);
    poolName(opts.pool);
    await storageOf().deleteSnapshot(opts.pool, vol, snap);
    ctx.stdout.write(`deleted snapshot ${snap} of volume ${opts.pool}/${vol}\n`);
  });
};
