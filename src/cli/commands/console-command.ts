import type { Command } from 'commander';
import type { WebSocket } from 'ws';
import { StrataError } from '../../base/errors.js';
import { type CliContext, type CliRegistrar, clientFor } from '../cli-context.js';
import { toError } from '../client.js';

/** Ctrl-A: the console's escape key (as in `strata run`). */
const CTRL_A = 0x01;

/** Waits for a WebSocket to open; the daemon's refusal (401, 404, 409) becomes its error message. */
export function openSocket(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          body = undefined;
        }
        reject(toError({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
    });
    ws.once('error', (err) => reject(new StrataError('UNAVAILABLE', `cannot open the WebSocket: ${err.message}`)));
  });
}

/** Registers `strata console NAME`: the instance's serial console (history first), through the daemon. */
export const registerConsoleCommand: CliRegistrar = (program: Command, ctx: CliContext) => {
  program
    .command('console')
    .description('attach to the serial console of an instance (several viewers may attach at once)')
    .argument('<name>', 'instance name')
    .option('--linger <ms>', 'without a terminal: keep showing output this long after input ends', '2000')
    .addHelpText(
      'after',
      '\nOn a terminal: Ctrl-A x detaches (the instance keeps running), Ctrl-A Ctrl-A sends Ctrl-A.\n',
    )
    .action(async (name: string, opts: { linger: string }) => {
      const ws = clientFor(ctx).websocket(`/1.0/instances/${encodeURIComponent(name)}/console`);
      // Listen before the socket opens: the history may arrive in the same read as the upgrade answer.
      ws.on('message', (data: Buffer) => ctx.stdout.write(data));
      const tty = ctx.stdin.isTTY === true && typeof ctx.stdin.setRawMode === 'function';
      if (tty) ctx.stderr.write(`[console of ${name}: Ctrl-A x detaches]\r\n`);
      await openSocket(ws);
      let escaped = false;
      const closed = new Promise<{ code: number; reason: string }>((resolve) =>
        ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
      );
      const onData = (chunk: Buffer) => {
        if (!tty) {
          ws.send(chunk);
          return;
        }
        const out: number[] = [];
        for (const b of chunk) {
          if (escaped) {
            escaped = false;
            if (b === 0x78 /* x */) {
              ws.close(1000, 'detached');
              return;
            }
            out.push(b === CTRL_A ? CTRL_A : b);
          } else if (b === CTRL_A) escaped = true;
          else out.push(b);
        }
        if (out.length > 0) ws.send(Buffer.from(out));
      };
      const onEnd = () => {
        setTimeout(() => ws.close(1000, 'input ended'), Number(opts.linger) || 0);
      };
      if (tty) ctx.stdin.setRawMode?.(true);
      ctx.stdin.on('data', onData);
      ctx.stdin.once('end', onEnd);
      try {
        const { code, reason } = await closed;
        if (code >= 4000) throw new StrataError('CONFLICT', reason || `console of '${name}' closed (${code})`);
      } finally {
        ctx.stdin.off('data', onData);
        ctx.stdin.off('end', onEnd);
        if (tty) ctx.stdin.setRawMode?.(false);
        if ('pause' in ctx.stdin) ctx.stdin.pause();
      }
    });
};
