/**
 * The virtual router: one interface on each of several networks (a port on each network's switch), ARP, IPv4
 * forwarding between the attached subnets, ICMP echo for its own addresses, a DHCP server and a DNS forwarder per
 * interface, and NAT from guests to the host in the manner of QEMU's user networking: TCP and UDP that a guest
 * sends to its router's address are relayed to the same port on the host's loopback (the router address is the
 * guest's name for "the host", like 10.0.2.2 under QEMU). Only the DHCP (67) and DNS (53) ports are the router's
 * own.
 *
 * Input checks: frames whose IPv4 header is malformed or whose checksum is wrong, sources outside the
 * interface's subnet, and fragments addressed to the router are counted and dropped.
 */

import { StrataError } from '../../../base/errors.js';
import {
  BROADCAST_MAC,
  buildEthernet,
  ETH_TYPE_ARP,
  ETH_TYPE_IPV4,
  isMulticastMac,
  localMac,
  type MacNum,
  parseEthernet,
} from '../ethernet.js';
import type { SwitchPort, VlanMode } from '../port.js';
import type { VirtualSwitch } from '../virtual-switch.js';
import { ArpCache, buildArp, parseArp } from './arp.js';
import { DhcpServer, parseDhcp } from './dhcp-server.js';
import { DnsForwarder, type DnsUpstream } from './dns-forwarder.js';
import { echoReply, ICMP, icmpError } from './icmp.js';
import {
  broadcastOf,
  buildIpv4,
  buildUdp,
  type Cidr,
  cidrToString,
  IPPROTO,
  inSubnet,
  ipToString,
  parseCidr,
  parseIp,
  parseIpv4,
  subnetsOverlap,
  transportChecksum,
} from './ipv4.js';
import { buildTcp, parseTcp, TCPF, TcpRelay } from './nat/tcp-relay.js';
import { UdpRelay } from './nat/udp-relay.js';

/** Options of one router interface. */
export interface RouterInterfaceOptions {
  /** Interface name (also the switch port name), e.g. the network's name. */
  name: string;
  /** The network's switch. */
  switch: VirtualSwitch;
  /** The router's address and the subnet, e.g. 10.0.2.1/24. */
  address: string;
  /** Interface MAC (default derived from the address). */
  mac?: MacNum;
  /** VLAN mode of the router's switch port (default access VLAN 1). */
  vlan?: VlanMode;
  /** DHCP pool (default: the upper part of the subnet, .100 to the last host, on prefixes up to /24); false for none. */
  dhcp?: { start: string; end: string; leaseSeconds?: number; domain?: string } | false;
  /** Forward DNS queries sent to the router's address (default true when the router has an upstream). */
  dns?: boolean;
  /** Relay guest TCP/UDP sent to the router's address to the host (default true). */
  nat?: boolean;
}

/** Options of a VirtualRouter. */
export interface RouterOptions {
  /** Resolver DNS queries are forwarded to. */
  dnsUpstream?: DnsUpstream;
  /** Host address NAT connects to (default 127.0.0.1). */
  natHostAddress?: string;
  /** TCP retransmission timeout for NAT connections, ms (default 1000). */
  tcpRtoMs?: number;
}

/** Counters of the router. */
export interface RouterStats {
  /** Frames received on all interfaces. */
  rxFrames: number;
  /** Malformed frames: bad IPv4 header or checksum, bad ARP, bad UDP/TCP checksum. */
  malformed: number;
  /** Packets whose source address is not on the interface's subnet. */
  spoofed: number;
  /** Packets forwarded between subnets. */
  forwarded: number;
  /** Packets with no route (destination on no attached subnet). */
  noRoute: number;
  /** Fragments addressed to the router (not reassembled). */
  fragments: number;
  /** Frames sent. */
  txFrames: number;
}

/** One interface of the router. */
export class RouterInterface {
  /** The router's address and subnet here. */
  readonly cidr: Cidr;
  readonly mac: MacNum;
  /** The router's port on the network's switch. */
  readonly port: SwitchPort;
  readonly arp = new ArpCache();
  /** The DHCP server of this subnet, when enabled. */
  readonly dhcp: DhcpServer | undefined;
  readonly dns: boolean;
  readonly nat: boolean;

