/**
 * A DNS forwarder: queries guests send to the router's address on UDP port 53 go to an upstream resolver on the
 * host, with the message ID rewritten so that answers from concurrent guests cannot be confused (RFC 1035 section
 * 4.1.1: the ID matches replies to queries), and the answers go back to the asking guest. Pending queries are
 * bounded and time out.
 */

import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';

/** Where to forward. */
export interface DnsUpstream {
  host: string;
  port: number;
}

/** The first nameserver of the host's /etc/resolv.conf (IPv4 only), or undefined. */
export function systemResolver(path = '/etc/resolv.conf'): DnsUpstream | undefined {
  try {
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      const m = /^\s*nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/.exec(line);
      if (m) return { host: m[1]!, port: 53 };
    }
  } catch {
    // no resolver configuration
  }
  return undefined;
}

/** Largest answer carried in one unfragmented UDP datagram on a 1500-byte MTU (1500 - 20 - 8). */
export const MAX_DNS_UDP = 1472;

/** Forwards DNS queries for guests identified by values of type T. */
export class DnsForwarder<T> {
  private readonly sock: Socket;
  private readonly pending = new Map<number, { to: T; id: number; expires: number }>();
  /** Queries dropped (too many pending, malformed). */
  dropped = 0;
  /** Queries that got no answer in time. */
  timedOut = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly upstream: DnsUpstream,
    private readonly answer: (to: T, payload: Uint8Array) => void,
    private readonly opts: { timeoutMs?: number; maxPending?: number } = {},
  ) {
    this.sock = createSocket('udp4');
    this.sock.on('message', (msg, rinfo) => {
      // Only the upstream resolver answers; a datagram from anywhere else is a spoofing attempt or noise.
      if (rinfo.address !== upstream.host || rinfo.port !== upstream.port) {
        this.dropped++;
        return;
      }
      this.onAnswer(new Uint8Array(msg));
    });
    // A send error (upstream unreachable) surfaces as a query timing out; the socket itself stays usable.
    this.sock.on('error', () => {});
    this.sock.bind(0, upstream.host.startsWith('127.') ? '127.0.0.1' : undefined);
    this.timer = setInterval(() => this.sweep(), 1000);
    this.timer.unref();
  }

  /** Forwards a query from `from`. */
  query(from: T, payload: Uint8Array): void {
    if (payload.length < 12 || (payload[2]! & 0x80) !== 0) {
      this.dropped++; // too short for a header, or a response
      return;
    }
    if (this.pending.size >= (this.opts.maxPending ?? 512)) {
      this.dropped++;
      return;
    }
    // Random upstream IDs (RFC 5452 §9.2): a sequential ID would let an off-path sender guess the next one.
    let id = randomInt(65536);
    while (this.pending.has(id)) id = randomInt(65536);
    this.pending.set(id, {
      to: from,
      id: (payload[0]! << 8) | payload[1]!,
      expires: Date.now() + (this.opts.timeoutMs ?? 5000),
    });
    const q = payload.slice();
    q[0] = id >> 8;
    q[1] = id & 255;
    this.sock.send(q, this.upstream.port, this.upstream.host);
  }

  /** Stops forwarding. */
  close(): void {
    clearInterval(this.timer);
    try {
      this.sock.close();
    } catch {
      // already closed
    }
  }

  private onAnswer(msg: Uint8Array): void {
    if (msg.length < 12) return;
    const id = (msg[0]! << 8) | msg[1]!;
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    let out = msg.slice();
    if (out.length > MAX_DNS_UDP) {
      // Too big for one datagram: send the header with TC set and no records (RFC 1035 4.2.1), so that the
      // resolver knows the answer was truncated.
      out = out.slice(0, 12);
      out[2] = out[2]! | 0x02;
      out.fill(0, 4, 12);
    }
    out[0] = p.id >> 8;
    out[1] = p.id & 255;
    this.answer(p.to, out);
  }

  private sweep(): void {
    const t = Date.now();
    for (const [id, p] of this.pending) {
      if (p.expires < t) {
        this.pending.delete(id);
        this.timedOut++;
      }
    }
  }
}
