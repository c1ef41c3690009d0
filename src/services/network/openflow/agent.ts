/**
 * The OpenFlow 1.3 agent of a switch: it listens for controllers (`ptcp:PORT[:ADDR]`) or connects to one
 * (`tcp:ADDR:PORT`, reconnecting), negotiates the version with HELLO, and serves the switch side of the protocol
 * (spec 7.3-7.5): features, config, flow mods, packet out, port mod, barrier, role, async config and multipart
 * DESC, FLOW, AGGREGATE, TABLE, PORT_STATS, PORT_DESC, TABLE_FEATURES. It reports PACKET_IN, FLOW_REMOVED and
 * PORT_STATUS to every connected controller whose role and async configuration want them.
 *
 * Robustness: every message is decoded with bounds checks; a malformed or unsupported one is answered with the
 * OFPT_ERROR the spec prescribes and the connection carries on. Only a header with a length below 8 (the stream
 * cannot be resynchronized) or a failed version negotiation closes the connection. Outgoing data to a controller
 * that does not read is bounded: beyond `maxQueuedBytes` asynchronous messages are dropped and counted.
 */

import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { StrataError } from '../../../base/errors.js';
import type { SwitchPort } from '../port.js';
import type { PortEvent, VirtualSwitch } from '../virtual-switch.js';
import {
  type Action,
  badLen,
  errorMessage,
  type Match,
  message,
  OfError,
  Reader,
  readActions,
  readHeader,
  readInstructions,
  readMatch,
  Writer,
  writeInstructions,
  writeMatch,
} from './codec.js';
import {
  OFP_NO_BUFFER,
  OFP_VERSION,
  OFPAT,
  OFPBRC,
  OFPC,
  OFPET,
  OFPG_ANY,
  OFPHFC,
  OFPIT,
  OFPMP,
  OFPP,
  OFPPR,
  OFPSCFC,
  OFPT,
  OFPTT_ALL,
  OXM,
  OXM_INFO,
} from './constants.js';
import { cookieOk, covers, type FlowEntry, type FlowMod, outputsTo } from './flow-table.js';
import { allEntries, Pipeline, type PipelineOptions } from './pipeline.js';

/** Where the agent meets controllers. */
export type ControllerTarget =
  | { mode: 'ptcp'; port: number; host: string }
  | { mode: 'tcp'; host: string; port: number };

/** Parses `ptcp:PORT[:ADDR]` or `tcp:ADDR[:PORT]` (default port 6653; ptcp binds 127.0.0.1 by default). */
export function parseControllerTarget(text: string): ControllerTarget {
  const parts = text.split(':');
  const bad = () =>
    new StrataError(
      'INVALID_ARGUMENT',
      `bad OpenFlow target ${JSON.stringify(text)}: use ptcp:PORT[:ADDR] or tcp:ADDR[:PORT]`,
    );
  const num = (s: string | undefined, dflt: number) => {
    if (s === undefined || s === '') return dflt;
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw bad();
    return n;
  };
  if (parts[0] === 'ptcp' && parts.length <= 3)
    return { mode: 'ptcp', port: num(parts[1], 6653), host: parts[2] || '127.0.0.1' };
  if (parts[0] === 'tcp' && parts.length >= 2 && parts.length <= 3 && parts[1])
    return { mode: 'tcp', host: parts[1], port: num(parts[2], 6653) };
  throw bad();
}

/** Options of an OpenFlowAgent. */
export interface AgentOptions extends PipelineOptions {
  /** Bytes queued to a controller beyond which asynchronous messages are dropped (default 4 MiB). */
  maxQueuedBytes?: number;
  /** Software version string in DESC (default "strata"). */
  softwareVersion?: string;
  /**
   * What the switch does while it has `tcp:` controller targets but none is connected: 'standalone' (default)
   * forwards as a plain learning switch, ignoring the flow tables, as Open vSwitch's fail mode of that name;
   * 'secure' keeps using the flow tables. Listening (`ptcp:`) targets never switch modes: flows added by a tool
   * such as ovs-ofctl stay in force after it disconnects.
   */
  failMode?: 'standalone' | 'secure';
  /** Idle time after which a controller is sent ECHO_REQUEST; three times it without traffic closes it (default 5 s). */
  probeIntervalMs?: number;
}

