import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { test } from 'node:test';
import { StrataError } from '../../../base/errors.js';
import { ETH_TYPE_ARP, ETH_TYPE_IPV4, parseEthernet } from '../ethernet.js';
import { SwitchPortBackend } from '../port-backend.js';
import { arpFrame, icmpEchoFrame, ip, TCP, tcpFrame, udpFrame } from '../test-frames.js';
import { VirtualSwitch } from '../virtual-switch.js';
import { parseArp } from './arp.js';
import { buildDhcp, DHCP, parseDhcp } from './dhcp-server.js';
import { IPPROTO, parseIpv4 } from './ipv4.js';
import { parseTcp } from './nat/tcp-relay.js';
import { VirtualRouter } from './router.js';

const G = 0x020000000a01; // guest MAC
const G2 = 0x020000000a02;
const ROUTER = ip('10.0.2.1');
const GUEST = ip('10.0.2.15');

/** A guest NIC on the switch that records what it receives. */
function guest(sw: VirtualSwitch, name: string, mac = G) {
  const be = new SwitchPortBackend(sw, { name, guestMac: mac });
  const rx: Uint8Array[] = [];
  be.setReceiver((f) => {
    rx.push(f);
    return true;
  });
  const waitFor = async <T>(pick: (f: Uint8Array) => T | undefined, ms = 3000): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      for (let i = 0; i < rx.length; i++) {
        const v = pick(rx[i]!);
        if (v !== undefined) {
          rx.splice(i, 1);
          return v;
        }
      }
      if (Date.now() > deadline) throw new Error('timed out waiting for a frame');
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return { be, rx, send: (f: Uint8Array) => be.send(f), waitFor };
}

function ipOf(f: Uint8Array) {
  const e = parseEthernet(f);
  if (!e || e.etherType !== ETH_TYPE_IPV4) return undefined;
  const h = parseIpv4(f, e.payloadOffset);
  if (!h) return undefined;
  return { eth: e, h, payload: f.subarray(e.payloadOffset + h.ihl, e.payloadOffset + h.totalLength) };
}

function udpOf(f: Uint8Array, dport: number) {
  const p = ipOf(f);
  if (!p || p.h.proto !== IPPROTO.UDP) return undefined;
  const v = new DataView(p.payload.buffer, p.payload.byteOffset);
  if (v.getUint16(2) !== dport) return undefined;
  return { ...p, sport: v.getUint16(0), data: p.payload.subarray(8) };
}

function setup(opts: ConstructorParameters<typeof VirtualRouter>[0] = {}) {
  const sw = new VirtualSwitch({ name: 'net0' });
  const router = new VirtualRouter({ tcpRtoMs: 100, ...opts });
  const iface = router.addInterface({ name: 'router', switch: sw, address: '10.0.2.1/24' });
  return { sw, router, iface };
}

test('ARP: the router answers for its address; ICMP echo to it is answered', async (t) => {
  const { sw, router, iface } = setup();
  t.after(() => router.close());
  const g = guest(sw, 'g');
  g.send(arpFrame(1, G, GUEST, 0, ROUTER));
  const reply = await g.waitFor((f) => {
    const e = parseEthernet(f);
    return e?.etherType === ETH_TYPE_ARP ? parseArp(f, 14) : undefined;
  });
  assert.equal(reply.op, 2);
  assert.equal(reply.sha, iface.mac);
  assert.equal(reply.spa, ROUTER);
  g.send(icmpEchoFrame(iface.mac, G, GUEST, ROUTER, 7, 1));
  const echo = await g.waitFor((f) => {
    const p = ipOf(f);
    return p?.h.proto === IPPROTO.ICMP ? p : undefined;
  });
  assert.equal(echo.payload[0], 0, 'echo reply');
  assert.equal(echo.h.dst, GUEST);
});

function dhcpFrame(type: number, xid: number, opts: Array<[number, number[]]>, ciaddr = 0, srcIp = 0, mac = G) {
  const payload = buildDhcp({
    op: 1,
    xid,
    secs: 0,
    flags: 0,
    ciaddr,
    yiaddr: 0,
    siaddr: 0,
    giaddr: 0,
    chaddr: mac,
    options: [[53, new Uint8Array([type])], ...opts.map(([c, v]) => [c, new Uint8Array(v)] as [number, Uint8Array])],
  });
  return udpFrame(0xffffffffffff, mac, srcIp, 68, 0xffffffff, 67, payload);
}

