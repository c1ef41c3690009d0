/**
 * UDP from guests to the host, as QEMU's user networking does it: each guest flow (guest address and port,
 * destination port) gets a host UDP socket that sends to the host's loopback at the destination port; datagrams
 * that come back to that socket go to the guest as if from the router's address and that port. Flows are
 * bounded in number and closed after a minute idle.
 */

import { createSocket, type Socket } from 'node:dgram';

/** A guest-side UDP flow. */
export interface UdpFlowKey {
  guestIp: number;
  guestPort: number;
  /** The address the guest sent to (the router's; replies come from it). */
  dstIp: number;
  dstPort: number;
}

/** Options of a UdpRelay. */
export interface UdpRelayOptions {
  /** Host address to relay to (default 127.0.0.1). */
  hostAddress?: string;
  /** Most flows at once (default 256). */
  maxFlows?: number;
  /** Idle time before a flow is closed, ms (default 60000). */
  idleMs?: number;
}

/** Relays guest UDP to host sockets. `T` carries whatever the router needs to reach the guest. */
export class UdpRelay<T> {
  private readonly flows = new Map<string, { sock: Socket; last: number; key: UdpFlowKey; guest: T }>();
  private readonly timer: NodeJS.Timeout;
  /** Datagrams dropped (flow limit). */
  dropped = 0;

  constructor(
    private readonly toGuest: (guest: T, key: UdpFlowKey, fromPort: number, data: Uint8Array) => void,
    private readonly opts: UdpRelayOptions = {},
  ) {
    this.timer = setInterval(() => this.sweep(), 5000);
    this.timer.unref();
  }

  /** Number of open flows. */
  get size(): number {
    return this.flows.size;
  }

  /** Sends a guest datagram to the host. */
  send(guest: T, key: UdpFlowKey, data: Uint8Array): void {
    const id = `${key.guestIp}:${key.guestPort}:${key.dstIp}:${key.dstPort}`;
    let f = this.flows.get(id);
    if (!f) {
      if (this.flows.size >= (this.opts.maxFlows ?? 256)) {
        this.dropped++;
        return;
      }
      const host = this.opts.hostAddress ?? '127.0.0.1';
      const sock = createSocket('udp4');
      // Bind to loopback when relaying to loopback, so that nothing outside this host can answer a guest.
      sock.bind(0, host.startsWith('127.') ? '127.0.0.1' : undefined);
      const flow = { sock, last: Date.now(), key, guest };
      sock.on('message', (msg, rinfo) => {
        if (rinfo.address !== host || rinfo.port !== key.dstPort) return; // only the service the guest addressed
        flow.last = Date.now();
        this.toGuest(flow.guest, flow.key, rinfo.port, new Uint8Array(msg));
      });
      sock.on('error', () => {
        this.flows.delete(id);
        sock.close();
      });
      this.flows.set(id, flow);
      f = flow;
    }
    f.last = Date.now();
    f.guest = guest;
    f.sock.send(data, key.dstPort, this.opts.hostAddress ?? '127.0.0.1');
  }

  /** Closes every flow. */
  close(): void {
    clearInterval(this.timer);
    for (const f of this.flows.values()) f.sock.close();
    this.flows.clear();
  }

  private sweep(): void {
    const t = Date.now();
    for (const [id, f] of this.flows) {
      if (t - f.last > (this.opts.idleMs ?? 60_000)) {
        f.sock.close();
        this.flows.delete(id);
      }
    }
  }
}
