import type { Command } from 'commander';
import { Option } from 'commander';
import { stringify } from 'yaml';
import type { StrataEvent } from '../../api/schema/index.js';
import { type CliContext, type CliRegistrar, clientFor } from '../cli-context.js';
import { openSocket } from './console-command.js';

/** One event as a line for people. */
export function eventLine(e: StrataEvent): string {
  const d = e.data as Record<string, unknown>;
  const what =
    e.type === 'lifecycle'
      ? `${String(d.action)}${d.reason ? ` (${String(d.reason)})` : ''}`
      : `${String(d.kind)} ${String(d.status)}${d.error ? `: ${String(d.error)}` : ''}`;
  return `${String(e.seq).padStart(6)}  ${e.at}  ${e.type.padEnd(9)}  ${e.resource}  ${what}`;
}

/** Registers `strata monitor`: the daemon's event stream, resumable with --since. */
export const registerMonitorCommand: CliRegistrar = (program: Command, ctx: CliContext) => {
  program
    .command('monitor')
    .description('follow lifecycle and operation events as they happen')
    .option('--since <seq>', 'first replay the kept events after this sequence number')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'yaml']).default('table'))
    .option('--count <n>', 'exit after this many events')
    .action(async (opts: { since?: string; format: string; count?: string }) => {
      const q = opts.since !== undefined ? `?since=${encodeURIComponent(opts.since)}` : '';
      const ws = clientFor(ctx).websocket(`/1.0/events${q}`);
      let left = opts.count !== undefined ? Number(opts.count) : Number.POSITIVE_INFINITY;
      let stopped = false;
      let stop = () => {};
      const ended = new Promise<void>((resolve) => {
        stop = () => {
          stopped = true;
          ws.close();
          resolve();
        };
        ws.on('close', () => resolve());
      });
      // Listen before the socket opens: replayed events may arrive in the same read as the upgrade answer.
      ws.on('message', (data: Buffer) => {
        if (stopped) return;
        const e = JSON.parse(data.toString('utf8')) as StrataEvent;
        if (opts.format === 'json') ctx.stdout.write(`${JSON.stringify(e)}\n`);
        else if (opts.format === 'yaml') ctx.stdout.write(`---\n${stringify(e)}`);
        else ctx.stdout.write(`${eventLine(e)}\n`);
        if (--left <= 0) stop();
      });
      await openSocket(ws);
      const onSigint = () => stop();
      process.once('SIGINT', onSigint);
      await ended;
      process.off('SIGINT', onSigint);
    });
};