  constructor(
    readonly router: VirtualRouter,
    readonly name: string,
    readonly sw: VirtualSwitch,
    opts: RouterInterfaceOptions,
    cidr: Cidr,
  ) {
    this.cidr = cidr;
    this.mac = opts.mac ?? localMac(0x5200000000 + cidr.ip);
    this.dns = opts.dns ?? router.hasDns;
    this.nat = opts.nat ?? true;
    if (opts.dhcp !== false) {
      const net = broadcastOf(cidr);
      let start: number;
      let end: number;
      if (opts.dhcp) {
        const s = parseIp(opts.dhcp.start);
        const e = parseIp(opts.dhcp.end);
        if (s === undefined || e === undefined)
          throw new StrataError('INVALID_ARGUMENT', `bad DHCP range ${opts.dhcp.start}-${opts.dhcp.end}`);
        start = s;
        end = e;
      } else {
        // Default pool: the upper half of the subnet, or .100 onwards on a subnet of more than 200 hosts.
        const first = (cidr.ip & ~((1 << (32 - cidr.prefix)) - 1)) >>> 0;
        const hosts = net - 1 - first;
        start = first + (hosts > 200 ? 100 : Math.ceil(hosts / 2) + 1);
        end = net - 1;
      }
      if (!inSubnet(start, cidr) || !inSubnet(end, cidr) || start > end)
        throw new StrataError(
          'INVALID_ARGUMENT',
          `DHCP range ${ipToString(start)}-${ipToString(end)} is outside ${cidrToString(cidr)}`,
        );
      const dhcpOpts = opts.dhcp || undefined;
      this.dhcp = new DhcpServer({
        subnet: cidr,
        rangeStart: start,
        rangeEnd: end,
        leaseSeconds: dhcpOpts?.leaseSeconds,
        domain: dhcpOpts?.domain,
        dns: this.dns ? [cidr.ip] : [],
      });
    }
    this.port = sw.addPort({
      name: opts.name,
      vlan: opts.vlan,
      mac: this.mac,
      sink: (f) => {
        router.receive(this, f);
        return true;
      },
    });
  }

  /** Sends a frame into the network. */
  transmit(frame: Uint8Array): void {
    this.router.stats.txFrames++;
    this.port.receive(frame);
  }

  /** Sends an IPv4 packet to `dstMac`, or resolving `nextHop` with ARP. */
  sendIp(packet: Uint8Array, nextHop: number, dstMac?: MacNum): void {
    if (dstMac !== undefined) {
      this.transmit(buildEthernet(dstMac, this.mac, ETH_TYPE_IPV4, packet));
      return;
    }
    if (nextHop === 0xffffffff || nextHop === broadcastOf(this.cidr)) {
      this.transmit(buildEthernet(BROADCAST_MAC, this.mac, ETH_TYPE_IPV4, packet));
      return;
    }
    const ask = this.arp.resolve(nextHop, (mac) => this.transmit(buildEthernet(mac, this.mac, ETH_TYPE_IPV4, packet)));
    if (ask) this.transmit(buildArp(1, this.mac, this.cidr.ip, 0, nextHop));
  }
}

/** How the NAT relays reach a guest. */
interface GuestRef {
  iface: RouterInterface;
  mac: MacNum;
}

/** A router between virtual networks, with DHCP, DNS forwarding and NAT to the host. */
export class VirtualRouter {
  readonly interfaces: RouterInterface[] = [];
  readonly stats: RouterStats = {
    rxFrames: 0,
    malformed: 0,
    spoofed: 0,
    forwarded: 0,
    noRoute: 0,
    fragments: 0,
    txFrames: 0,
  };
  /** @internal */
  readonly hasDns: boolean;
  private readonly dnsFwd: DnsForwarder<{ ref: GuestRef; ip: number; port: number }> | undefined;
  /** The TCP NAT relay. */
  readonly tcp: TcpRelay<GuestRef>;
  /** The UDP NAT relay. */
  readonly udp: UdpRelay<GuestRef>;

