import { chmodSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { errorMessage, isStrataError } from '../base/errors.js';
import { ConsoleRing } from './console-ring.js';
import { BuiltinVmmMachine, type VmmMachineHost } from './vmm-machine.js';
import {
  asVmmRequest,
  encodeVmmMessage,
  VMM_PROTOCOL_VERSION,
  type VmmBootConfig,
  type VmmEvent,
  type VmmExit,
  VmmLineDecoder,
  type VmmRequest,
  type VmmResponse,
  type VmmStateReply,
} from './vmm-protocol.js';

/** How a VMM process is set up. */
export interface VmmOptions extends Omit<VmmMachineHost, 'onConsole' | 'onExit'> {
  /** The Unix socket to listen on (created with mode 0600 semantics by the caller's umask). */
  socketPath: string;
  /** The VM definition. */
  config: VmmBootConfig;
  /** Where the exit record is written when the guest is gone, so a daemon that was away learns how it ended. */
  exitFile: string;
  /** Ends the VMM (the guest is stopped first). */
  signal?: AbortSignal;
  /** Boot at once instead of waiting for a `start` request. */
  autostart?: boolean;
  /** Diagnostics (one line each). */
  log?: (line: string) => void;
  /** How long the VMM lingers after the guest is gone so clients read the final state (ms). */
  lingerMs?: number;
}

/**
 * The VMM process's logic: one VM, one Unix socket. Serves the VMM protocol to any number of clients (the daemon,
 * and a restarted daemon later), keeps the last 1 MiB of console output, and ends when the guest is gone (after
 * writing the exit record) or on `shutdown`. Resolves with how the guest ended.
 */
export async function runVmm(opts: VmmOptions): Promise<VmmExit> {
  const log = opts.log ?? (() => {});
  const clients = new Set<Socket>();
  const consoleClients = new Set<Socket>();
  const ring = new ConsoleRing();
  let resolveEnd!: (exit: VmmExit) => void;
  const ended = new Promise<VmmExit>((r) => {
    resolveEnd = r;
  });

  const broadcast = (event: VmmEvent, to: Iterable<Socket> = clients) => {
    const line = encodeVmmMessage(event);
    for (const c of to) if (!c.destroyed) c.write(line);
  };
  const machine = new BuiltinVmmMachine(opts.config, {
    ...opts,
    onConsole(bytes) {
      ring.append(bytes);
      if (consoleClients.size > 0) {
        broadcast({ event: 'console', data: Buffer.from(bytes).toString('base64') }, consoleClients);
      }
    },
    onExit(exit) {
      log(`guest ended: ${exit.kind}: ${exit.reason}`);
      try {
        writeFileSync(opts.exitFile, JSON.stringify({ ...exit, at: new Date().toISOString() }));
      } catch (err) {
        log(`cannot write exit record ${opts.exitFile}: ${errorMessage(err)}`);
      }
      broadcast({ event: 'state', state: 'exited', exit });
      setTimeout(() => resolveEnd(exit), opts.lingerMs ?? 300);
    },
  });

  const handle = async (req: VmmRequest): Promise<unknown> => {
    switch (req.op) {
      case 'configure':
        machine.configure(req.config);
        return stateReply();
      case 'start':
        await machine.start();
        broadcast({ event: 'state', state: machine.state });
        return stateReply();
      case 'pause':
        machine.pause();
        broadcast({ event: 'state', state: machine.state });
        return stateReply();
      case 'resume':
        machine.resume();
        broadcast({ event: 'state', state: machine.state });
        return stateReply();
      case 'stop':
        await machine.stop(req.force);
        return stateReply();
      case 'state':
        return stateReply();
      case 'stats':
        return machine.stats(ring.totalBytes);
      case 'console.subscribe':
        return { history: Buffer.from(ring.snapshot()).toString('base64') };
      case 'console.input':
        machine.sendInput(new Uint8Array(Buffer.from(req.data, 'base64')));
        return {};
      case 'shutdown':
        await machine.stop(true);
        setTimeout(() => resolveEnd(machine.exit ?? { kind: 'stopped', reason: 'shut down' }), 50);
        return stateReply();
    }
  };
  const stateReply = (): VmmStateReply => ({
    state: machine.state,
    pid: process.pid,
    config: machine.config,
    startedAt: machine.startedAt,
    exit: machine.exit,
  });

  const server: Server = createServer((socket) => {
    clients.add(socket);
    socket.setEncoding('utf8');
    const decoder = new VmmLineDecoder();
    socket.write(
      encodeVmmMessage({ event: 'hello', version: VMM_PROTOCOL_VERSION, pid: process.pid, name: opts.config.name }),
    );
    socket.on('data', (chunk: string) => {
      let messages: unknown[];
      try {
        messages = decoder.feed(chunk);
      } catch (err) {
        log(`dropping client: ${errorMessage(err)}`);
        socket.destroy();
        return;
      }
      for (const m of messages) {
        let req: VmmRequest;
        try {
          req = asVmmRequest(m);
        } catch (err) {
          const id = Number((m as { id?: unknown }).id) || 0;
          reply(socket, { id, ok: false, error: { code: 'INVALID_ARGUMENT', message: errorMessage(err) } });
          continue;
        }
        if (req.op === 'console.subscribe') consoleClients.add(socket);
        handle(req).then(
          (result) => reply(socket, { id: req.id, ok: true, result }),
          (err: unknown) =>
            reply(socket, {
              id: req.id,
              ok: false,
              error: { code: isStrataError(err) ? err.code : 'INTERNAL', message: errorMessage(err) },
            }),
        );
      }
    });
    socket.on('error', () => {
      // A client that goes away mid-write is normal (the daemon restarts); the VM keeps running.
    });
    socket.on('close', () => {
      clients.delete(socket);
      consoleClients.delete(socket);
    });
  });
  await rm(opts.socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.socketPath, () => resolve());
  });
  // Only the owner (the daemon's user) may drive the VM: the socket is the VMM's only guard.
  chmodSync(opts.socketPath, 0o600);
  log(`VMM for '${opts.config.name}' listening on ${opts.socketPath} (pid ${process.pid})`);

  const onAbort = () => {
    void machine.stop(true).then(() => resolveEnd(machine.exit ?? { kind: 'stopped', reason: 'VMM terminated' }));
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.autostart) await machine.start();

  const exit = await ended;
  opts.signal?.removeEventListener('abort', onAbort);
  for (const c of clients) c.end();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(opts.socketPath, { force: true });
  return exit;
}

function reply(socket: Socket, res: VmmResponse): void {
  if (!socket.destroyed) socket.write(encodeVmmMessage(res));
}