const ROLE = { NOCHANGE: 0, EQUAL: 1, MASTER: 2, SLAVE: 3 } as const;
/** OFPMPF_REPLY_MORE / OFPMPF_REQ_MORE. */
const MORE = 1;
/** Largest multipart body we put in one reply message. */
const MP_CHUNK = 65535 - 16;

/** OpenFlow 1.3 agent serving one VirtualSwitch. */
export class OpenFlowAgent {
  /** The flow pipeline, installed as the switch's datapath. */
  readonly pipeline: Pipeline;
  /** Controllers currently connected (after HELLO). */
  readonly connections = new Set<ControllerConnection>();
  /** Asynchronous messages dropped because a controller did not keep up. */
  asyncDropped = 0;
  private readonly servers: Server[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly unsub: () => void;
  private closed = false;
  /** @internal */
  readonly maxQueuedBytes: number;
  /** @internal */
  readonly softwareVersion: string;
  private activeTargets = 0;
  private readonly activeConnected = new Set<ControllerConnection>();
  private readonly failMode: 'standalone' | 'secure';

  constructor(
    readonly sw: VirtualSwitch,
    opts: AgentOptions = {},
  ) {
    this.maxQueuedBytes = opts.maxQueuedBytes ?? 4 << 20;
    this.softwareVersion = opts.softwareVersion ?? 'strata';
    this.failMode = opts.failMode ?? 'standalone';
    this.pipeline = new Pipeline(
      sw,
      {
        packetIn: (p) => {
          for (const c of this.connections) c.sendPacketIn(p);
        },
        flowRemoved: (e, reason) => {
          for (const c of this.connections) c.sendFlowRemoved(e, reason);
        },
      },
      opts,
    );
    sw.setDatapath(this.pipeline.datapath);
    this.unsub = sw.onPortEvent((e) => {
      for (const c of this.connections) c.sendPortStatus(e);
    });
    const t = setInterval(() => this.pipeline.expire(), 1000);
    t.unref();
    this.timers.push(t);
    const probe = opts.probeIntervalMs ?? 5000;
    const pt = setInterval(() => {
      for (const c of this.connections) c.probe(probe);
    }, probe);
    pt.unref();
    this.timers.push(pt);
  }

  /** True while the switch forwards with its flow tables (false: standalone fallback, see `failMode`). */
  get usingFlowTables(): boolean {
    return !(this.failMode === 'standalone' && this.activeTargets > 0 && this.activeConnected.size === 0);
  }

  /** @internal an active (tcp:) connection came up or went down */
  activeChanged(c: ControllerConnection, up: boolean): void {
    if (up) this.activeConnected.add(c);
    else this.activeConnected.delete(c);
    this.updateDatapath();
  }

  private updateDatapath(): void {
    if (this.closed) return;
    this.sw.setDatapath(this.usingFlowTables ? this.pipeline.datapath : null);
  }

  /** Starts serving `target`; for ptcp, resolves to the bound port (useful with port 0). */
  async start(target: ControllerTarget | string): Promise<number> {
    const t = typeof target === 'string' ? parseControllerTarget(target) : target;
    if (t.mode === 'ptcp') return this.listen(t.port, t.host);
    this.connect(t.host, t.port);
    return t.port;
  }

  /** Listens for controllers on host:port (passive TCP); resolves to the bound port. */
  listen(port: number, host = '127.0.0.1'): Promise<number> {
    const server = createServer((s) => this.attach(s));
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', (e) => reject(new StrataError('IO', `OpenFlow listen on ${host}:${port}: ${e.message}`)));
      server.listen(port, host, () => {
        const a = server.address();
        resolve(typeof a === 'object' && a ? a.port : port);
      });
    });
  }

  /** Connects to a controller at host:port, reconnecting with backoff (1 s doubling to 8 s) while open. */
  connect(host: string, port: number): void {
    this.activeTargets++;
    this.updateDatapath();
    let delay = 1000;
    const attempt = () => {
      if (this.closed) return;
      const s = createConnection({ host, port });
      s.once('connect', () => {
        delay = 1000;
      });
      s.once('close', () => {
        if (this.closed) return;
        const t = setTimeout(attempt, delay);
        t.unref();
        delay = Math.min(delay * 2, 8000);
      });
      s.on('error', () => {});
      this.attach(s, true);
    };
    attempt();
  }

  /** Closes every connection and listener; the switch returns to plain learning. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.unsub();
    for (const c of this.connections) c.close();
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.sw.setDatapath(null);
  }

  /** Serves one controller on an open stream; `active` for connections the agent made to a `tcp:` target. */
  attach(sock: Socket, active = false): ControllerConnection {
    return new ControllerConnection(this, sock, active);
  }
}