  constructor(readonly opts: RouterOptions = {}) {
    this.hasDns = opts.dnsUpstream !== undefined;
    if (opts.dnsUpstream) {
      this.dnsFwd = new DnsForwarder(opts.dnsUpstream, (to, payload) => {
        const ip = to.ref.iface.cidr.ip;
        to.ref.iface.sendIp(
          buildIpv4(ip, to.ip, IPPROTO.UDP, buildUdp(ip, 53, to.ip, to.port, payload)),
          to.ip,
          to.ref.mac,
        );
      });
    }
    this.tcp = new TcpRelay<GuestRef>(
      (g, flow, seg) => g.iface.sendIp(buildIpv4(flow.dstIp, flow.guestIp, IPPROTO.TCP, seg), flow.guestIp, g.mac),
      { hostAddress: opts.natHostAddress, rtoMs: opts.tcpRtoMs },
    );
    this.udp = new UdpRelay<GuestRef>(
      (g, key, fromPort, data) =>
        g.iface.sendIp(
          buildIpv4(
            key.dstIp,
            key.guestIp,
            IPPROTO.UDP,
            buildUdp(key.dstIp, fromPort, key.guestIp, key.guestPort, data),
          ),
          key.guestIp,
          g.mac,
        ),
      { hostAddress: opts.natHostAddress },
    );
  }

  /** Adds an interface on a network; a subnet overlapping another interface's is a CONFLICT error. */
  addInterface(opts: RouterInterfaceOptions): RouterInterface {
    const cidr = parseCidr(opts.address);
    for (const i of this.interfaces) {
      if (subnetsOverlap(i.cidr, cidr))
        throw new StrataError(
          'CONFLICT',
          `subnet ${opts.address} overlaps ${cidrToString(i.cidr)} of interface ${i.name}`,
        );
    }
    const iface = new RouterInterface(this, opts.name, opts.switch, opts, cidr);
    this.interfaces.push(iface);
    return iface;
  }

  /** Stops the relays and the forwarder and leaves the switches. */
  close(): void {
    this.tcp.close();
    this.udp.close();
    this.dnsFwd?.close();
    for (const i of this.interfaces) i.sw.removePort(i.port.no);
  }

  /** A frame from a network for the interface `iface`. */
  receive(iface: RouterInterface, frame: Uint8Array): void {
    this.stats.rxFrames++;
    const eth = parseEthernet(frame);
    if (!eth || eth.vlan) return;
    if (eth.dst !== iface.mac && !isMulticastMac(eth.dst)) return; // not for us (flooded unicast)
    const off = eth.payloadOffset;
    if (eth.etherType === ETH_TYPE_ARP) this.onArp(iface, frame, off);
    else if (eth.etherType === ETH_TYPE_IPV4) this.onIpv4(iface, eth.src, frame, off, eth.dst === BROADCAST_MAC);
  }

  private onArp(iface: RouterInterface, frame: Uint8Array, off: number): void {
    const a = parseArp(frame, off);
    if (!a) {
      this.stats.malformed++;
      return;
    }
    // RFC 826 "packet reception": merge the sender if known, add it if we are the target.
    const forUs = a.tpa === iface.cidr.ip;
    if (inSubnet(a.spa, iface.cidr) && a.spa !== iface.cidr.ip && (forUs || iface.arp.has(a.spa)))
      iface.arp.learn(a.spa, a.sha);
    if (forUs && a.op === 1) iface.transmit(buildArp(2, iface.mac, iface.cidr.ip, a.sha, a.spa));
  }

  private onIpv4(iface: RouterInterface, srcMac: MacNum, frame: Uint8Array, off: number, l2Broadcast: boolean): void {
    const h = parseIpv4(frame, off);
    if (!h) {
      this.stats.malformed++;
      return;
    }
    const packet = frame.subarray(off, off + h.totalLength);
    const payload = packet.subarray(h.ihl);
    const dhcpClient = h.src === 0 && h.proto === IPPROTO.UDP;
    if (!dhcpClient && !inSubnet(h.src, iface.cidr)) {
      this.stats.spoofed++;
      return;
    }
    const local =
      this.interfaces.some((i) => i.cidr.ip === h.dst) || h.dst === 0xffffffff || h.dst === broadcastOf(iface.cidr);
    if (local) {
      if (h.fragOffset !== 0 || h.flags & 1) {
        this.stats.fragments++;
        return;
      }
      this.onLocal(iface, srcMac, h.src, h.dst, h.proto, payload, l2Broadcast);
      return;
    }
    const out = this.interfaces.find((i) => inSubnet(h.dst, i.cidr));
    if (!out || out === iface) {
      this.stats.noRoute++;
      if (!out) this.icmpTo(iface, srcMac, h.src, icmpError(ICMP.UNREACHABLE, 0, packet));
      return;
    }
    if (h.ttl <= 1) {
      this.icmpTo(iface, srcMac, h.src, icmpError(ICMP.TIME_EXCEEDED, 0, packet));
      return;
    }
    // Forward: decrement the TTL and patch the checksum (RFC 1624), then resolve the next hop on `out`.
    const fwd = packet.slice();
    fwd[8] = h.ttl - 1;
    let sum = ((fwd[10]! << 8) | fwd[11]!) + 0x0100;
    sum = (sum & 0xffff) + (sum >>> 16);
    fwd[10] = sum >> 8;
    fwd[11] = sum & 255;
    this.stats.forwarded++;
    out.sendIp(fwd, h.dst);
  }

