import type { Command } from 'commander';
import type { Operation } from '../../api/schema/index.js';
import { renderTable } from '../../base/table.js';
import { type CliContext, type CliRegistrar, clientFor, formatOption } from '../cli-context.js';
import { type OutputFormat, printData } from '../output.js';

/** Registers `strata operation list|show|cancel`. */
export const registerOperationCommands: CliRegistrar = (program: Command, ctx: CliContext) => {
  const op = program.command('operation').alias('op').description('long-running work of the daemon');
  op.command('list')
    .alias('ls')
    .description('recent operations, newest first')
    .addOption(formatOption())
    .action(async (opts: { format: OutputFormat }) => {
      const list = await clientFor(ctx).call<Operation[]>('GET', '/1.0/operations');
      printData(ctx.stdout, opts.format, list, () =>
        renderTable<Operation>(list, [
          { header: 'id', cell: (o) => o.id },
          { header: 'kind', cell: (o) => o.kind },
          { header: 'resource', cell: (o) => o.resource },
          { header: 'status', cell: (o) => o.status },
          { header: 'created', cell: (o) => o.createdAt.replace(/\.\d+Z$/, 'Z') },
          { header: 'error', cell: (o) => o.errorMessage ?? '' },
        ]),
      );
    });
  op.command('show')
    .description('show one operation')
    .argument('<id>', 'operation id')
    .addOption(formatOption())
    .action(async (id: string, opts: { format: OutputFormat }) => {
      const o = await clientFor(ctx).call<Operation>('GET', `/1.0/operations/${encodeURIComponent(id)}`);
      printData(ctx.stdout, opts.format === 'table' ? 'yaml' : opts.format, o, () => '');
    });
  op.command('cancel')
    .description('cancel a running operation')
    .argument('<id>', 'operation id')
    .action(async (id: string) => {
      await clientFor(ctx).call<Operation>('DELETE', `/1.0/operations/${encodeURIComponent(id)}`);
      ctx.stdout.write(`cancelled ${id}\n`);
    });
};