/** One controller connection. */
export class ControllerConnection {
  private buf = new Uint8Array(0);
  private negotiated = false;
  private role: number = ROLE.EQUAL;
  /** miss_send_len of SET_CONFIG (spec 7.3.2), per connection; OFPCML_DEFAULT 128 until set. */
  private missSendLen = 128;
  /** Async masks [equal/master, slave] for packet-in, port-status, flow-removed (spec 7.3.10 defaults). */
  private async = {
    packetIn: [0b11, 0],
    portStatus: [0b111, 0b111],
    flowRemoved: [0b1111, 0],
  };
  private mpPending: { xid: number; type: number; parts: Uint8Array[]; bytes: number } | undefined;

  private lastRx = performance.now();

  constructor(
    private readonly agent: OpenFlowAgent,
    private readonly sock: Socket,
    /** True for a connection the agent made to a `tcp:` controller. */
    readonly active = false,
  ) {
    sock.setNoDelay(true);
    sock.on('data', (chunk: Buffer) => {
      this.lastRx = performance.now();
      this.onData(chunk);
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => {
      agent.connections.delete(this);
      if (active) agent.activeChanged(this, false);
    });
    // Spec 6.3.1: each side sends HELLO at once, with a version bitmap element (7.5.1).
    this.write(
      message(OFPT.HELLO, 0, (w) => {
        w.u16(1)
          .u16(8)
          .u32(1 << OFP_VERSION);
      }),
    );
  }

  /** Closes the connection. */
  close(): void {
    this.sock.destroy();
  }

  /** @internal liveness check (spec 6.3.2 echo): probe an idle controller, drop a silent one. */
  probe(intervalMs: number): void {
    const idle = performance.now() - this.lastRx;
    if (idle > 3 * intervalMs) this.sock.destroy();
    else if (idle >= intervalMs) this.write(message(OFPT.ECHO_REQUEST, 0));
  }

  private write(b: Uint8Array): void {
    if (!this.sock.destroyed) this.sock.write(b);
  }

  private writeAsync(b: Uint8Array): void {
    if (this.sock.destroyed || this.sock.writableLength > this.agent.maxQueuedBytes) {
      this.agent.asyncDropped++;
      return;
    }
    this.sock.write(b);
  }

  private wants(kind: 'packetIn' | 'portStatus' | 'flowRemoved', reason: number): boolean {
    if (!this.negotiated) return false;
    const mask = this.async[kind][this.role === ROLE.SLAVE ? 1 : 0]!;
    return (mask & (1 << reason)) !== 0;
  }

  /** @internal PACKET_IN (spec 7.4.1); the switch buffers nothing, so the whole packet is sent. */
  sendPacketIn(p: {
    data: Uint8Array;
    inPort: number;
    reason: number;
    tableId: number;
    cookie: bigint;
    maxLen: number;
  }): void {
    if (!this.wants('packetIn', p.reason)) return;
    this.writeAsync(
      message(OFPT.PACKET_IN, 0, (w) => {
        w.u32(OFP_NO_BUFFER).u16(p.data.length).u8(p.reason).u8(p.tableId).u64(p.cookie);
        writeMatch(w, [{ field: OXM.IN_PORT, value: p.inPort }]);
        w.zeros(2);
        w.bytes(p.data);
      }),
    );
  }

  /** @internal FLOW_REMOVED (spec 7.4.2). */
  sendFlowRemoved(e: FlowEntry, reason: number): void {
    if (!this.wants('flowRemoved', reason)) return;
    const d = durationOf(e.installedMs);
    this.writeAsync(
      message(OFPT.FLOW_REMOVED, 0, (w) => {
        w.u64(e.cookie).u16(e.priority).u8(reason).u8(e.tableId).u32(d.sec).u32(d.nsec);
        w.u16(e.idleTimeout).u16(e.hardTimeout).u64(e.packetCount).u64(e.byteCount);
        writeMatch(w, e.match);
      }),
    );
  }

  /** @internal PORT_STATUS (spec 7.4.3). */
  sendPortStatus(e: PortEvent): void {
    const reason = e.reason === 'add' ? OFPPR.ADD : e.reason === 'delete' ? OFPPR.DELETE : OFPPR.MODIFY;
    if (!this.wants('portStatus', reason)) return;
    this.writeAsync(
      message(OFPT.PORT_STATUS, 0, (w) => {
        w.u8(reason).zeros(7);
        writePort(w, e.port);
      }),
    );
  }

  private onData(chunk: Uint8Array): void {
    let data: Uint8Array;
    if (this.buf.length === 0) data = chunk;
    else {
      data = new Uint8Array(this.buf.length + chunk.length);
      data.set(this.buf);
      data.set(chunk, this.buf.length);
    }
    let off = 0;
    while (data.length - off >= 8) {
      const len = (data[off + 2]! << 8) | data[off + 3]!;
      if (len < 8) {
        // The stream cannot be resynchronized: report and close (spec 7.4.4, OFPBRC_BAD_LEN).
        this.write(
          errorMessage(
            readHeader(data.subarray(off)).xid,
            OFPET.BAD_REQUEST,
            OFPBRC.BAD_LEN,
            data.subarray(off, off + 8),
          ),
        );
        this.sock.end();
        this.buf = new Uint8Array(0);
        return;
      }
      if (data.length - off < len) break;
      const msg = data.slice(off, off + len);
      off += len;
      this.handle(msg);
      if (this.sock.destroyed) return;
    }
    this.buf = off === data.length ? new Uint8Array(0) : data.slice(off);
  }

  private handle(msg: Uint8Array): void {
    const h = readHeader(msg);
    try {
      if (!this.negotiated) {
        if (h.type !== OFPT.HELLO) {
          // Spec 6.3.1: HELLO comes first; anything else before it fails the negotiation.
          this.write(errorMessage(h.xid, OFPET.HELLO_FAILED, OFPHFC.INCOMPATIBLE, msg));
          this.sock.end();
          return;
        }
        if (!this.helloCompatible(msg, h.version)) {
          this.write(errorMessage(h.xid, OFPET.HELLO_FAILED, OFPHFC.INCOMPATIBLE, msg));
          this.sock.end();
          return;
        }
        this.negotiated = true;
        this.agent.connections.add(this);
        if (this.active) this.agent.activeChanged(this, true);
        return;
      }
      if (h.version !== OFP_VERSION) throw new OfError(OFPET.BAD_REQUEST, OFPBRC.BAD_VERSION, `version ${h.version}`);
      this.dispatch(h.type, h.xid, msg);
    } catch (e) {
      if (e instanceof OfError) this.write(errorMessage(h.xid, e.type, e.code, msg));
      else this.write(errorMessage(h.xid, OFPET.BAD_REQUEST, OFPBRC.EPERM, msg)); // our bug: still no crash
    }
  }

  /** Version negotiation (spec 6.3.1, 7.5.1): the bitmap when present, else the header version. */
  private helloCompatible(msg: Uint8Array, version: number): boolean {
    const r = new Reader(msg, 8);
    while (r.left >= 4) {
      const type = r.u16();
      const len = r.u16();
      if (len < 4 || r.off - 4 + len > r.end) return version >= OFP_VERSION;
      if (type === 1) {
        const words = r.bytes(len - 4);
        const wi = Math.floor(OFP_VERSION / 32);
        if (words.length < (wi + 1) * 4) return false;
        const word =
          ((words[wi * 4]! << 24) | (words[wi * 4 + 1]! << 16) | (words[wi * 4 + 2]! << 8) | words[wi * 4 + 3]!) >>> 0;
        return (word & (1 << (OFP_VERSION % 32))) !== 0;
      }
      r.skip(Math.min(r.left, len - 4 + ((8 - (len % 8)) % 8)));
    }
    return version >= OFP_VERSION;
  }

  private requireWritable(): void {
    if (this.role === ROLE.SLAVE) throw new OfError(OFPET.BAD_REQUEST, OFPBRC.IS_SLAVE, 'controller is slave');
  }

  private dispatch(type: number, xid: number, msg: Uint8Array): void {
    const sw = this.agent.sw;
    const body = (n: number) => {
      if (msg.length !== 8 + n) badLen(`message type ${type} must be ${8 + n} bytes`);
      return new Reader(msg, 8);
    };
    switch (type) {
      case OFPT.HELLO:
      case OFPT.ERROR:
      case OFPT.ECHO_REPLY:
        return;
      case OFPT.ECHO_REQUEST:
        this.write(message(OFPT.ECHO_REPLY, xid, (w) => w.bytes(msg.subarray(8))));
        return;
      case OFPT.EXPERIMENTER:
        throw new OfError(OFPET.BAD_REQUEST, OFPBRC.BAD_EXPERIMENTER, 'no experimenter extensions');
      case OFPT.FEATURES_REQUEST:
        body(0);
        this.write(
          message(OFPT.FEATURES_REPLY, xid, (w) => {
            w.u64(BigInt(`0x${sw.datapathId}`))
              .u32(0)
              .u8(this.agent.pipeline.tables.length)
              .u8(0)
              .zeros(2);
            w.u32(1 | 2 | 4).u32(0); // FLOW_STATS | TABLE_STATS | PORT_STATS
          }),
        );
        return;
      case OFPT.GET_CONFIG_REQUEST:
        body(0);
        this.write(
          message(OFPT.GET_CONFIG_REPLY, xid, (w) =>
            w.u16(this.agent.pipeline.fragDrop ? OFPC.FRAG_DROP : OFPC.FRAG_NORMAL).u16(this.missSendLen),
          ),
        );
        return;
      case OFPT.SET_CONFIG: {
        const r = body(4);
        const flags = r.u16();
        const missSendLen = r.u16();
        // Spec 7.3.2: OFPC_FRAG_REASM needs the OFPC_IP_REASM capability, which FEATURES_REPLY does not advertise;
        // 3 is no defined fragment mode. Both are refused (OFPSCFC_BAD_FLAGS) rather than stored and not done.
        const frag = flags & OFPC.FRAG_MASK;
        if (frag !== OFPC.FRAG_NORMAL && frag !== OFPC.FRAG_DROP)
          throw new OfError(
            OFPET.SWITCH_CONFIG_FAILED,
            OFPSCFC.BAD_FLAGS,
            `fragment handling ${frag} is not supported`,
          );
        // The fragment mode is switch state, shared by every controller; a slave changes no switch state (spec
        // 6.3.5), so its flags are ignored. miss_send_len is what this connection receives: kept per connection.
        if (this.role !== ROLE.SLAVE) this.agent.pipeline.fragDrop = frag === OFPC.FRAG_DROP;
        this.missSendLen = missSendLen;
        return;
      }
      case OFPT.FLOW_MOD:
        this.requireWritable();
        this.agent.pipeline.flowMod(decodeFlowMod(msg));
        return;
      case OFPT.PACKET_OUT:
        this.requireWritable();
        this.packetOut(msg);
        return;
      case OFPT.PORT_MOD: {
        this.requireWritable();
        const r = body(32);
        const portNo = r.u32();
        r.skip(4);
        r.bytes(6);
        r.skip(2);
        const config = r.u32();
        const mask = r.u32();
        const p = sw.port(portNo);
        if (!p) throw new OfError(OFPET.PORT_MOD_FAILED, 0 /* OFPPMFC_BAD_PORT */, `port ${portNo}`);
        if (mask & 1) sw.setPortUp(portNo, (config & 1) === 0);
        return;
      }
      case OFPT.TABLE_MOD: {
        this.requireWritable();
        const r = body(8);
        const t = r.u8();
        if (t !== OFPTT_ALL && t >= this.agent.pipeline.tables.length)
          throw new OfError(OFPET.TABLE_MOD_FAILED, 0 /* OFPTMFC_BAD_TABLE */, `table ${t}`);
        return;
      }
      case OFPT.MULTIPART_REQUEST:
        this.multipart(xid, msg);
        return;
      case OFPT.BARRIER_REQUEST:
        body(0);
        // Messages are processed in order, each to completion: everything before is done (spec 6.2).
        this.write(message(OFPT.BARRIER_REPLY, xid));
        return;
      case OFPT.ROLE_REQUEST: {
        const r = body(16);
        const role = r.u32();
        const gen = r.u64();
        if (role > ROLE.SLAVE) throw new OfError(OFPET.ROLE_REQUEST_FAILED, 2 /* OFPRRFC_BAD_ROLE */, `role ${role}`);
        if (role === ROLE.MASTER) {
          for (const c of this.agent.connections) if (c !== this && c.role === ROLE.MASTER) c.role = ROLE.SLAVE;
        }
        if (role !== ROLE.NOCHANGE) this.role = role;
        this.write(message(OFPT.ROLE_REPLY, xid, (w) => w.u32(this.role).zeros(4).u64(gen)));
        return;
      }
      case OFPT.GET_ASYNC_REQUEST:
        body(0);
        this.write(
          message(OFPT.GET_ASYNC_REPLY, xid, (w) => {
            for (const k of ['packetIn', 'portStatus', 'flowRemoved'] as const)
              w.u32(this.async[k][0]!).u32(this.async[k][1]!);
          }),
        );
        return;
      case OFPT.SET_ASYNC: {
        const r = body(24);
        for (const k of ['packetIn', 'portStatus', 'flowRemoved'] as const) this.async[k] = [r.u32(), r.u32()];
        return;
      }
      default:
        // GROUP_MOD, METER_MOD, QUEUE_GET_CONFIG and the switch-to-controller types are not served.
        throw new OfError(OFPET.BAD_REQUEST, OFPBRC.BAD_TYPE, `message type ${type} not supported`);
    }
  }

  /** PACKET_OUT (spec 7.3.7). */
  private packetOut(msg: Uint8Array): void {
    const r = new Reader(msg, 8);
    const bufferId = r.u32();
    const inPort = r.u32();
    const actionsLen = r.u16();
    r.skip(6);
    const actions = readActions(r, actionsLen);
    const data = msg.slice(r.off);
    if (bufferId !== OFP_NO_BUFFER) throw new OfError(OFPET.BAD_REQUEST, OFPBRC.BUFFER_UNKNOWN, `buffer ${bufferId}`);
    if (inPort !== OFPP.CONTROLLER && inPort !== OFPP.LOCAL && (inPort === 0 || inPort > OFPP.MAX))
      throw new OfError(OFPET.BAD_REQUEST, OFPBRC.BAD_PORT, `in_port ${inPort}`);
    if (data.length < 14)
      throw new OfError(OFPET.BAD_REQUEST, OFPBRC.BAD_PACKET, 'packet shorter than an Ethernet header');
    this.agent.pipeline.packetOut(data, inPort, actions);
  }

  /** MULTIPART_REQUEST (spec 7.3.5), reassembling REQ_MORE sequences (bounded to 1 MiB). */
  private multipart(xid: number, msg: Uint8Array): void {
    const r = new Reader(msg, 8);
    const type = r.u16();
    const flags = r.u16();
    r.skip(4);
    let bodyBytes = msg.subarray(16);
    if (flags & MORE || (this.mpPending && this.mpPending.xid === xid)) {
      const p = this.mpPending && this.mpPending.xid === xid ? this.mpPending : { xid, type, parts: [], bytes: 0 };
      p.parts.push(bodyBytes.slice());
      p.bytes += bodyBytes.length;
      this.mpPending = p;
      if (p.bytes > 1 << 20) {
        this.mpPending = undefined;
        throw new OfError(OFPET.BAD_REQUEST, OFPBRC.MULTIPART_BUFFER_OVERFLOW, 'multipart request too large');
      }
      if (flags & MORE) return;
      this.mpPending = undefined;
      const all = new Uint8Array(p.bytes);
      let o = 0;
      for (const part of p.parts) {
        all.set(part, o);
        o += part.length;
      }
      bodyBytes = all;
    }
    const b = new Reader(bodyBytes);
    const items = this.multipartBody(type, b, bodyBytes.length);
    this.sendMultipart(xid, type, items);
  }

  private sendMultipart(xid: number, type: number, items: Uint8Array[]): void {
    const chunks: Uint8Array[][] = [[]];
    let size = 0;
    for (const it of items) {
      if (size + it.length > MP_CHUNK && chunks[chunks.length - 1]!.length > 0) {
        chunks.push([]);
        size = 0;
      }
      chunks[chunks.length - 1]!.push(it);
      size += it.length;
    }
    chunks.forEach((c, i) => {
      this.write(
        message(OFPT.MULTIPART_REPLY, xid, (w) => {
          w.u16(type)
            .u16(i < chunks.length - 1 ? MORE : 0)
            .zeros(4);
          for (const it of c) w.bytes(it);
        }),
      );
    });
  }

  private multipartBody(type: number, r: Reader, len: number): Uint8Array[] {
    const sw = this.agent.sw;
    const pipeline = this.agent.pipeline;
    const item = (f: (w: Writer) => void) => {
      const w = new Writer();
      f(w);
      return w.finish();
    };
    const empty = () => {
      if (len !== 0) badLen(`multipart ${type} request has a body`);
    };
    switch (type) {
      case OFPMP.DESC:
        empty();
        return [
          item((w) => {
            w.str('Strata', 256)
              .str('Strata virtual switch', 256)
              .str(this.agent.softwareVersion, 256)
              .str('None', 32)
              .str(sw.name, 256);
          }),
        ];
      case OFPMP.FLOW:
      case OFPMP.AGGREGATE: {
        const q = readFlowStatsRequest(r);
        const sel = allEntries(pipeline, q.tableId).filter(
          (e) => covers(q.match, e.match) && cookieOk(e, q.cookie, q.cookieMask) && outputsTo(e, q.outPort),
        );
        if (q.tableId !== OFPTT_ALL && q.tableId >= pipeline.tables.length)
          throw new OfError(OFPET.BAD_REQUEST, OFPBRC.BAD_TABLE_ID, `table ${q.tableId}`);
        if (type === OFPMP.AGGREGATE) {
          let pk = 0;
          let by = 0;
          for (const e of sel) {
            pk += e.packetCount;
            by += e.byteCount;
          }
          return [item((w) => w.u64(pk).u64(by).u32(sel.length).zeros(4))];
        }
        return sel.map((e) =>
          item((w) => {
            const d = durationOf(e.installedMs);
            w.u16(0).u8(e.tableId).u8(0).u32(d.sec).u32(d.nsec).u16(e.priority).u16(e.idleTimeout).u16(e.hardTimeout);
            w.u16(e.flags).zeros(4).u64(e.cookie).u64(e.packetCount).u64(e.byteCount);
            writeMatch(w, e.match);
            writeInstructions(w, e.instructions);
            w.patch16(0, w.len);
          }),
        );
      }
      case OFPMP.TABLE:
        empty();
        return pipeline.tables.map((t) =>
          item((w) => w.u8(t.id).zeros(3).u32(t.entries.length).u64(t.lookupCount).u64(t.matchedCount)),
        );
      case OFPMP.PORT_STATS: {
        if (len !== 8) badLen('port stats request');
        const portNo = r.u32();
        const ports = portNo === OFPP.ANY ? sw.ports() : [sw.port(portNo)];
        if (ports[0] === undefined && portNo !== OFPP.ANY)
          throw new OfError(OFPET.BAD_REQUEST, OFPBRC.BAD_PORT, `port ${portNo}`);
        return ports.map((p) =>
          item((w) => {
            const c = p!.counters;
            const d = durationOf(p!.createdMs);
            w.u32(p!.no).zeros(4);
            w.u64(c.rxPackets).u64(c.txPackets).u64(c.rxBytes).u64(c.txBytes).u64(c.rxDropped).u64(c.txDropped);
            w.u64(c.rxErrors).u64(c.txErrors).u64(0).u64(c.rxOversize).u64(0).u64(0);
            w.u32(d.sec).u32(d.nsec);
          }),
        );
      }
      case OFPMP.PORT_DESC:
        empty();
        return sw.ports().map((p) => item((w) => writePort(w, p)));
      case OFPMP.TABLE_FEATURES:
        if (len !== 0)
          throw new OfError(OFPET.TABLE_FEATURES_FAILED, 5 /* OFPTFFC_EPERM */, 'table features are not configurable');
        return pipeline.tables.map((t) =>
          item((w) => writeTableFeatures(w, t.id, pipeline.tables.length, t.maxEntries)),
        );
      default:
        throw new OfError(OFPET.BAD_REQUEST, OFPBRC.BAD_MULTIPART, `multipart type ${type} not supported`);
    }
  }
}

function durationOf(sinceMs: number): { sec: number; nsec: number } {
  const ms = Math.max(0, performance.now() - sinceMs);
  const sec = Math.floor(ms / 1000);
  return { sec, nsec: Math.floor((ms - sec * 1000) * 1e6) };
}

/** Decodes an OFPT_FLOW_MOD (spec 7.3.4.1). */
export function decodeFlowMod(msg: Uint8Array): FlowMod {
  const r = new Reader(msg, 8);
  const cookie = r.u64();
  const cookieMask = r.u64();
  const tableId = r.u8();
  const command = r.u8();
  const idleTimeout = r.u16();
  const hardTimeout = r.u16();
  const priority = r.u16();
  const bufferId = r.u32();
  const outPort = r.u32();
  const outGroup = r.u32();
  const flags = r.u16();
  r.skip(2);
  if (flags & ~0x1f)
    throw new OfError(OFPET.FLOW_MOD_FAILED, 7 /* OFPFMFC_BAD_FLAGS */, `flags 0x${flags.toString(16)}`);
  const match = readMatch(r);
  const instructions = readInstructions(r);
  return {
    cookie,
    cookieMask: command === 0 ? 0n : cookieMask,
    tableId,
    command,
    idleTimeout,
    hardTimeout,
    priority,
    bufferId,
    outPort,
    outGroup,
    flags,
    match,
    instructions,
  };
}

function readFlowStatsRequest(r: Reader): {
  tableId: number;
  outPort: number;
  outGroup: number;
  cookie: bigint;
  cookieMask: bigint;
  match: Match;
} {
  const tableId = r.u8();
  r.skip(3);
  const outPort = r.u32();
  const outGroup = r.u32();
  r.skip(4);
  const cookie = r.u64();
  const cookieMask = r.u64();
  const match = readMatch(r);
  return { tableId, outPort, outGroup, cookie, cookieMask, match };
}

/** Writes an ofp_port (spec 7.2.1): a 10 Gb/s full-duplex copper port, live when up. */
export function writePort(w: Writer, p: SwitchPort): void {
  w.u32(p.no).zeros(4).uint(p.mac, 6).zeros(2).str(p.name, 16);
  w.u32(p.up ? 0 : 1); // config: OFPPC_PORT_DOWN
  w.u32(p.up ? 4 : 1); // state: OFPPS_LIVE or OFPPS_LINK_DOWN
  const feat = (1 << 6) | (1 << 11); // OFPPF_10GB_FD | OFPPF_COPPER
  w.u32(feat).u32(feat).u32(feat).u32(0);
  w.u32(10_000_000).u32(10_000_000); // kb/s
}

const SUPPORTED_ACTIONS = [OFPAT.OUTPUT, OFPAT.PUSH_VLAN, OFPAT.POP_VLAN, OFPAT.DEC_NW_TTL, OFPAT.SET_FIELD];
const SUPPORTED_INSTRUCTIONS = [OFPIT.GOTO_TABLE, OFPIT.WRITE_ACTIONS, OFPIT.APPLY_ACTIONS, OFPIT.CLEAR_ACTIONS];

/** Writes one ofp_table_features (spec 7.3.5.5.1) with the properties of what this pipeline supports. */
function writeTableFeatures(w: Writer, id: number, n: number, maxEntries: number): void {
  w.u16(0).u8(id).zeros(5).str(`table${id}`, 32).u64(0).u64(0).u32(3 /* OFPTC_DEPRECATED_MASK */).u32(maxEntries);
  const prop = (type: number, f: (w: Writer) => void) => {
    const start = w.len;
    w.u16(type).u16(0);
    f(w);
    w.patch16(start + 2, w.len - start);
    w.pad8();
  };
  const fields = [...OXM_INFO.keys()];
  for (const t of [0, 1])
    prop(t, (x) => {
      for (const i of SUPPORTED_INSTRUCTIONS) x.u16(i).u16(4);
    });
  const next = Array.from({ length: n - id - 1 }, (_, i) => id + 1 + i);
  for (const t of [2, 3])
    prop(t, (x) => {
      for (const i of next) x.u8(i);
    });
  for (const t of [4, 5, 6, 7])
    prop(t, (x) => {
      for (const a of SUPPORTED_ACTIONS) x.u16(a).u16(4);
    });
  const oxmHeader = (x: Writer, f: number, masked: boolean) => {
    const info = OXM_INFO.get(f)!;
    x.u16(0x8000)
      .u8((f << 1) | (masked ? 1 : 0))
      .u8(info.bytes * (masked ? 2 : 1));
  };
  prop(8, (x) => {
    for (const f of fields) oxmHeader(x, f, OXM_INFO.get(f)!.maskable);
  });
  prop(10, (x) => {
    for (const f of fields) oxmHeader(x, f, false);
  });
  const settable = fields.filter((f) => f !== OXM.IN_PORT);
  for (const t of [12, 13, 14, 15])
    prop(t, (x) => {
      for (const f of settable) oxmHeader(x, f, false);
    });
  w.patch16(0, w.len);
}

/** For tests: an output action. */
export function outputAction(port: number, maxLen = 0xffff): Action {
  return { type: 'output', port, maxLen };
}

/** For tests and tools: OFPG_ANY re-exported. */
export const GROUP_ANY = OFPG_ANY;
