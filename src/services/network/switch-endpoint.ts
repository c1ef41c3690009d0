/**
 * The per-network switch endpoint: a Unix stream socket on which the process that runs a network's switch
 * accepts attachments from other processes (`strata run` instances), so that guests of several processes share
 * one network.
 *
 * Wire format, both directions: records of a 4-byte big-endian length followed by that many bytes (the framing
 * QEMU's `-netdev stream` also uses). The first record from the client is a UTF-8 JSON hello
 * `{"strata":1,"name":"vm1","vlan":{...}?}`; the server answers one JSON record
 * `{"ok":true,"port":N,"network":"net0"}` or `{"ok":false,"error":"..."}`. Every later record is one Ethernet
 * frame. A record longer than 65535 bytes is a protocol error: the connection is closed and the port's rxErrors
 * counted. Frames that the peer's socket cannot take (more than `maxQueuedBytes` unsent) are dropped and counted,
 * so a stalled peer cannot grow memory.
 *
 * Dialled ports: a hello with `"dial":"/abs/path.sock"` asks the server to connect to that Unix socket itself and to
 * carry the port's frames there, as bare records with no hello (what QEMU's `-netdev stream,server=on` listens
 * for). The answer comes once that connection is up, and the hello connection then ends; the port lives as long as
 * the dialled connection, so it does not depend on the process that asked for it.
 *
 * A dial makes this process connect where it is told, so the endpoint socket is made private to its owner (mode
 * 0600) and a dial goes only to a Unix socket owned by the user this process runs as.
 */

import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { StrataError } from '../../base/errors.js';
import type { NetBackend } from '../../machine/ports/net-backend.js';
import { MAX_FRAME_BYTES } from './ethernet.js';
import type { SwitchPort, VlanMode } from './port.js';
import { ReceiveGate } from './port-backend.js';
import type { VirtualSwitch } from './virtual-switch.js';

/** Largest record on the endpoint protocol. */
export const MAX_RECORD_BYTES = 65535;
const HELLO_VERSION = 1;

/** Splits a byte stream into length-prefixed records, bounded: a record over `max` is an error. */
export class RecordReader {
  private buf = new Uint8Array(0);

  constructor(private readonly max = MAX_RECORD_BYTES) {}

  /** Appends bytes and returns the complete records; throws RangeError on an oversized length. */
  push(chunk: Uint8Array): Uint8Array[] {
    let data: Uint8Array;
    if (this.buf.length === 0) data = chunk;
    else {
      data = new Uint8Array(this.buf.length + chunk.length);
      data.set(this.buf, 0);
      data.set(chunk, this.buf.length);
    }
    const out: Uint8Array[] = [];
    let off = 0;
    while (data.length - off >= 4) {
      const len = ((data[off]! << 24) | (data[off + 1]! << 16) | (data[off + 2]! << 8) | data[off + 3]!) >>> 0;
      if (len > this.max) throw new RangeError(`endpoint record of ${len} bytes exceeds ${this.max}`);
      if (data.length - off - 4 < len) break;
      out.push(data.slice(off + 4, off + 4 + len));
      off += 4 + len;
    }
    this.buf = off === data.length ? new Uint8Array(0) : data.slice(off);
    return out;
  }
}

/** One record: its 4-byte length prefix and the bytes. */
export function encodeRecord(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  const n = payload.length;
  out[0] = n >>> 24;
  out[1] = (n >>> 16) & 0xff;
  out[2] = (n >>> 8) & 0xff;
  out[3] = n & 0xff;
  out.set(payload, 4);
  return out;
}

function json(o: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(o));
}

/** Options of a SwitchEndpointServer. */
export interface EndpointServerOptions {
  /** Network name reported in the hello answer. */
  network: string;
  /** Unsent bytes per connection beyond which frames to that peer are dropped (default 1 MiB). */
  maxQueuedBytes?: number;
  /** VLAN mode of attached ports when the client asks for none (default access VLAN 1). */
  defaultVlan?: VlanMode;
}