const bytes = (x: number) => [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255];

test('DHCP: DISCOVER/OFFER/REQUEST/ACK, renewal, NAK for a foreign address, release', async (t) => {
  const { sw, router, iface } = setup();
  t.after(() => router.close());
  const g = guest(sw, 'g');
  const dhcpReply = () => g.waitFor((f) => udpOf(f, 68)).then((u) => ({ ...u, msg: parseDhcp(u.data)! }));
  g.send(dhcpFrame(DHCP.DISCOVER, 1, [[55, [1, 3, 6, 51]]]));
  const offer = await dhcpReply();
  assert.equal(offer.msg.options.get(53)?.[0], DHCP.OFFER);
  const addr = offer.msg.yiaddr;
  assert.equal(addr, ip('10.0.2.100'), 'first address of the default pool');
  assert.deepEqual([...offer.msg.options.get(1)!], [255, 255, 255, 0]);
  assert.deepEqual([...offer.msg.options.get(3)!], bytes(ROUTER));
  assert.equal(offer.eth.dst, G, 'unicast to chaddr');
  g.send(
    dhcpFrame(DHCP.REQUEST, 2, [
      [50, bytes(addr)],
      [54, bytes(ROUTER)],
    ]),
  );
  const ack = await dhcpReply();
  assert.equal(ack.msg.options.get(53)?.[0], DHCP.ACK);
  assert.equal(ack.msg.yiaddr, addr);
  assert.equal(iface.dhcp!.list()[0]?.state, 'bound');
  // Renewal (RENEWING: ciaddr set, unicast)
  g.send(dhcpFrame(DHCP.REQUEST, 3, [], addr, addr));
  assert.equal((await dhcpReply()).msg.options.get(53)?.[0], DHCP.ACK);
  // Another client asking for this address in INIT-REBOOT gets a NAK.
  g.send(dhcpFrame(DHCP.REQUEST, 4, [[50, bytes(addr)]], 0, 0, G2));
  const nak = await dhcpReply();
  assert.equal(nak.msg.options.get(53)?.[0], DHCP.NAK);
  // A second client gets a different address.
  g.send(dhcpFrame(DHCP.DISCOVER, 5, [], 0, 0, G2));
  const offer2 = await g.waitFor((f) => udpOf(f, 68));
  assert.equal(parseDhcp(offer2.data)!.yiaddr, ip('10.0.2.101'));
  g.send(dhcpFrame(DHCP.RELEASE, 6, [[54, bytes(ROUTER)]], addr, addr));
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(!iface.dhcp!.list().some((l) => l.ip === addr && l.state === 'bound'), 'released');
});

test('DNS queries to the router are forwarded to the upstream resolver and answered', async (t) => {
  const upstream = createSocket('udp4');
  await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
  upstream.on('message', (q, rinfo) => {
    const a = Buffer.from(q);
    a[2] = a[2]! | 0x80; // QR: a response
    upstream.send(a, rinfo.port, rinfo.address);
  });
  t.after(() => upstream.close());
  const { sw, router, iface } = setup({ dnsUpstream: { host: '127.0.0.1', port: upstream.address().port } });
  t.after(() => router.close());
  const g = guest(sw, 'g');
  const query = new Uint8Array([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 0x66, 0x6f, 0x6f, 0, 0, 1, 0, 1]);
  g.send(udpFrame(iface.mac, G, GUEST, 5353, ROUTER, 53, query));
  const ans = await g.waitFor((f) => udpOf(f, 5353));
  assert.equal(ans.sport, 53);
  assert.equal(ans.data[0], 0x12, 'original ID restored');
  assert.equal(ans.data[1], 0x34);
  assert.equal(ans.data[2]! & 0x80, 0x80);
});