  private icmpTo(iface: RouterInterface, mac: MacNum, dst: number, msg: Uint8Array): void {
    iface.sendIp(buildIpv4(iface.cidr.ip, dst, IPPROTO.ICMP, msg), dst, mac);
  }

  private onLocal(
    iface: RouterInterface,
    srcMac: MacNum,
    src: number,
    dst: number,
    proto: number,
    payload: Uint8Array,
    l2Broadcast: boolean,
  ): void {
    const unicastToUs = dst === iface.cidr.ip || this.interfaces.some((i) => i.cidr.ip === dst);
    if (proto === IPPROTO.ICMP) {
      if (!unicastToUs) return;
      const r = echoReply(payload);
      if (r) this.icmpTo(iface, srcMac, src, r);
      else if (payload[0] === ICMP.ECHO_REQUEST) this.stats.malformed++;
      return;
    }
    if (proto === IPPROTO.UDP) {
      if (payload.length < 8) {
        this.stats.malformed++;
        return;
      }
      const ulen = (payload[4]! << 8) | payload[5]!;
      if (ulen < 8 || ulen > payload.length) {
        this.stats.malformed++;
        return;
      }
      const seg = payload.subarray(0, ulen);
      const hasSum = seg[6] !== 0 || seg[7] !== 0;
      if (hasSum && transportChecksum(src, dst, IPPROTO.UDP, seg) !== 0) {
        this.stats.malformed++;
        return;
      }
      const sport = (seg[0]! << 8) | seg[1]!;
      const dport = (seg[2]! << 8) | seg[3]!;
      const data = seg.subarray(8);
      if (dport === 67) {
        this.onDhcp(iface, data);
        return;
      }
      if (!unicastToUs || l2Broadcast) return;
      if (dport === 53 && iface.dns && this.dnsFwd) {
        this.dnsFwd.query({ ref: { iface, mac: srcMac }, ip: src, port: sport }, data);
        return;
      }
      if (iface.nat && dst === iface.cidr.ip) {
        this.udp.send({ iface, mac: srcMac }, { guestIp: src, guestPort: sport, dstIp: dst, dstPort: dport }, data);
      }
      return;
    }
    if (proto === IPPROTO.TCP && unicastToUs) {
      const seg = parseTcp(src, dst, payload);
      if (!seg) {
        this.stats.malformed++;
        return;
      }
      if (iface.nat && dst === iface.cidr.ip) {
        this.tcp.input({ iface, mac: srcMac }, src, dst, seg);
        return;
      }
      if (!(seg.flags & TCPF.RST)) {
        const len = seg.data.length + (seg.flags & TCPF.SYN ? 1 : 0) + (seg.flags & TCPF.FIN ? 1 : 0);
        const rst = buildTcp(
          dst,
          seg.dport,
          src,
          seg.sport,
          seg.flags & TCPF.ACK ? seg.ack : 0,
          (seg.seq + len) >>> 0,
          TCPF.RST | TCPF.ACK,
          0,
        );
        iface.sendIp(buildIpv4(dst, src, IPPROTO.TCP, rst), src, srcMac);
      }
    }
  }

  private onDhcp(iface: RouterInterface, data: Uint8Array): void {
    if (!iface.dhcp) return;
    const msg = parseDhcp(data);
    if (!msg) {
      this.stats.malformed++;
      return;
    }
    const reply = iface.dhcp.handle(msg);
    if (!reply) return;
    const ip = iface.cidr.ip;
    iface.sendIp(
      buildIpv4(ip, reply.dstIp, IPPROTO.UDP, buildUdp(ip, 67, reply.dstIp, 68, reply.payload)),
      reply.dstIp,
      reply.dstMac,
    );
  }
}