/** Accepts attachments to `sw` on a Unix socket at `path`. */
export class SwitchEndpointServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly path: string,
    private readonly sw: VirtualSwitch,
    private readonly opts: EndpointServerOptions,
  ) {
    this.server = createServer((s) => this.accept(s));
  }

  /** Listens on `path` (a stale socket file there is replaced; a live one is an ALREADY_EXISTS error). */
  static async listen(path: string, sw: VirtualSwitch, opts: EndpointServerOptions): Promise<SwitchEndpointServer> {
    if (existsSync(path)) {
      const live = await new Promise<boolean>((resolve) => {
        const c = createConnection(path);
        c.once('connect', () => {
          c.destroy();
          resolve(true);
        });
        c.once('error', () => resolve(false));
      });
      if (live) throw new StrataError('ALREADY_EXISTS', `network ${opts.network} is already served at ${path}`);
      unlinkSync(path);
    }
    const ep = new SwitchEndpointServer(path, sw, opts);
    await new Promise<void>((resolve, reject) => {
      ep.server.once('error', (e) => reject(new StrataError('IO', `cannot listen on ${path}: ${e.message}`)));
      ep.server.listen(path, () => resolve());
    });
    try {
      chmodSync(path, 0o600);
    } catch (e) {
      await ep.close();
      throw new StrataError('IO', `cannot make ${path} private: ${(e as Error).message}`);
    }
    return ep;
  }

  /** Number of attached clients. */
  get connections(): number {
    return this.sockets.size;
  }

  /** Stops accepting, detaches every client, removes the socket file. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }

  private accept(sock: Socket): void {
    this.sockets.add(sock);
    const reader = new RecordReader();
    const maxQueued = this.opts.maxQueuedBytes ?? 1 << 20;
    let port: SwitchPort | undefined;
    const done = () => {
      this.sockets.delete(sock);
      if (port) this.sw.removePort(port.no);
      port = undefined;
    };
    sock.on('close', done);
    sock.on('error', () => sock.destroy());
    sock.on('data', (chunk: Buffer) => {
      let records: Uint8Array[];
      try {
        records = reader.push(chunk);
      } catch {
        if (port) port.counters.rxErrors++;
        sock.destroy();
        return;
      }
      for (const r of records) {
        if (port) {
          port.receive(r);
          continue;
        }
        try {
          const hello = JSON.parse(new TextDecoder().decode(r)) as Hello;
          if (hello.strata !== HELLO_VERSION) throw new Error(`unsupported endpoint protocol version ${hello.strata}`);
          if (hello.dial !== undefined) {
            sock.pause();
            this.dial(hello).then(
              (answer) => sock.end(encodeRecord(json(answer))),
              (e: unknown) =>
                sock.end(encodeRecord(json({ ok: false, error: e instanceof Error ? e.message : String(e) }))),
            );
            return;
          }
          const name = this.freePortName(hello.name);
          port = this.sw.addPort({
            name,
            vlan: hello.vlan ?? this.opts.defaultVlan,
            sink: (f) => {
              if (sock.destroyed || sock.writableLength > maxQueued) return false;
              sock.write(encodeRecord(f));
              return true;
            },
          });
          sock.write(encodeRecord(json({ ok: true, port: port.no, name, network: this.opts.network })));
        } catch (e) {
          sock.end(encodeRecord(json({ ok: false, error: e instanceof Error ? e.message : String(e) })));
          return;
        }
      }
    });
  }

  private freePortName(asked: string | undefined): string {
    const base = String(asked ?? 'port');
    let name = base.slice(0, 15);
    for (let i = 2; this.sw.portByName(name); i++) name = `${base.slice(0, 12)}-${i}`;
    return name;
  }

  /** Connects to the socket a dialled-port hello names and makes it a port carrying bare records. */
  private async dial(hello: Hello): Promise<object> {
    const path = hello.dial;
    if (typeof path !== 'string' || !path.startsWith('/') || path.length > 107) {
      throw new Error(`dial needs an absolute Unix socket path, not ${JSON.stringify(path)}`);
    }
    const st = await lstat(path).catch((e: NodeJS.ErrnoException) => {
      throw new Error(`cannot connect to ${path}: ${e.code ?? e.message}`);
    });
    if (!st.isSocket()) throw new Error(`dial needs a Unix socket: ${path} is not one`);
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) {
      throw new Error(`dial refused: ${path} belongs to uid ${st.uid}, not to this network's user (uid ${uid})`);
    }
    const rate = hello.rateBytesPerSec;
    if (rate !== undefined && (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0)) {
      throw new Error(`invalid rateBytesPerSec ${JSON.stringify(rate)}`);
    }
    const peer = await new Promise<Socket>((resolve, reject) => {
      const c = createConnection(path);
      c.once('connect', () => resolve(c));
      c.once('error', (e) => reject(new Error(`cannot connect to ${path}: ${e.message}`)));
    });
    const maxQueued = this.opts.maxQueuedBytes ?? 1 << 20;
    const name = this.freePortName(hello.name);
    let port: SwitchPort;
    try {
      port = this.sw.addPort({
        name,
        vlan: hello.vlan ?? this.opts.defaultVlan,
        sink: (f) => {
          if (peer.destroyed || peer.writableLength > maxQueued) return false;
          peer.write(encodeRecord(f));
          return true;
        },
      });
    } catch (e) {
      // Refused (a bad VLAN, a closed switch): the connection made for it goes too.
      peer.destroy();
      throw e;
    }
    this.sockets.add(peer);
    if (hello.rateBytesPerSec) port.setRateLimit({ bytesPerSecond: hello.rateBytesPerSec });
    const reader = new RecordReader();
    peer.on('data', (chunk: Buffer) => {
      let records: Uint8Array[];
      try {
        records = reader.push(chunk);
      } catch {
        port.counters.rxErrors++;
        peer.destroy();
        return;
      }
      for (const rec of records) port.receive(rec);
    });
    peer.on('error', () => peer.destroy());
    peer.on('close', () => {
      this.sockets.delete(peer);
      this.sw.removePort(port.no);
    });
    return { ok: true, port: port.no, name, network: this.opts.network };
  }
}