test('NAT: UDP from a guest to the router address reaches a host loopback socket and back', async (t) => {
  const host = createSocket('udp4');
  await new Promise<void>((r) => host.bind(0, '127.0.0.1', () => r()));
  host.on('message', (m, rinfo) => host.send(Buffer.concat([Buffer.from('echo:'), m]), rinfo.port, rinfo.address));
  t.after(() => host.close());
  const { sw, router, iface } = setup();
  t.after(() => router.close());
  const g = guest(sw, 'g');
  const port = host.address().port;
  g.send(udpFrame(iface.mac, G, GUEST, 40000, ROUTER, port, new TextEncoder().encode('hi')));
  const r = await g.waitFor((f) => udpOf(f, 40000));
  assert.equal(r.sport, port);
  assert.equal(r.h.src, ROUTER);
  assert.equal(new TextDecoder().decode(r.data), 'echo:hi');
});

/** A minimal TCP client for the fake guest: enough to drive the relay, with optional loss of received data. */
async function tcpClientRun(
  g: ReturnType<typeof guest>,
  routerMac: number,
  port: number,
  upload: Uint8Array,
  dropEvery = 0,
) {
  const sport = 41000 + Math.floor(Math.random() * 1000);
  let seq = 1000;
  const seg = (f: Uint8Array) => {
    const p = ipOf(f);
    if (!p || p.h.proto !== IPPROTO.TCP) return undefined;
    const s = parseTcp(p.h.src, p.h.dst, p.payload);
    return s && s.dport === sport ? s : undefined;
  };
  g.send(tcpFrame(routerMac, G, GUEST, sport, ROUTER, port, seq, 0, TCP.SYN, undefined, 65535, 1460));
  const synAck = await g.waitFor(seg);
  if (synAck.flags & TCP.RST) return { refused: true, data: new Uint8Array(0) };
  assert.equal(synAck.flags, TCP.SYN | TCP.ACK);
  assert.equal(synAck.ack, seq + 1);
  seq++;
  let rcv = (synAck.seq + 1) >>> 0;
  g.send(tcpFrame(routerMac, G, GUEST, sport, ROUTER, port, seq, rcv, TCP.ACK));
  // upload in 1000-byte segments, waiting for the ACK of each
  for (let off = 0; off < upload.length; off += 1000) {
    const chunk = upload.subarray(off, off + 1000);
    g.send(tcpFrame(routerMac, G, GUEST, sport, ROUTER, port, seq, rcv, TCP.ACK | TCP.PSH, chunk));
    seq += chunk.length;
  }
  g.send(tcpFrame(routerMac, G, GUEST, sport, ROUTER, port, seq, rcv, TCP.ACK | TCP.FIN));
  seq++;
  const got: Uint8Array[] = [];
  let n = 0;
  let finished = false;
  while (!finished) {
    const s = await g.waitFor(seg, 10000);
    if (s.flags & TCP.RST) throw new Error('reset');
    if (s.data.length > 0) {
      n++;
      if (dropEvery && n % dropEvery === 0) continue; // lose it: the relay must retransmit
      if (s.seq === rcv) {
        got.push(s.data.slice());
        rcv = (rcv + s.data.length) >>> 0;
      }
    }
    if (s.flags & TCP.FIN && s.seq + s.data.length === rcv) {
      rcv = (rcv + 1) >>> 0;
      finished = true;
    }
    g.send(tcpFrame(routerMac, G, GUEST, sport, ROUTER, port, seq, rcv, TCP.ACK));
  }
  const data = new Uint8Array(got.reduce((a, b) => a + b.length, 0));
  let o = 0;
  for (const c of got) {
    data.set(c, o);
    o += c.length;
  }
  return { refused: false, data };
}

async function hostServer(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: true }, handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as { port: number }).port };
}

test('NAT: a guest TCP connection to the router address reaches a host loopback server (both directions, FIN)', async (t) => {
  const { server, port } = await hostServer((s) => {
    const chunks: Buffer[] = [];
    s.on('data', (d) => chunks.push(d));
    s.on('end', () => {
      const all = Buffer.concat(chunks);
      s.end(Buffer.concat([Buffer.from(`got ${all.length} `), all.subarray(0, 10)]));
    });
  });
  t.after(() => server.close());
  const { sw, router, iface } = setup();
  t.after(() => router.close());
  const g = guest(sw, 'g');
  const upload = new Uint8Array(20_000).map((_, i) => 65 + (i % 26));
  const r = await tcpClientRun(g, iface.mac, port, upload);
  assert.equal(new TextDecoder().decode(r.data), 'got 20000 ABCDEFGHIJ');
  await new Promise((res) => setTimeout(res, 50));
  assert.equal(router.tcp.size, 0, 'connection state released');
});

