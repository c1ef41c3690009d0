import type { Command } from 'commander';
import { isStrataError, StrataError } from '../../base/errors.js';
import { ProgressBar, type ProgressReporter, silentProgress } from '../../base/progress.js';
import { renderTable } from '../../base/table.js';
import { formatBytes } from '../../base/units.js';
import { type ContainerImageKind, pullContainerImage } from '../../services/images/container-image.js';
import { PULLABLE_IMAGES, pullDebianImage } from '../../services/images/debian-builder.js';
import { defaultStrataHome, type ImageManifest, ImageStore } from '../../services/images/image-store.js';
import { type CommandContext, type CommandRegistrar, choiceOption } from '../program.js';

/** Image sources `strata image pull` knows, by name. */
const PULL_SOURCES = PULLABLE_IMAGES;

/**
 * Registers `strata image pull|list|rm`: guest images built from Debian packages, kept in the local image store
 * (`$STRATA_HOME`, default `$XDG_DATA_HOME/strata` or `~/.local/share/strata`).
 */
export const registerImageCommands: CommandRegistrar = (program: Command, ctx: CommandContext) => {
  const image = program
    .command('image')
    .description('guest images in the local image store ($STRATA_HOME/images)')
    .addHelpText('after', `\nThe store is at $STRATA_HOME, default $XDG_DATA_HOME/strata or ~/.local/share/strata.\n`);

  image
    .command('pull')
    .description(
      'build an image from distribution packages: "debian" fetches Debian 13 (trixie) riscv64 kernel, busybox and OpenSBI with apt',
    )
    .argument('<name>', `image to pull (${PULL_SOURCES.join(', ')})`)
    .option('--mirror <url>', "Debian mirror to use instead of the one the host's apt sources name")
    .option('--refresh', "check the mirror's index now, even if it was checked in the last 6 hours")
    .option('-q, --quiet', 'no progress bar; print only the result line')
    .option('--type <type>', 'vm (default), or container: a root file system for system containers (busybox, debian)')
    .addHelpText(
      'after',
      "\nWithin 6 hours of the last check of the mirror's index a pull does no network work and says so;\n" +
        'a pull with nothing new downloads no package. Signatures are checked by apt against\n' +
        '/usr/share/keyrings/debian-archive-keyring.gpg.\n',
    )
    .action(async (name: string, opts: { mirror?: string; quiet?: boolean; refresh?: boolean; type?: string }) => {
      if (opts.type !== undefined && opts.type !== 'vm' && opts.type !== 'container') {
        throw new StrataError('INVALID_ARGUMENT', `invalid --type '${opts.type}': choose vm or container`);
      }
      if (opts.type === 'container') {
        if (name !== 'busybox' && name !== 'debian') {
          throw new StrataError('NOT_FOUND', `unknown container image '${name}': choose busybox or debian`);
        }
        const store = new ImageStore(defaultStrataHome(ctx.env));
        // debootstrap's lines stay above the bar, one per step; the bar counts packages (applets for busybox).
        const bar = opts.quiet ? undefined : new ProgressBar(ctx.stderr);
        const r = await withInterrupt((signal) =>
          pullContainerImage({
            store,
            kind: name as ContainerImageKind,
            env: ctx.env,
            mirror: opts.mirror,
            signal,
            onProgress: bar ? (line) => bar.note(line) : undefined,
            progress: bar,
          }),
        );
        ctx.stdout.write(
          `${r.built ? 'built' : 'up to date:'} container image ${r.manifest.name} (${r.manifest.arch})\n`,
        );
        return;
      }
      if (!PULL_SOURCES.includes(name)) {
        throw new StrataError(
          'NOT_FOUND',
          `unknown image '${name}': images that can be pulled: ${PULL_SOURCES.join(', ')}`,
        );
      }
      const store = new ImageStore(defaultStrataHome(ctx.env));
      const progress: ProgressReporter = opts.quiet ? silentProgress : new ProgressBar(ctx.stderr);
      const result = await withInterrupt((signal) =>
        pullDebianImage({ store, name, env: ctx.env, mirror: opts.mirror, refresh: opts.refresh, progress, signal }),
      ).catch((err: unknown) => {
        // A bar may be half drawn: leave its real figure (never a 100% it did not reach) above the error line.
        const aborted = isStrataError(err) && err.code === 'ABORTED';
        progress.fail?.(aborted ? 'cancelled' : 'failed');
        if (aborted) {
          throw new StrataError('ABORTED', `pull of image ${name} cancelled: the store is unchanged`);
        }
        throw err;
      });
      ctx.stdout.write(`${result.message}\n`);
    });

  image
    .command('list')
    .alias('ls')
    .description('list the images in the store')
    .addOption(choiceOption('--format <format>', 'output format', ['table', 'json'], 'table'))
    .action(async (opts: { format: 'table' | 'json' }) => {
      const store = new ImageStore(defaultStrataHome(ctx.env));
      const images = await store.list();
      if (opts.format === 'json') {
        ctx.stdout.write(
          `${JSON.stringify(
            images.map((m) => ({ ...m, path: store.imageDir(m.name) })),
            null,
            2,
          )}\n`,
        );
        return;
      }
      ctx.stdout.write(
        renderTable<ImageManifest>(images, [
          { header: 'name', cell: (m) => m.name },
          { header: 'arch', cell: (m) => m.arch },
          { header: 'release', cell: (m) => `${m.distribution} ${m.release}` },
          { header: 'kernel', cell: (m) => m.kernelVersion },
          { header: 'size', cell: (m) => formatBytes(m.files.reduce((n, f) => n + f.sizeBytes, 0)), align: 'right' },
          { header: 'created', cell: (m) => m.createdAt.replace(/\.\d+Z$/, 'Z') },
        ]),
      );
    });

  image
    .command('rm')
    .alias('remove')
    .description('remove an image from the store')
    .argument('<name>', 'image name')
    .action(async (name: string) => {
      const store = new ImageStore(defaultStrataHome(ctx.env));
      await store.remove(name);
      ctx.stdout.write(`removed image ${name}\n`);
    });
};

/** Runs `job` with a signal that Ctrl-C (SIGINT) or SIGTERM aborts, so a pull cleans up its staging folder. */
async function withInterrupt<T>(job: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await job(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