/** The first record a client sends. */
interface Hello {
  strata?: number;
  name?: string;
  vlan?: VlanMode;
  /** Dialled port: the Unix socket the server connects to. */
  dial?: string;
  /** Dialled port: ingress rate limit (bytes per second) of the port; 0 or absent: none. */
  rateBytesPerSec?: number;
}

/**
 * Asks the switch at endpoint `path` to connect to the Unix socket `dial` and make it a port named `name` (see
 * "Dialled ports" above). Resolves with the port number once the switch is connected. NOT_FOUND when no switch
 * serves the network, UNAVAILABLE when it refuses (it could not reach `dial`, say).
 */
export async function requestDialledPort(
  path: string,
  opts: { network: string; name: string; dial: string; vlan?: VlanMode; rateBytesPerSec?: number },
): Promise<{ port: number; name: string }> {
  const sock = await openEndpoint(path, opts.network);
  const reader = new RecordReader();
  const { network: _, ...hello } = opts;
  sock.write(encodeRecord(json({ strata: HELLO_VERSION, ...hello })));
  const answer = await new Promise<{ ok: boolean; port?: number; name?: string; error?: string }>((resolve, reject) => {
    sock.on('data', (chunk: Buffer) => {
      try {
        const recs = reader.push(chunk);
        if (recs.length > 0) resolve(JSON.parse(new TextDecoder().decode(recs[0]!)));
      } catch (e) {
        reject(e);
      }
    });
    sock.once('close', () => reject(new StrataError('UNAVAILABLE', `network ${opts.network} closed the attachment`)));
    sock.once('error', (e) => reject(new StrataError('IO', `network ${opts.network}: ${e.message}`)));
  }).finally(() => sock.destroy());
  if (!answer.ok || answer.port === undefined) {
    throw new StrataError('UNAVAILABLE', `network ${opts.network} refused the attachment: ${answer.error ?? '?'}`);
  }
  return { port: answer.port, name: answer.name ?? opts.name };
}

function openEndpoint(path: string, network: string): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const s = createConnection(path);
    s.once('connect', () => resolve(s));
    s.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'ENOENT' || e.code === 'ECONNREFUSED'
          ? new StrataError('NOT_FOUND', `unknown network ${network}: no switch is serving it (${e.code})`)
          : new StrataError('IO', `cannot attach to network ${network}: ${e.message}`),
      ),
    );
  });
}

/**
 * A NetBackend attached to a network switch in another process through its endpoint socket. Created with
 * `connectSwitchEndpoint`.
 */
export class EndpointClient implements NetBackend {
  readonly mac: Uint8Array | undefined = undefined;
  readonly maxFrameBytes = MAX_FRAME_BYTES;
  /** Frames not sent because the socket was congested or closed. */
  sendDropped = 0;
  private readonly gate = new ReceiveGate();
  private writable: (() => void) | null = null;
  private up = true;