test('NAT TCP: host data larger than the window arrives intact despite lost segments (retransmission)', async (t) => {
  const big = new Uint8Array(300_000).map((_, i) => (i * 7) & 255);
  const { server, port } = await hostServer((s) => {
    s.on('data', () => {});
    s.on('end', () => s.end(big));
  });
  t.after(() => server.close());
  const { sw, router, iface } = setup();
  t.after(() => router.close());
  const g = guest(sw, 'g');
  const r = await tcpClientRun(g, iface.mac, port, new Uint8Array(10), 7);
  assert.equal(r.data.length, big.length);
  assert.deepEqual(r.data, big);
});

test('NAT TCP: a refused host port resets the guest connection', async (t) => {
  const { port, server } = await hostServer(() => {});
  await new Promise((r) => server.close(r)); // nothing listens there now
  const { sw, router, iface } = setup();
  t.after(() => router.close());
  const g = guest(sw, 'g');
  const r = await tcpClientRun(g, iface.mac, port, new Uint8Array(0));
  assert.equal(r.refused, true);
});

test('forwards IPv4 between subnets (ARP for the next hop, TTL decremented)', async (t) => {
  const a = new VirtualSwitch({ name: 'a' });
  const b = new VirtualSwitch({ name: 'b' });
  const router = new VirtualRouter();
  t.after(() => router.close());
  const ia = router.addInterface({ name: 'r-a', switch: a, address: '10.1.0.1/24' });
  const ib = router.addInterface({ name: 'r-b', switch: b, address: '10.2.0.1/24' });
  const ga = guest(a, 'ga', G);
  const gb = guest(b, 'gb', G2);
  ga.send(udpFrame(ia.mac, G, ip('10.1.0.5'), 1234, ip('10.2.0.7'), 4321, new Uint8Array([1, 2, 3])));
  const req = await gb.waitFor((f) => (parseEthernet(f)?.etherType === ETH_TYPE_ARP ? parseArp(f, 14) : undefined));
  assert.equal(req.tpa, ip('10.2.0.7'));
  gb.send(arpFrame(2, G2, ip('10.2.0.7'), ib.mac, ip('10.1.0.1') /* ignored */, ib.mac));
  gb.send(arpFrame(2, G2, ip('10.2.0.7'), ib.mac, ip('10.2.0.1'), ib.mac));
  const fwd = await gb.waitFor((f) => udpOf(f, 4321));
  assert.equal(fwd.h.ttl, 63);
  assert.equal(fwd.h.src, ip('10.1.0.5'));
  assert.equal(fwd.eth.src, ib.mac);
  assert.deepEqual([...fwd.data], [1, 2, 3]);
  assert.equal(router.stats.forwarded, 1);
});

test('bad input: malformed IPv4 and spoofed sources are counted and dropped; overlapping subnets are refused', async (t) => {
  const { sw, router, iface } = setup();
  t.after(() => router.close());
  const g = guest(sw, 'g');
  const f = icmpEchoFrame(iface.mac, G, GUEST, ROUTER, 1, 1);
  f[24] = f[24]! ^ 0xff; // break the header checksum
  g.send(f);
  g.send(icmpEchoFrame(iface.mac, G, ip('192.168.9.9'), ROUTER, 1, 1));
  const trunc = icmpEchoFrame(iface.mac, G, GUEST, ROUTER, 1, 1).subarray(0, 30);
  g.send(trunc);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(router.stats.malformed, 2);
  assert.equal(router.stats.spoofed, 1);
  assert.equal(g.rx.length, 0);
  assert.throws(
    () => router.addInterface({ name: 'x', switch: new VirtualSwitch({ name: 'x' }), address: '10.0.0.1/16' }),
    (e: unknown) => e instanceof StrataError && e.code === 'CONFLICT' && /overlaps 10\.0\.2\.1\/24/.test(e.message),
  );
});
