import { connect, type Socket } from 'node:net';
import { errorMessage, StrataError } from '../../base/errors.js';
import {
  encodeVmmMessage,
  VMM_PROTOCOL_VERSION,
  type VmmEvent,
  VmmLineDecoder,
  type VmmRequest,
  type VmmResponse,
} from '../../hypervisor/vmm-protocol.js';

/** A request without its id (the client numbers them). */
export type VmmCall = VmmRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/**
 * One connection to a VMM's Unix socket: numbered requests with promised answers, and the VMM's events to
 * listeners. When the connection closes every pending request rejects with UNAVAILABLE and `onClose` listeners run
 * once (the VMM went away, or `close()` was called).
 */
export class VmmClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly eventListeners = new Set<(e: VmmEvent) => void>();
  private readonly closeListeners = new Set<() => void>();
  private closed = false;
  /** The VMM's pid, from its hello. */
  pid = 0;

  private constructor(
    private readonly socket: Socket,
    readonly socketPath: string,
  ) {}

  /** Connects and waits for the VMM's hello; UNAVAILABLE when nobody listens or the hello does not come. */
  static connect(socketPath: string, timeoutMs = 5000, signal?: AbortSignal): Promise<VmmClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath);
      const client = new VmmClient(socket, socketPath);
      const fail = (why: string) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        reject(new StrataError('UNAVAILABLE', `cannot reach the VMM at ${socketPath}: ${why}`));
      };
      const onAbort = () => fail('cancelled');
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => fail(`no hello within ${timeoutMs} ms`), timeoutMs);
      socket.once('error', (err) => fail(errorMessage(err)));
      const decoder = new VmmLineDecoder();
      socket.setEncoding('utf8');
      let greeted = false;
      socket.on('data', (chunk: string) => {
        let messages: unknown[];
        try {
          messages = decoder.feed(chunk);
        } catch (err) {
          socket.destroy(err as Error);
          return;
        }
        for (const m of messages) {
          const ev = m as VmmEvent;
          if (!greeted && ev.event === 'hello') {
            if (ev.version !== VMM_PROTOCOL_VERSION) {
              fail(`protocol version ${ev.version}, this daemon speaks ${VMM_PROTOCOL_VERSION}`);
              return;
            }
            greeted = true;
            client.pid = ev.pid;
            clearTimeout(timer);
            signal?.removeEventListener('abort', onAbort);
            socket.removeAllListeners('error');
            socket.on('error', () => {
              // The close handler below settles everything; the error itself says nothing more.
            });
            resolve(client);
            continue;
          }
          client.dispatch(m);
        }
      });
      socket.on('close', () => {
        if (!greeted) fail('connection closed');
        client.onSocketClose();
      });
    });
  }

  /** Sends a request and resolves with its result; rejects with the VMM's error (same code) or UNAVAILABLE. */
  call<T = unknown>(req: VmmCall, timeoutMs = 60_000): Promise<T> {
    if (this.closed) {
      return Promise.reject(new StrataError('UNAVAILABLE', `the VMM at ${this.socketPath} is gone`));
    }
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new StrataError('UNAVAILABLE', `the VMM at ${this.socketPath} did not answer '${req.op}' in time`));
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
      this.socket.write(encodeVmmMessage({ ...req, id } as VmmRequest));
    });
  }

  /** Listens to the VMM's events; returns the function that stops listening. */
  onEvent(listener: (e: VmmEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Runs `listener` once when the connection is gone (immediately if it already is). */
  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.add(listener);
  }

  /** True once the connection is gone. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Closes the connection; the VMM keeps running. */
  close(): void {
    this.socket.destroy();
  }

  private dispatch(m: unknown): void {
    const res = m as VmmResponse;
    if (typeof res.id === 'number' && 'ok' in res) {
      const p = this.pending.get(res.id);
      if (!p) return;
      this.pending.delete(res.id);
      if (res.ok) p.resolve(res.result);
      else p.reject(new StrataError(res.error.code, res.error.message));
      return;
    }
    for (const l of this.eventListeners) l(m as VmmEvent);
  }

  private onSocketClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) {
      p.reject(new StrataError('UNAVAILABLE', `the VMM at ${this.socketPath} closed the connection`));
    }
    this.pending.clear();
    for (const l of this.closeListeners) l();
    this.closeListeners.clear();
  }
}