  /** @internal use connectSwitchEndpoint */
  constructor(
    private readonly sock: Socket,
    reader: RecordReader,
    /** Port number on the remote switch. */
    readonly portNo: number,
    /** Port name on the remote switch. */
    readonly portName: string,
    private readonly maxQueued: number,
  ) {
    this.gate.onPause = (p) => (p ? sock.pause() : sock.resume());
    sock.on('data', (chunk: Buffer) => {
      let recs: Uint8Array[];
      try {
        recs = reader.push(chunk);
      } catch {
        sock.destroy();
        return;
      }
      for (const r of recs) this.gate.push(r);
    });
    sock.on('drain', () => this.writable?.());
    sock.on('close', () => {
      this.up = false;
    });
    sock.on('error', () => {
      this.up = false;
    });
  }

  get linkUp(): boolean {
    return this.up;
  }

  /** Frames dropped towards the guest (no receiver, or the hold queue was full). */
  get receiveDropped(): number {
    return this.gate.dropped;
  }

  send(frame: Uint8Array): void {
    if (!this.up || this.sock.writableLength > this.maxQueued || frame.length > MAX_RECORD_BYTES) {
      this.sendDropped++;
      return;
    }
    this.sock.write(encodeRecord(frame));
  }

  canSend(): boolean {
    return this.up && this.sock.writableLength <= this.maxQueued;
  }

  onWritable(cb: (() => void) | null): void {
    this.writable = cb;
  }

  setReceiver(cb: ((frame: Uint8Array) => boolean) | null): void {
    this.gate.setReceiver(cb);
  }

  resume(): void {
    this.gate.resume();
  }

  close(): Promise<void> {
    this.up = false;
    return new Promise((resolve) => {
      if (this.sock.destroyed) resolve();
      else this.sock.end(() => resolve());
      setTimeout(() => {
        this.sock.destroy();
        resolve();
      }, 500).unref();
    });
  }
}

/**
 * Attaches to the switch endpoint at `path` as port `name`. A missing socket is a NOT_FOUND error naming the
 * network; a refused hello is UNAVAILABLE.
 */
export async function connectSwitchEndpoint(
  path: string,
  opts: { network: string; name: string; vlan?: VlanMode; maxQueuedBytes?: number },
): Promise<EndpointClient> {
  const sock = await openEndpoint(path, opts.network);
  const reader = new RecordReader();
  sock.write(encodeRecord(json({ strata: HELLO_VERSION, name: opts.name, vlan: opts.vlan })));
  const answer = await new Promise<{ ok: boolean; port?: number; name?: string; error?: string }>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      let recs: Uint8Array[];
      try {
        recs = reader.push(chunk);
      } catch (e) {
        reject(e);
        return;
      }
      if (recs.length === 0) return;
      sock.off('data', onData);
      sock.pause();
      // Frames that arrived with the answer are re-fed to the reader by the client constructor.
      const rest = recs.slice(1);
      try {
        const a = JSON.parse(new TextDecoder().decode(recs[0]!));
        (a as { rest?: Uint8Array[] }).rest = rest;
        resolve(a);
      } catch (e) {
        reject(e);
      }
    };
    sock.on('data', onData);
    sock.once('close', () => reject(new StrataError('UNAVAILABLE', `network ${opts.network} closed the attachment`)));
  });
  if (!answer.ok || answer.port === undefined) {
    sock.destroy();
    throw new StrataError('UNAVAILABLE', `network ${opts.network} refused the attachment: ${answer.error ?? '?'}`);
  }
  const client = new EndpointClient(
    sock,
    reader,
    answer.port,
    answer.name ?? opts.name,
    opts.maxQueuedBytes ?? 1 << 20,
  );
  const rest = (answer as { rest?: Uint8Array[] }).rest ?? [];
  const held: Uint8Array[] = [...rest];
  // Frames that came together with the hello answer go to the receiver once it is set.
  if (held.length > 0) {
    const orig = client.setReceiver.bind(client);
    client.setReceiver = (cb) => {
      orig(cb);
      if (cb) for (const f of held.splice(0)) cb(f);
    };
  }
  sock.resume();
  return client;
}
