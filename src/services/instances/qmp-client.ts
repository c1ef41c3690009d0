import { connect, type Socket } from 'node:net';
import { errorMessage, StrataError } from '../../base/errors.js';

/** A QMP event (`{"event": "STOP", "data": {...}, "timestamp": {...}}`). */
export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
}

/**
 * A client of QEMU's machine protocol (QMP) over a Unix socket: reads the greeting, negotiates capabilities, then
 * runs commands by id and hands events to listeners. When QEMU goes away pending commands reject with UNAVAILABLE.
 */
export class QmpClient {
  private nextId = 1;
  private buffered = '';
  private readonly pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly eventListeners = new Set<(e: QmpEvent) => void>();
  private readonly closeListeners = new Set<() => void>();
  private closed = false;

  private constructor(private readonly socket: Socket) {}

  /** Connects to QMP at `path`, within `timeoutMs`. */
  static connect(path: string, timeoutMs = 5000): Promise<QmpClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      const client = new QmpClient(socket);
      let greeted = false;
      const timer = setTimeout(() => fail('no QMP greeting in time'), timeoutMs);
      const fail = (why: string) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new StrataError('UNAVAILABLE', `cannot reach QMP at ${path}: ${why}`));
      };
      socket.setEncoding('utf8');
      socket.once('error', (err) => fail(errorMessage(err)));
      socket.on('data', (chunk: string) => {
        client.buffered += chunk;
        for (;;) {
          const nl = client.buffered.indexOf('\n');
          if (nl < 0) break;
          const line = client.buffered.slice(0, nl).trim();
          client.buffered = client.buffered.slice(nl + 1);
          if (line === '') continue;
          let msg: Record<string, unknown>;
          try {
            msg = JSON.parse(line) as Record<string, unknown>;
          } catch {
            continue;
          }
          if (!greeted && 'QMP' in msg) {
            greeted = true;
            client.command('qmp_capabilities').then(
              () => {
                clearTimeout(timer);
                socket.removeAllListeners('error');
                socket.on('error', () => {
                  // The close handler settles everything.
                });
                resolve(client);
              },
              (err: unknown) => fail(errorMessage(err)),
            );
            continue;
          }
          client.dispatch(msg);
        }
      });
      socket.on('close', () => {
        if (!greeted) fail('connection closed');
        client.onClose();
      });
    });
  }

  /** Runs a QMP command and resolves with its `return`; a QMP error rejects naming the command. */
  command<T = unknown>(execute: string, args?: Record<string, unknown>, timeoutMs = 30_000): Promise<T> {
    if (this.closed) return Promise.reject(new StrataError('UNAVAILABLE', `QEMU is gone (QMP ${execute})`));
    const id = `s${this.nextId++}`;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new StrataError('UNAVAILABLE', `QEMU did not answer QMP ${execute} in time`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.socket.write(`${JSON.stringify({ execute, ...(args ? { arguments: args } : {}), id })}\n`);
    });
  }

  /** Listens to QMP events; returns the function that stops listening. */
  onEvent(listener: (e: QmpEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Runs `listener` once when the connection is gone. */
  onClosed(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.add(listener);
  }

  /** Closes the connection (QEMU keeps running). */
  close(): void {
    this.socket.destroy();
  }

  private dispatch(msg: Record<string, unknown>): void {
    if (typeof msg.event === 'string') {
      for (const l of this.eventListeners) l(msg as unknown as QmpEvent);
      return;
    }
    const id = msg.id as string | undefined;
    const p = id ? this.pending.get(id) : undefined;
    if (!p || !id) return;
    this.pending.delete(id);
    if ('error' in msg) {
      const e = msg.error as { class?: string; desc?: string };
      p.reject(new StrataError('CONFLICT', `QEMU refused: ${e.desc ?? e.class ?? 'unknown error'}`));
    } else p.resolve(msg.return);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(new StrataError('UNAVAILABLE', 'QEMU closed QMP'));
    this.pending.clear();
    for (const l of this.closeListeners) l();
    this.closeListeners.clear();
  }
}
